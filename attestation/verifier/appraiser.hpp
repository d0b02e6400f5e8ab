// One appraisal: quote checks + event-log replay + reference values -> an EAR
// claims set (docs/attestation.md "Verdicts"): ear.status is contraindicated
// if anything failed, warning if something is doubtful, affirming otherwise.
#pragma once
#include <array>
#include <memory>
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

// The AR4SI trustworthiness claims of the EAR, in the order they are written (nlohmann's key order).
inline constexpr std::array<const char*, 8> kTrustClaims = {"configuration", "executables",    "file-system",  "hardware",
                                                            "instance-identity", "runtime-opaque", "sourced-data", "storage-opaque"};

// What the EAR says besides its status, findings and clock (docs/attestation.md "Verdicts").
struct EarClaims {
  int64_t iat = 0, exp = 0;
  std::string endpoint;                 // "" for a one-shot
  std::string policy_id;                // ear.appraisal-policy-id
  std::optional<std::string> eat_nonce;  // base64url (RFC 9711 §4.1)
  std::array<int, kTrustClaims.size()> trust{};  // ear.trustworthiness-vector, in kTrustClaims order
  bool ak_enrolled = false;             // redoubt.ak.binding: "enrolled" | "none"
  std::string ak_name;                  // hex
  const char* ak_position = "";         // ak_position_name()
  std::shared_ptr<const LogClaimsText> log;  // redoubt.drtm/.guests/.launch, as text (a cached log's are shared)
};

struct AppraisalOutcome {
  std::string status;  // "affirming" | "warning" | "contraindicated"
  Findings findings;
  ClockState clock;
  bool authentic = false;  // signed by the expected AK: clockInfo may be recorded
  EarClaims claims;

  // The claims set (unsigned), serialised: what the EAR's JWS signs (ear_claims.cpp writes it directly).
  std::string ear_text() const;
  // The same as a tree (parsed from ear_text(): for callers that look inside it).
  nlohmann::json ear() const;
};

// The findings as the stored verdict summary: {"failures":[..],"notes":[..],"warnings":[..]} plus the
// members of `extra` (an object, or null), as nlohmann would dump their union (sorted keys).
std::string findings_summary_text(const Findings& f, const nlohmann::json& extra = nullptr);

// Throws AttestError for malformed evidence (4xx); a failed check is a verdict.
AppraisalOutcome appraise(const Evidence& ev, const AppraisalInput& in, int64_t now_unix);

// The selection every Redoubt verifier asks for: PCR 17-20 in sha256 and sha384.
TPML_PCR_SELECTION default_quote_selection();

}  // namespace redoubt::attest
