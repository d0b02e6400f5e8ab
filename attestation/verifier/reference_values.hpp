// Reference values: what a good Redoubt launch looks like, issued by a policy
// authority as a COSE_Sign1 (RFC 9052 §4.2, policy/host/cose_sign) whose
// payload is UTF-8 JSON (docs/attestation.md "Reference values"):
//   {"type": "redoubt.reference-values/1", "id": "corp-2024-06",
//    "hypervisor": {"signers": ["<key id hex>"], "sha256": ["<image digest hex>"], "min_svn": 2},
//    "slb": {"sha256": ["<SLB digest hex>"]},
//    "launch_policy": {"sha256": ["<payload digest hex>"], "required": true, "min_serial": 0},
//    "guests": {"anchors": ["<SHA-256 of the anchor DER>"], "signers": ["<SHA-256 of the leaf SPKI DER>"],
//               "allow_unsigned": true, "rules": {"<name>": {"min_svn": 1, "kernel_sha256": ["<hex>"]}}},
//    "drtm": {"allow_emulated": false},
//    "txt": {"acm_sha256": ["<hex>"], "acm_signers": ["<hex>"], "mle_sha256": ["<hex>"], "policy_control": [0]}}
// "txt" (Intel TXT launches, docs/attestation.md "Intel TXT"): absent = an Intel launch is refused
// (txt_not_referenced); each list empty = not checked, except acm_sha256 and acm_signers (required).
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
  // "txt": the Intel TXT launch's SINIT ACMs (SHA-256 of the whole module, EV_TXT_HASH_START), their signers
  // (SHA-256 of the ACM header's modulus || exponent = the chipset's TXT.PUBLIC.KEY, EV_TXT_SINIT_PUBKEY_HASH),
  // the MLEs (SHA-256 of sl.bin's measured bytes, EV_TXT_MLE_HASH; empty: "slb.sha256" is used, the same
  // bytes) and the PolicyControl values (EV_TXT_LCP_CONTROL_HASH; empty = not checked).
  bool txt_given = false;
  std::set<std::string> txt_acm_sha256, txt_acm_signers, txt_mle_sha256;
  std::set<uint32_t> txt_policy_control;
  nlohmann::json document;           // the whole payload, as signed
};

ReferenceValues parse_reference_values(const nlohmann::json& j);  // AttestError("bad_reference_values")
Bytes sign_reference_values(const nlohmann::json& payload, const policy::EvpKey& authority);
// Verifies the COSE_Sign1 with the authority key, then parses the payload.
// AttestError("reference_values_signature") / ("bad_reference_values").
ReferenceValues verify_reference_values(std::span<const uint8_t> cose, const policy::EvpKey& authority);

}  // namespace redoubt::attest
