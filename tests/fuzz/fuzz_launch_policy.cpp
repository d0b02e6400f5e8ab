// libFuzzer: launch-policy decoding (and the SL's structural walk, which must
// agree with the decoder on every payload the decoder accepts) (strict CBOR map, anchors as X.509 DER,
// profile, revocations, SVNs, CPUID/IO) and COSE verification with a fixed
// owner key. First byte odd -> launch_policy_verify on a COSE message, even ->
// launch_policy_decode on a bare payload.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "policy/fs/launch_policy.hpp"
#include "policy/fs/launch_policy_envelope.hpp"
#include "tests/fuzz/p256_generator.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using redoubt::fuzz::kP256G;

namespace {
LaunchPolicy g_policy;
LaunchPolicyEnvelope g_env;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  Refusal why;
  if ((data[0] & 1) == 0) {
    Status st = launch_policy_decode(in, g_policy, why);
    if (st.is_ok() != (why == Refusal::none)) __builtin_trap();
    // The SL's walk (what it measures into PCR18) must agree with the full decoder.
    Status walk = launch_policy_walk(in, g_env);
    if (st.is_ok()) {
      if (!walk.is_ok() || g_env.anchor_count != g_policy.anchor_count) __builtin_trap();
      for (size_t i = 0; i < g_env.anchor_count; ++i)
        if (g_env.anchors[i].data() != g_policy.anchors[i].der.data() || g_env.anchors[i].size() != g_policy.anchors[i].der.size())
          __builtin_trap();
    }
    if (st.is_ok() && (g_policy.anchor_count == 0 || g_policy.anchor_count > kMaxAnchors || g_policy.revocation_count > kMaxRevocations ||
                       g_policy.profile.max_intermediates >= kMaxChain))
      __builtin_trap();
    return 0;
  }
  PublicKey owner;
  owner.alg = CoseAlg::es256;
  std::memcpy(owner.sec1, kP256G, sizeof kP256G);
  owner.sec1_len = sizeof kP256G;
  if (launch_policy_verify(in, owner, g_policy, why)) __builtin_trap();  // nobody signs for key 1
  return 0;
}
