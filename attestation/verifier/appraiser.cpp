#include "attestation/verifier/appraiser.hpp"

#include "attestation/verifier/ear_result.hpp"

namespace redoubt::attest {
namespace {

// AR4SI trustworthiness claim a finding code speaks about.
const char* claim_of(const std::string& code) {
  auto starts = [&](const char* p) { return code.rfind(p, 0) == 0; };
  if (starts("hv_") || starts("slb_") || starts("guest")) return "executables";
  if (starts("pcr_") || starts("event") || starts("launch_")) return "configuration";
  if (starts("qualified_signer") || starts("nonce")) return "instance-identity";
  return "hardware";  // attest_*, bad_signature, clock_*, reset_/restart_count_*
}

}  // namespace

TPML_PCR_SELECTION default_quote_selection() { return make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20}); }

AppraisalOutcome appraise(const Evidence& ev, const AppraisalInput& in, int64_t now_unix) {
  AppraisalOutcome out;
  QuoteExpectations want{in.ak_public, in.nonce, in.selection, in.previous};
  QuoteCheck q = verify_quote(ev, want);
  out.findings = std::move(q.findings);
  out.clock = q.clock;
  out.authentic = q.signature_ok;
  LogAppraisal la;
  if (q.signature_ok && q.pcrs_ok) {
    la = appraise_event_log(ev.eventlog, q.pcrs, in.ref, out.findings);
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
  for (const Finding& f : out.findings.failures) tv[claim_of(f.code)] = std::string(claim_of(f.code)) == "hardware" ? 97 : 96;
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
                        {"redoubt.clock", {{"clock", q.clock.clock}, {"reset_count", q.clock.reset_count}, {"restart_count", q.clock.restart_count}, {"safe", q.clock.safe}}},
                        {"redoubt.launch", la.launch},
                        {"redoubt.guests", la.guests}};
  out.ear = {{"eat_profile", kEarProfile},
             {"iat", now_unix},
             {"ear.verifier-id", {{"developer", "redoubt"}, {"build", "redoubt 0.1.0"}}},
             {"status", out.status},
             {"endpoint", in.endpoint_id},
             {"submods", {{"redoubt-drtm", sub}}}};
  return out;
}

}  // namespace redoubt::attest
