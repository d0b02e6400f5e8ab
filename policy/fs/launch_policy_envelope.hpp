// What the secure loader does with a launch policy (issue 4): check the platform
// owner's signature and find what it must measure: the payload (PCR17) and each
// guest trust anchor (PCR18). It does not decode the rest of the policy: the full
// decoder (policy/fs/launch_policy.hpp) needs the X.509 parser and a 9 KiB
// structure that do not fit the 64 KiB SLB; the hypervisor runs it, and refuses
// every guest (measured) if a signed policy does not decode. docs/trust-model.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"
#include "policy/fs/cose.hpp"

namespace redoubt::policy {

inline constexpr size_t kMaxPolicyAnchors = 8;  // = kMaxAnchors (x509_chain.hpp), asserted there

struct LaunchPolicyEnvelope {
  std::span<const uint8_t> payload;                    // the signed CBOR map
  std::span<const uint8_t> anchors[kMaxPolicyAnchors]; // payload key 5: DER certificates
  size_t anchor_count = 0;
};

// COSE_Sign1 parse, signature with `owner` (Err::bad_signature / wrong_key),
// then a structural walk of the payload: a map with ascending unsigned keys,
// key 1 = "redoubt.launch-policy/1", key 5 = 1..8 byte strings, no trailing bytes.
Status launch_policy_open(std::span<const uint8_t> cose, const PublicKey& owner, LaunchPolicyEnvelope& out);

// The structural walk alone, on a payload (after the signature check; fuzzed
// on its own, and any payload launch_policy_decode accepts must pass it with
// the same anchors).
Status launch_policy_walk(std::span<const uint8_t> payload, LaunchPolicyEnvelope& out);

}  // namespace redoubt::policy
