// The fixed launch policy of fuzz_guest_manifest: anchors = the seed PKI's root
// (tests/fuzz/pki_seed_root.inc, written by fuzz_pki_seeds --root-inc), policy
// time 2026-01-01, the guest-signing EKU.
#pragma once
#include <cstdint>

#include "policy/fs/launch_policy.hpp"
#include "policy/host/cbor_write.hpp"

namespace fuzz_pki {

inline const redoubt::policy::LaunchPolicy& policy() {
  using namespace redoubt::policy;
#include "tests/fuzz/pki_seed_root.inc"  // static const uint8_t kSeedRoot[] = {...};
  static const uint8_t kEku[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x81, 0xfd, 0x59, 0xa1, 0x12, 0x01, 0x01};  // 1.3.6.1.4.1.32473.4242.1.1
  static std::vector<uint8_t> payload = [] {
    CborWriter w;
    w.map(6).uint(1).text(kLaunchPolicyType).uint(2).text("fuzz").uint(3).uint(1).uint(4).uint(1767225600);
    w.uint(5).array(1).bytes({kSeedRoot, sizeof kSeedRoot});
    w.uint(6).map(5).uint(1).bytes({kEku, sizeof kEku}).uint(2).uint(3).uint(3).uint(1).uint(4).uint(32).uint(5).uint(2048);
    return w.take();
  }();
  static LaunchPolicy lp;
  Refusal why;
  if (!launch_policy_decode(payload, lp, why)) __builtin_trap();
  return lp;
}

}  // namespace fuzz_pki
