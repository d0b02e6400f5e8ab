// libFuzzer: cose_sign1_parse + cose_sign1_verify + hv_manifest_decode (policy/fs).
// The first byte selects the target: odd → the whole COSE path, even → the
// manifest payload decoder alone (so its checks are reached without a COSE shell).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "policy/fs/cose.hpp"
#include "policy/fs/hv_manifest.hpp"

using namespace redoubt;
using namespace redoubt::policy;

namespace {
// The P-256 base point: a valid public key, so verify runs the full ECDSA path.
constexpr uint8_t kP256G[65] = {
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d,
    0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb,
    0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  HvManifest m;
  if ((data[0] & 1) == 0) {
    if (hv_manifest_decode(in, m) && (m.name[sizeof m.name - 1] != 0 || m.version[sizeof m.version - 1] != 0)) __builtin_trap();
    return 0;
  }
  CoseSign1 msg;
  if (!cose_sign1_parse(in, msg)) return 0;
  PublicKey key;
  key.alg = CoseAlg::es256;
  std::memcpy(key.sec1, kP256G, sizeof kP256G);
  key.sec1_len = sizeof kP256G;
  if (cose_sign1_verify(msg, key)) __builtin_trap();  // nobody has the private key 1
  (void)hv_manifest_decode(msg.payload, m);
  return 0;
}
