// The EAR claims set and the verdict summary written as JSON text (issue 13, throughput): one buffer,
// no nlohmann tree. Byte for byte what the trees appraise() used to build gave with dump() — every
// object's keys below are in that order (sorted by bytes) — which attest_json_text_test checks
// against a tree built the old way, for every status, trust tier and tricky string.
#include <string_view>
#include <utility>
#include <vector>

#include "attestation/common/json_text.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/ear_result.hpp"

namespace redoubt::attest {
namespace {

// {"code":..,"detail":..,"message":..}: finding_json's members; "detail" only when not empty.
void append_finding(std::string& out, const Finding& f) {
  out += "{\"code\":";
  append_json_string(out, f.code);
  if (!f.detail.empty()) {
    out += ",\"detail\":";
    append_json_value(out, f.detail);
  }
  out += ",\"message\":";
  append_json_string(out, f.message);
  out += '}';
}

void append_findings(std::string& out, const std::vector<Finding>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    append_finding(out, v[i]);
  }
  out += ']';
}

}  // namespace

LogClaimsText log_claims_text(const LogAppraisal& a) {
  LogClaimsText t;
  append_json_value(t.drtm, a.drtm);
  append_json_value(t.guests, a.guests);
  append_json_value(t.launch, a.launch);
  return t;
}

std::string AppraisalOutcome::ear_text() const {
  const EarClaims& c = claims;
  // Room for all of it at once (an EAR with findings outgrew the old reserve and was copied again): the fixed
  // members, the log's claims, and each finding's text with room for its detail and escapes.
  size_t room = 1024 + (c.log ? c.log->drtm.size() + c.log->guests.size() + c.log->launch.size() : 0);
  for (const auto* v : {&findings.failures, &findings.warnings, &findings.notes})
    for (const Finding& x : *v) room += 256 + x.code.size() + x.message.size() + x.message.size() / 8;
  std::string out;
  out.reserve(room);
  out += "{\"ear.verifier-id\":{\"build\":\"redoubt 0.1.0\",\"developer\":\"redoubt\"}";
  if (c.eat_nonce) {
    out += ",\"eat_nonce\":";
    append_json_string(out, *c.eat_nonce);
  }
  out += ",\"eat_profile\":";
  append_json_string(out, kEarProfile);
  out += ",\"endpoint\":";
  append_json_string(out, c.endpoint);
  out += ",\"exp\":";
  append_json_int(out, c.exp);
  out += ",\"iat\":";
  append_json_int(out, c.iat);
  out += ",\"status\":";
  append_json_string(out, status);
  out += ",\"submods\":{\"redoubt-drtm\":{\"ear.appraisal-policy-id\":";
  append_json_string(out, c.policy_id);
  out += ",\"ear.status\":";
  append_json_string(out, status);
  out += ",\"ear.trustworthiness-vector\":{";
  for (size_t i = 0; i < kTrustClaims.size(); ++i) {
    if (i) out += ',';
    append_json_key(out, kTrustClaims[i]);
    append_json_int(out, c.trust[i]);
  }
  out += "},\"redoubt.ak\":{\"binding\":";
  out += c.ak_enrolled ? "\"enrolled\"" : "\"none\"";
  out += ",\"name\":";
  append_json_string(out, c.ak_name);
  out += ",\"position\":";
  append_json_string(out, c.ak_position);
  out += "},\"redoubt.clock\":{\"clock\":";
  append_json_uint(out, clock.clock);
  out += ",\"reset_count\":";
  append_json_uint(out, clock.reset_count);
  out += ",\"restart_count\":";
  append_json_uint(out, clock.restart_count);
  out += ",\"safe\":";
  append_json_bool(out, clock.safe);
  out += "},\"redoubt.drtm\":";
  out += c.log ? std::string_view(c.log->drtm) : std::string_view("{\"method\":\"unknown\"}");
  out += ",\"redoubt.failures\":";
  append_findings(out, findings.failures);
  out += ",\"redoubt.guests\":";
  out += c.log ? std::string_view(c.log->guests) : std::string_view("[]");
  out += ",\"redoubt.launch\":";
  out += c.log ? std::string_view(c.log->launch) : std::string_view("{}");
  out += ",\"redoubt.notes\":";
  append_findings(out, findings.notes);
  out += ",\"redoubt.warnings\":";
  append_findings(out, findings.warnings);
  out += "}}}";
  return out;
}

nlohmann::json AppraisalOutcome::ear() const { return nlohmann::json::parse(ear_text()); }

std::string findings_summary_text(const Findings& f, const nlohmann::json& extra) {
  // The members in nlohmann's order: the three lists and extra's own (already sorted) merged by key;
  // a key of extra named like a list replaces it, as json::update() did.
  std::vector<std::pair<std::string_view, const std::vector<Finding>*>> lists = {
      {"failures", &f.failures}, {"notes", &f.notes}, {"warnings", &f.warnings}};
  std::string out;
  out.reserve(256 * (f.failures.size() + f.notes.size() + f.warnings.size() + 1));
  out += '{';
  bool first = true;
  auto sep = [&] {
    if (!first) out += ',';
    first = false;
  };
  size_t li = 0;
  auto lists_before = [&](const std::string* key) {  // the lists whose names sort before `key` (all: null)
    for (; li < lists.size() && (!key || lists[li].first < *key); ++li) {
      sep();
      append_json_key(out, lists[li].first);
      append_findings(out, *lists[li].second);
    }
    if (key && li < lists.size() && lists[li].first == *key) ++li;  // replaced by extra's member
  };
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) {
      lists_before(&k);
      sep();
      append_json_key(out, k);
      append_json_value(out, v);
    }
  lists_before(nullptr);
  out += '}';
  return out;
}

}  // namespace redoubt::attest
