// The DRTM event log, checked twice: (1) against the TPM — every event's
// digest matches its data, and the log replays (per bank, from zero after the
// locality-4 reset) to exactly the quoted PCR values; (2) against reference
// values — who signed the hypervisor, its digest, its SVN, the SLB, the launch
// policy and the guests (guest_appraiser.hpp). Claims come only from events on
// quoted PCRs at the place the PCR map puts them (event_order.hpp); any other
// event is a failure. Every failure names the event (index, PCR, type, digest).
// The emulated-DRTM marker (drtm_origin.hpp) is checked apart: a well-formed one
// in its place gives `drtm_emulated` (a failure unless reference values allow it).
#pragma once
#include <optional>

#include "attestation/tpm/pcr_file.hpp"
#include "attestation/verifier/finding.hpp"
#include "attestation/verifier/reference_values.hpp"

namespace redoubt::attest {

struct LogAppraisal {
  bool log_matches_pcrs = false;  // (1) passed
  bool launched = false;          // a complete launch, no EV_REDOUBT_LAUNCH_FAILED
  nlohmann::json launch = nlohmann::json::object();  // claims: hv version/svn/signer/digest, slb digest, launch policy
  nlohmann::json guests = nlohmann::json::array();   // claims: one entry per guest (guest_appraiser.hpp)
  nlohmann::json drtm = {{"method", "unknown"}};     // claim: how the DRTM was made (drtm_origin.hpp)
};

// A LogAppraisal's claims as JSON text, written once per appraisal (a cached one's are reused).
struct LogClaimsText {
  std::string drtm, guests, launch;  // the values of redoubt.drtm, redoubt.guests, redoubt.launch
};
LogClaimsText log_claims_text(const LogAppraisal& a);

// Appends its findings to `f`. `ref` may be null (then only (1) and launch completeness are checked).
LogAppraisal appraise_event_log(std::span<const uint8_t> log, const QuotedPcrs& quoted, const ReferenceValues* ref, Findings& f);

}  // namespace redoubt::attest
