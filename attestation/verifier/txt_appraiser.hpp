// An Intel TXT launch's SINIT events against reference values (docs/attestation.md "Intel TXT"):
// which SINIT ACM the processor measured (EV_TXT_HASH_START), who signed it (EV_TXT_SINIT_PUBKEY_HASH,
// PCR18), which MLE SINIT measured (EV_TXT_MLE_HASH, PCR17: sl.bin's measured bytes) and the owner
// policy's control word (EV_TXT_LCP_CONTROL_HASH). Only events check_event_order accepted are used.
#pragma once
#include <nlohmann/json.hpp>

#include "attestation/verifier/event_order.hpp"
#include "attestation/verifier/finding.hpp"
#include "attestation/verifier/reference_values.hpp"

namespace redoubt::attest {

// Failures: txt_not_referenced (reference values without "txt"), txt_acm_not_allowed,
// txt_acm_signer_not_allowed, txt_mle_not_allowed, txt_policy_control_not_allowed,
// txt_policy_control_malformed. Returns the claim {"acm": {"sha256"}, "acm_signer", "mle": {"sha256"},
// "policy_control", "lcp_sha256"?}. `ref` null: the claim only.
nlohmann::json appraise_txt_launch(const LaunchEvents& L, const ReferenceValues* ref, Findings& f);

}  // namespace redoubt::attest
