// libFuzzer: cose_sign1_parse + cose_sign1_verify + hv_manifest_decode (policy/fs).
// The first byte selects the target: odd → the whole COSE path, even → the
// manifest payload decoder alone (so its checks are reached without a COSE shell).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "policy/fs/cose.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "tests/fuzz/p256_generator.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using redoubt::fuzz::kP256G;

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
