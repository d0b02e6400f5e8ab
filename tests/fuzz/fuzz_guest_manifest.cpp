// libFuzzer: the guest-manifest path of policy/fs (COSE_Sign1 + x5chain +
// X.509 DER + BearSSL chain validation + payload decoder) against a fixed,
// valid launch policy. The first byte selects the target: odd -> the whole
// verify_guest() path, even -> x509_parse + guest_manifest_decode alone.
// The policy is built at start-up from the seed PKI (fuzz_pki_seeds writes
// the same chain into the seeds, so mutations reach deep into the chain).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "policy/fs/guest_manifest.hpp"
#include "tests/fuzz/fuzz_pki_policy.hpp"

using namespace redoubt;
using namespace redoubt::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const LaunchPolicy& lp = fuzz_pki::policy();
  std::span<const uint8_t> in(data + 1, size - 1);
  Refusal why;
  if ((data[0] & 1) == 0) {
    X509Cert c;
    Status a = x509_parse(in, c, why);
    if (a.is_ok() != (why == Refusal::none)) __builtin_trap();
    GuestManifest m;
    if (guest_manifest_decode(in, m, why) && (m.name[sizeof m.name - 1] != 0 || m.cmdline.size() > kMaxCmdline)) __builtin_trap();
    return 0;
  }
  GuestManifest m;
  VerifiedChain chain;
  static const uint8_t kKernel[64] = {};
  Status st = verify_guest(lp, in, kKernel, {}, m, chain, why);
  if (st.is_ok() != (why == Refusal::none)) __builtin_trap();
  if (st.is_ok() && chain.count == 0) __builtin_trap();
  return 0;
}
