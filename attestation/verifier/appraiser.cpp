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
  LogAppraisal la;
  if (q.signature_ok && q.pcrs_ok) {
    la = in.log_cache && in.log_cache->ref() == in.ref ? in.log_cache->appraise(ev.eventlog, ev.pcrs, q.pcrs, out.findings)
                                                       : appraise_event_log(ev.eventlog, q.pcrs, in.ref, out.findings);
  } else {
    out.findings.fail("eventlog_not_appraised", "the event log was not appraised: the quote itself did not verify");
  }

  nlohmann::json tv = {{"instance-identity", in.ak_bound_to_ek ? 2 : 0},
                       {"configuration", 2},
                       {"executables", in.ref ? 2 : 0},
                       {"file-system", 0},
                       {"hardware", 2},
                       {"runtime-opaque", 0},
                       {"storage-opaque", 0},
                       {"sourced-data", 0}};
  for (const Finding& w : out.findings.warnings)
    if (tv[claim_of(w.code)].get<int>() < 32) tv[claim_of(w.code)] = 32;
  // AR4SI tiers: 97 for hardware and for an AK nobody recognises as a TPM's ("not recognized"), else 96.
  for (const Finding& f : out.findings.failures)
    tv[claim_of(f.code)] = std::string(claim_of(f.code)) == "hardware" || f.code == "ak_not_enrolled" ? 97 : 96;
  out.status = !out.findings.failures.empty() ? "contraindicated" : !out.findings.warnings.empty() ? "warning" : "affirming";

  auto list = [](const std::vector<Finding>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const Finding& f : v) a.push_back(finding_json(f));
    return a;
  };
  nlohmann::json sub = {{"ear.status", out.status},
                        {"ear.trustworthiness-vector", tv},
                        {"ear.appraisal-policy-id", in.ref ? in.ref->id : std::string("none")},
                        {"redoubt.failures", list(out.findings.failures)},
                        {"redoubt.warnings", list(out.findings.warnings)},
                        {"redoubt.notes", list(out.findings.notes)},
                        // How the AK was established: "enrolled" = EK certificate chain + credential activation;
                        // "none" = the evidence's own AK, on nobody's word (docs/attestation.md "One-shot").
                        {"redoubt.ak", {{"binding", in.ak_bound_to_ek ? "enrolled" : "none"}, {"name", ak_name}, {"position", ak_position_name(q.ak_position)}}},
                        {"redoubt.clock", {{"clock", q.clock.clock}, {"reset_count", q.clock.reset_count}, {"restart_count", q.clock.restart_count}, {"safe", q.clock.safe}}},
                        // How the DRTM was made: "skinit" | "harness-emulated" (+ the marker) | "unknown"
                        // (docs/attestation.md "Emulated DRTM (QEMU)").
                        {"redoubt.drtm", la.drtm},
                        {"redoubt.launch", la.launch},
                        {"redoubt.guests", la.guests}};
  out.ear = {{"eat_profile", kEarProfile},
             {"iat", now_unix},
             // RFC 7519 §4.1.4: not to be relied on after this (the verifier's --ear-ttl).
             {"exp", now_unix + in.ear_ttl_s},
             {"ear.verifier-id", {{"developer", "redoubt"}, {"build", "redoubt 0.1.0"}}},
             {"status", out.status},
             {"endpoint", in.endpoint_id},
             {"submods", {{"redoubt-drtm", sub}}}};
  // RFC 9711 §4.1 (EAT eat_nonce): the nonce the quote was made over, base64url in JSON; 8..64 bytes.
  if (in.nonce.size() >= 8 && in.nonce.size() <= 64) out.ear["eat_nonce"] = to_base64url(in.nonce);
  return out;
}

}  // namespace redoubt::attest
