#include "attestation/verifier/appraiser.hpp"

#include "attestation/common/encoding.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/appraisal_cache.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "attestation/verifier/public_cache.hpp"

namespace redoubt::attest {
namespace {

// AR4SI trustworthiness claim a finding code speaks about.
const char* claim_of(const std::string& code) {
  auto starts = [&](const char* p) { return code.rfind(p, 0) == 0; };
  if (starts("hv_") || starts("slb_") || starts("guest")) return "executables";
  // The root of trust for measurement was emulated: not the platform's hardware (AR4SI "hardware" 97).
  if (code == "drtm_emulated") return "hardware";
  if (starts("drtm_marker")) return "configuration";
  if (starts("pcr_") || starts("event") || starts("launch_")) return "configuration";
  if (starts("qualified_signer") || starts("nonce") || starts("ak_")) return "instance-identity";
  return "hardware";  // attest_*, bad_signature, clock_*, reset_/restart_count_*
}

}  // namespace

TPML_PCR_SELECTION default_quote_selection() { return make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20}); }

AppraisalOutcome appraise(const Evidence& ev, const AppraisalInput& in, int64_t now_unix) {
  AppraisalOutcome out;
  QuoteExpectations want{in.ak_public, in.nonce, in.selection, in.previous, in.ek_public};
  QuoteCheck q = verify_quote(ev, want);
  out.findings = std::move(q.findings);
  out.clock = q.clock;
  out.authentic = q.signature_ok;
  // An AK not bound to a certified EK (enrolment: EK certificate chain + TPM2_ActivateCredential,
  // TPM 2.0 Part 1 §24) may be any key: a quote it signs is not TPM evidence (issue 16 item 2).
  const std::string ak_name = to_hex(decode_public_cached(in.ak_public, "AK public")->name);
  if (!in.ak_bound_to_ek)
    out.findings.fail("ak_not_enrolled",
                      "the quote is signed by the AK the evidence carries (name " + ak_name.substr(0, 16) +
                          "…), which no enrolment bound to a certified EK: nothing proves it is a TPM key (enrol the endpoint and verify with \"endpoint\")",
                      {{"ak_name", ak_name}});
  std::shared_ptr<const LogClaimsText> log_claims;
  if (q.signature_ok && q.pcrs_ok) {
    log_claims = in.log_cache && in.log_cache->ref() == in.ref
                     ? in.log_cache->appraise_text(ev.eventlog, ev.pcrs, q.pcrs, out.findings)
                     : std::make_shared<const LogClaimsText>(log_claims_text(appraise_event_log(ev.eventlog, q.pcrs, in.ref, out.findings)));
  } else {
    out.findings.fail("eventlog_not_appraised", "the event log was not appraised: the quote itself did not verify");
    static const auto kNotAppraised = std::make_shared<const LogClaimsText>(log_claims_text(LogAppraisal{}));
    log_claims = kNotAppraised;
  }

  EarClaims& c = out.claims;
  auto trust = [&](const char* claim) -> int& {
    for (size_t i = 0; i < kTrustClaims.size(); ++i)
      if (std::string_view(kTrustClaims[i]) == claim) return c.trust[i];
    throw std::logic_error("no trustworthiness claim " + std::string(claim));
  };
  trust("instance-identity") = in.ak_bound_to_ek ? 2 : 0;
  trust("configuration") = 2;
  trust("executables") = in.ref ? 2 : 0;
  trust("hardware") = 2;  // file-system, runtime-opaque, storage-opaque, sourced-data: 0
  for (const Finding& w : out.findings.warnings)
    if (trust(claim_of(w.code)) < 32) trust(claim_of(w.code)) = 32;
  // AR4SI tiers: 97 for hardware and for an AK nobody recognises as a TPM's ("not recognized"), else 96.
  for (const Finding& f : out.findings.failures)
    trust(claim_of(f.code)) = std::string(claim_of(f.code)) == "hardware" || f.code == "ak_not_enrolled" ? 97 : 96;
  out.status = !out.findings.failures.empty() ? "contraindicated" : !out.findings.warnings.empty() ? "warning" : "affirming";

  c.iat = now_unix;
  c.exp = now_unix + in.ear_ttl_s;  // RFC 7519 §4.1.4: not to be relied on after this (the verifier's --ear-ttl)
  c.endpoint = in.endpoint_id;
  c.policy_id = in.ref ? in.ref->id : std::string("none");
  // How the AK was established: "enrolled" = EK certificate chain + credential activation; "none" = the
  // evidence's own AK, on nobody's word (docs/attestation.md "One-shot").
  c.ak_enrolled = in.ak_bound_to_ek;
  c.ak_name = ak_name;
  c.ak_position = ak_position_name(q.ak_position);
  // How the DRTM was made: "skinit" | "harness-emulated" (+ the marker) | "unknown" (docs/attestation.md
  // "Emulated DRTM (QEMU)"); the launch and the guests.
  c.log = std::move(log_claims);
  // RFC 9711 §4.1 (EAT eat_nonce): the nonce the quote was made over, base64url in JSON; 8..64 bytes.
  if (in.nonce.size() >= 8 && in.nonce.size() <= 64) c.eat_nonce = to_base64url(in.nonce);
  return out;
}

}  // namespace redoubt::attest
