// One appraisal: quote checks + event-log replay + reference values -> an EAR
// claims set (docs/attestation.md "Verdicts"): ear.status is contraindicated
// if anything failed, warning if something is doubtful, affirming otherwise.
#pragma once
#include <optional>

#include "attestation/verifier/eventlog_appraiser.hpp"
#include "attestation/verifier/quote_verifier.hpp"

namespace redoubt::attest {

class LogAppraisalCache;  // appraisal_cache.hpp

struct AppraisalInput {
  std::string endpoint_id;             // "" for a stateless one-shot
  Bytes ak_public;                     // the AK the quote must be signed by
  bool ak_bound_to_ek = false;         // enrolled via EK certificate + credential activation
  Bytes ek_public;                     // the enrolled EK (TPM2B_PUBLIC): the AK may be its child
  Bytes nonce;
  TPML_PCR_SELECTION selection{};
  std::optional<ClockState> previous;  // last accepted clockInfo of this endpoint
  const ReferenceValues* ref = nullptr;
  int64_t ear_ttl_s = 600;             // the EAR's exp = iat + this (RFC 7519 §4.1.4)
  LogAppraisalCache* log_cache = nullptr;  // memoised log appraisals; used only if it is for `ref` itself
};

struct AppraisalOutcome {
  std::string status;  // "affirming" | "warning" | "contraindicated"
  Findings findings;
  ClockState clock;
  bool authentic = false;  // signed by the expected AK: clockInfo may be recorded
  nlohmann::json ear;      // the claims set (unsigned)
};

// Throws AttestError for malformed evidence (4xx); a failed check is a verdict.
AppraisalOutcome appraise(const Evidence& ev, const AppraisalInput& in, int64_t now_unix);

// The selection every Redoubt verifier asks for: PCR 17-20 in sha256 and sha384.
TPML_PCR_SELECTION default_quote_selection();

}  // namespace redoubt::attest
