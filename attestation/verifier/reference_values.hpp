// Reference values: what a good Redoubt launch looks like, issued by a policy
// authority as a COSE_Sign1 (RFC 9052 §4.2, policy/host/cose_sign) whose
// payload is UTF-8 JSON (docs/attestation.md "Reference values"):
//   {"type": "redoubt.reference-values/1", "id": "corp-2024-06",
//    "hypervisor": {"signers": ["<key id hex>"], "sha256": ["<image digest hex>"], "min_svn": 2},
//    "slb": {"sha256": ["<SLB digest hex>"]},
//    "launch_policy": {"sha256": ["<payload digest hex>"], "required": true, "min_serial": 0},
//    "guests": {"anchors": ["<SHA-256 of the anchor DER>"], "signers": ["<SHA-256 of the leaf SPKI DER>"],
//               "allow_unsigned": true, "rules": {"<name>": {"min_svn": 1, "kernel_sha256": ["<hex>"]}}},
//    "drtm": {"allow_emulated": false}}
// "launch_policy", "guests" and "drtm" may be null or absent (not checked; for
// "drtm": an emulated DRTM is refused). Unknown members are kept (open schema);
// known ones are type-checked.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>

#include "attestation/common/encoding.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::attest {

inline constexpr char kReferenceValuesType[] = "redoubt.reference-values/1";

struct ReferenceValues {
  std::string id;
  std::set<std::string> hv_signers;  // key ids (lower-case hex SHA-256 of the SEC1 point)
  std::set<std::string> hv_sha256;   // allowed hypervisor image digests; empty = any the signers signed
  uint64_t min_svn = 0;
  std::set<std::string> slb_sha256;  // allowed SLB measurements; empty = not checked
  // PCR17 EV_REDOUBT_LAUNCH_POLICY: allowed payload digests (empty = any); required = an event must be there.
  std::set<std::string> launch_policy_sha256;
  bool launch_policy_required = false;
  uint64_t launch_policy_min_serial = 0;
  // Guests (PCR18 anchors, PCR19/20 guests).
  struct GuestRule {
    uint64_t min_svn = 0;
    std::set<std::string> kernel_sha256;  // empty = any kernel the signer signed
  };
  bool guests_given = false;                // a "guests" object is present
  std::set<std::string> guest_anchors;      // SHA-256 of each allowed anchor's DER; empty = not checked
  std::set<std::string> guest_signers;      // SHA-256 of the leaf's SubjectPublicKeyInfo DER (= the manifest kid); empty = not checked
  bool allow_unsigned_guests = true;        // EV_REDOUBT_GUEST_UNSIGNED: warning (true) or failure (false)
  std::map<std::string, GuestRule> guest_rules;  // by signed guest name; non-empty = only these names
  // "drtm": {"allow_emulated": true} accepts a launch whose log carries the emulated-DRTM marker
  // (a test harness measured the SLB, not SKINIT: drtm_origin.hpp); absent = false, the launch is
  // contraindicated (drtm_emulated). Test policies only: docs/attestation.md "Emulated DRTM (QEMU)".
  bool drtm_allow_emulated = false;
  nlohmann::json document;           // the whole payload, as signed
};

ReferenceValues parse_reference_values(const nlohmann::json& j);  // AttestError("bad_reference_values")
Bytes sign_reference_values(const nlohmann::json& payload, const policy::EvpKey& authority);
// Verifies the COSE_Sign1 with the authority key, then parses the payload.
// AttestError("reference_values_signature") / ("bad_reference_values").
ReferenceValues verify_reference_values(std::span<const uint8_t> cose, const policy::EvpKey& authority);

}  // namespace redoubt::attest
