// VerifierService, lifecycle and policy (issue 13; store schema 4): the endpoint
// list with filters and paging, groups, the reference-value version history
// (every signed set rolled out through the API is kept; rollback = a new version
// with old content; which set applies: the endpoint's override, its group's, or
// the fleet's), token revocation, and stale marks with the endpoint.stale webhook.
// docs/api.md "Lifecycle and policy", docs/operations.md "Rotate reference values".
#include <algorithm>
#include <regex>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/service/auth.hpp"
#include "attestation/service/verifier_service.hpp"
#include "attestation/verifier/ear_result.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {

const std::regex& name_re() {
  static const std::regex r("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  return r;
}

[[noreturn]] void bad_param(const std::string& name, const std::string& why) {
  throw AttestError("bad_parameter", "query parameter \"" + name + "\": " + why);
}

void only_params(const std::map<std::string, std::string>& p, std::initializer_list<const char*> known) {
  for (const auto& kv : p) {
    const std::string& k = kv.first;
    if (std::find_if(known.begin(), known.end(), [&](const char* x) { return k == x; }) == known.end()) bad_param(k, "unknown parameter");
  }
}

int64_t int_param(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) bad_param(name, "must be a decimal integer");
  const int64_t n = std::stoll(v);
  if (n < lo || n > hi) bad_param(name, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  return n;
}

// The cursor is opaque to clients: base64url("c1:" + the last id of the page).
std::string encode_cursor(const std::string& id) { return to_base64url(to_bytes("c1:" + id)); }
std::string decode_cursor(const std::string& c) {
  std::string s;
  try {
    const Bytes b = from_base64url(c, "cursor");
    s.assign(b.begin(), b.end());
  } catch (const AttestError&) {
    bad_param("cursor", "not a cursor this verifier returned (next_cursor)");
  }
  if (s.rfind("c1:", 0) != 0 || !std::regex_match(s.substr(3), name_re())) bad_param("cursor", "not a cursor this verifier returned (next_cursor)");
  return s.substr(3);
}

bool known_status(const std::string& s) {
  for (const char* x : {"affirming", "warning", "contraindicated", "stale", "unreachable", "none"})
    if (s == x) return true;
  return false;
}

json set_json(const ReferenceSetRecord& r) {
  return {{"version", r.version}, {"scope", r.scope},   {"reference_values", r.ref_id},
          {"signer", r.signer},   {"by", r.by},         {"created", r.created},
          {"rollback_of", r.rollback_of ? json(r.rollback_of) : json(nullptr)}};
}

// PUT /v1/reference-values: "group" or "endpoint" names the scope; neither: every endpoint.
std::string scope_of(const json& body) {
  const bool g = body.contains("group"), e = body.contains("endpoint");
  if (g && e) throw AttestError("bad_request", "give \"group\" or \"endpoint\", not both");
  if (!g && !e) return "";
  const std::string n = json_string(body, g ? "group" : "endpoint");
  if (!std::regex_match(n, name_re())) throw AttestError("bad_request", std::string(g ? "group" : "endpoint") + " must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  return (g ? "group:" : "endpoint:") + n;
}

}  // namespace

std::shared_ptr<const ReferenceValues> VerifierService::parse_set(const ReferenceSetRecord& r) {
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    if (auto it = parsed_.find(r.version); it != parsed_.end()) return it->second;
    if (!cfg_.authority) return r.cose_b64 == ref_cose_b64_ ? ref_ : nullptr;  // only what was given at start
  }
  // Checked again against today's authority: a set it did not sign is refused (fail closed).
  auto v = std::make_shared<const ReferenceValues>(verify_reference_values(from_base64(r.cose_b64, "stored reference values"), *cfg_.authority));
  std::lock_guard<std::mutex> l(ref_mu_);
  parsed_[r.version] = v;
  return v;
}

void VerifierService::load_reference_history() {
  const std::string signer = cfg_.authority ? policy::key_id_hex(*cfg_.authority) : "";
  std::shared_ptr<const ReferenceValues> ref;
  std::string cose;
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    ref = ref_;
    cose = ref_cose_b64_;
  }
  const auto newest = store_->reference_history(std::string(), 1);
  // Given at start (and not the newest already), or a schema-3 store's single set: a version of its own.
  if (ref && !cose.empty() && (cfg_.reference ? (newest.empty() || newest.front().cose_b64 != cose) : newest.empty())) {
    const int64_t v = store_->add_reference_set({0, "", ref->id, signer, cfg_.reference ? "config" : "schema-3 store", unix_now(), cose, 0});
    std::lock_guard<std::mutex> l(ref_mu_);
    parsed_[v] = ref;
  }
  sync_policy();
}

void VerifierService::sync_policy() {
  std::map<std::string, RefChoice> sets;
  for (const auto& [scope, version] : store_->current_reference_versions()) {
    RefChoice c{nullptr, version, scope};
    try {
      if (auto rec = store_->reference_set(version)) c.ref = parse_set(*rec);
    } catch (const AttestError&) {
      c.ref = nullptr;  // does not verify: that scope is not appraised (reference_for refuses)
    }
    sets[scope] = c;
  }
  auto groups = store_->endpoint_groups();
  auto revoked = store_->revoked_tokens(unix_now());
  std::lock_guard<std::mutex> l(ref_mu_);
  sets_ = std::move(sets);
  groups_ = std::map<std::string, std::string>(groups.begin(), groups.end());
  revoked_ = std::set<std::string>(revoked.begin(), revoked.end());
  if (auto it = sets_.find(""); it != sets_.end() && it->second.ref && it->second.ref != ref_) {
    ref_ = it->second.ref;  // the fleet's set, rolled out by another instance (or by this one)
    log_cache_ = std::make_shared<LogAppraisalCache>(ref_);  // memoised appraisals belong to one set
    ref_cose_b64_.clear();
  }
}

VerifierService::RefChoice VerifierService::reference_for(const std::string& endpoint_id) const {
  std::lock_guard<std::mutex> l(ref_mu_);
  auto pick = [&](const std::string& scope) -> const RefChoice* {
    auto it = sets_.find(scope);
    return it == sets_.end() ? nullptr : &it->second;
  };
  const RefChoice* c = pick("endpoint:" + endpoint_id);
  if (!c)
    if (auto g = groups_.find(endpoint_id); g != groups_.end()) c = pick("group:" + g->second);
  if (!c) c = pick("");
  if (!c) return RefChoice{ref_, 0, ""};  // given at start with no history (or none: fail closed later)
  if (!c->ref)
    throw AttestError("no_reference_values",
                      "reference values version " + std::to_string(c->version) + " (scope \"" + c->scope +
                          "\") do not verify against this verifier's policy authority: nothing is appraised with them (fail closed)",
                      503);
  return *c;
}

json VerifierService::set_reference_values(const json& body, const std::string& by) {
  if (!cfg_.authority) throw AttestError("no_policy_authority", "this verifier has no policy authority key (--authority) to check reference values with", 422);
  const std::string scope = scope_of(body);
  if (scope.rfind("endpoint:", 0) == 0 && !store_->endpoint(scope.substr(9)))
    throw AttestError("unknown_endpoint", "no endpoint " + scope.substr(9), 404);
  const Bytes cose = json_base64(body, "reference_values", 256 * 1024);
  auto r = std::make_shared<const ReferenceValues>(verify_reference_values(cose, *cfg_.authority));
  const std::string b64 = to_base64(cose);
  std::string previous;
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    if (auto it = sets_.find(scope); it != sets_.end() && it->second.ref) previous = it->second.ref->id;
    else if (scope.empty() && ref_) previous = ref_->id;
  }
  const int64_t version = store_->add_reference_set({0, scope, r->id, policy::key_id_hex(*cfg_.authority), by, unix_now(), b64, 0});
  if (scope.empty()) store_->put_setting("reference_values", b64);  // what a schema-3 verifier reads
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    parsed_[version] = r;
  }
  sync_policy();
  return {{"reference_values", r->id}, {"version", version}, {"scope", scope}, {"previous", previous.empty() ? json(nullptr) : json(previous)}};
}

json VerifierService::rollback_reference_values(const json& body, const std::string& by) {
  if (!cfg_.authority) throw AttestError("no_policy_authority", "this verifier has no policy authority key (--authority) to check reference values with", 422);
  if (!body.is_object() || !body.contains("version") || !body["version"].is_number_integer())
    throw AttestError("bad_request", "missing integer field \"version\" (GET /v1/reference-values/history)");
  const int64_t from = body["version"].get<int64_t>();
  auto old = store_->reference_set(from);
  if (!old) throw AttestError("unknown_version", "no reference-value version " + std::to_string(from), 404);
  // Its signature is checked again: a set today's authority did not sign is not rolled back to.
  auto r = std::make_shared<const ReferenceValues>(verify_reference_values(from_base64(old->cose_b64, "stored reference values"), *cfg_.authority));
  const int64_t version = store_->add_reference_set({0, old->scope, r->id, policy::key_id_hex(*cfg_.authority), by, unix_now(), old->cose_b64, from});
  if (old->scope.empty()) store_->put_setting("reference_values", old->cose_b64);
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    parsed_[version] = r;
  }
  sync_policy();
  return {{"reference_values", r->id}, {"version", version}, {"scope", old->scope}, {"rollback_of", from}};
}

json VerifierService::reference_values_info() {
  json sets = json::array();
  std::shared_ptr<const ReferenceValues> ref;
  std::string cose;
  int64_t version = 0;
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    for (const auto& [scope, c] : sets_)
      sets.push_back({{"scope", scope}, {"version", c.version}, {"reference_values", c.ref ? json(c.ref->id) : json(nullptr)}});
    ref = ref_;
    cose = ref_cose_b64_;
    if (auto it = sets_.find(""); it != sets_.end()) version = it->second.version;
  }
  if (!ref) return {{"reference_values", nullptr}, {"sets", sets}};
  if (version)
    if (auto rec = store_->reference_set(version)) cose = rec->cose_b64;
  return {{"reference_values", ref->id}, {"version", version ? json(version) : json(nullptr)}, {"cose", cose}, {"sets", sets}};
}

json VerifierService::reference_history(const std::map<std::string, std::string>& p) {
  only_params(p, {"scope", "limit"});
  const int limit = p.count("limit") ? static_cast<int>(int_param("limit", p.at("limit"), 1, 1000)) : 100;
  std::optional<std::string> scope;
  if (p.count("scope")) {
    scope = p.at("scope");
    const auto colon = scope->find(':');
    const bool ok = scope->empty() || (colon != std::string::npos && (scope->substr(0, colon) == "group" || scope->substr(0, colon) == "endpoint") &&
                                       std::regex_match(scope->substr(colon + 1), name_re()));
    if (!ok) bad_param("scope", "must be empty (every endpoint), group:NAME or endpoint:ID");
  }
  json h = json::array();
  for (const ReferenceSetRecord& r : store_->reference_history(scope, limit)) h.push_back(set_json(r));
  return {{"history", h}};
}

json VerifierService::set_endpoint_group(const std::string& id, const json& body) {
  if (!std::regex_match(id, name_re())) throw AttestError("bad_endpoint_id", "endpoint id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  const std::string group = json_string(body, "group");
  if (!group.empty() && !std::regex_match(group, name_re())) throw AttestError("bad_request", "group must be \"\" (none) or match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  if (!store_->set_endpoint_group(id, group)) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
  sync_policy();
  return {{"id", id}, {"group", group.empty() ? json(nullptr) : json(group)}};
}

json VerifierService::list_endpoints(const std::map<std::string, std::string>& p, bool fleet) {
  only_params(p, {"status", "group", "last_seen_before", "last_seen_after", "limit", "cursor"});
  EndpointQuery q;
  q.now = unix_now();
  q.stale_push_s = cfg_.stale_after_push_s;
  q.stale_pull_s = cfg_.stale_after_pull_s;
  q.limit = p.count("limit") ? static_cast<int>(int_param("limit", p.at("limit"), 1, 1000)) : (fleet ? 1000 : 100);
  if (p.count("status")) {
    q.status = p.at("status");
    if (!known_status(q.status)) bad_param("status", "must be one of affirming, warning, contraindicated, stale, unreachable, none");
  }
  if (p.count("group")) {
    q.group = p.at("group");
    if (!q.group->empty() && !std::regex_match(*q.group, name_re())) bad_param("group", "must be empty (no group) or a group name");
  }
  if (p.count("last_seen_before")) q.seen_before = int_param("last_seen_before", p.at("last_seen_before"), 0, int64_t{1} << 40);
  if (p.count("last_seen_after")) q.seen_after = int_param("last_seen_after", p.at("last_seen_after"), 0, int64_t{1} << 40);
  if (p.count("cursor")) q.after_id = decode_cursor(p.at("cursor"));
  const int want = q.limit;
  q.limit = want + 1;  // one more: is there a next page?
  std::vector<EndpointSummary> rows = store_->list_endpoints(q);
  const bool more = static_cast<int>(rows.size()) > want;
  if (more) rows.resize(static_cast<size_t>(want));
  json a = json::array();
  for (const EndpointSummary& e : rows) {
    EndpointRecord r;
    r.mode = e.mode;
    r.status = e.status;
    r.last_seen = e.last_seen;
    const std::string status = effective_status(r, q.now);
    json item = {{"id", e.id}, {"mode", e.mode}, {"status", status}, {"group", e.group.empty() ? json(nullptr) : json(e.group)},
                 {"last_seen", e.last_seen ? json(e.last_seen) : json(nullptr)}};
    if (!fleet) {
      item["state"] = "enrolled";
    } else {  // the status page: why (named findings of the last verdict; stale/unreachable; the last poll error)
      item["verdict_status"] = e.status;
      item["stale_after"] = stale_after(r);
      json why = json::array();
      if (status == "stale" || status == "unreachable")
        why.push_back({{"kind", status}, {"code", "no_recent_appraisal"},
                       {"message", "no appraisal of an authentic quote for more than " + std::to_string(stale_after(r)) + " s; the last verdict said " + e.status}});
      if (!e.last_error.empty()) why.push_back({{"kind", "poll_error"}, {"code", "poll_error"}, {"message", e.last_error}});
      if (auto last = store_->verdicts(e.id, 1); !last.empty()) {
        const json s = json::parse(last.front().summary_json);
        for (const auto& [kind, key] : {std::pair{"failure", "failures"}, std::pair{"warning", "warnings"}, std::pair{"note", "notes"}})
          for (const json& f : s.value(key, json::array())) why.push_back({{"kind", kind}, {"code", f.value("code", "")}, {"message", f.value("message", "")}});
      }
      item["why"] = why;
    }
    a.push_back(item);
  }
  json out = {{"endpoints", a}, {"next_cursor", more ? json(encode_cursor(rows.back().id)) : json(nullptr)}};
  if (fleet) {
    out["now"] = q.now;
    out["filter"] = q.status.empty() ? json(nullptr) : json(q.status);
  }
  return out;
}

json VerifierService::revoke_token(const json& body, const std::string& by) {
  std::string jti;
  int64_t exp = unix_now() + kMaxTokenLifetime;  // no exp given: as long as any token can live
  if (body.is_object() && body.contains("token")) {  // the token itself: its jti and exp (an admin revokes what it holds)
    const std::string t = json_string(body, "token");
    const auto a = t.find('.'), b = t.find('.', a == std::string::npos ? 0 : a + 1);
    if (a == std::string::npos || b == std::string::npos) throw AttestError("bad_request", "\"token\" is not a JWS compact serialization (RFC 7515 §7.1)");
    const Bytes payload = from_base64url(t.substr(a + 1, b - a - 1), "token payload");
    const json c = json::parse(payload.begin(), payload.end(), nullptr, false);
    if (!c.is_object() || !c.contains("jti") || !c["jti"].is_string() || !c.contains("exp") || !c["exp"].is_number_integer())
      throw AttestError("bad_request", "the token has no string \"jti\" and integer \"exp\" (RFC 7519 §4.1.7, §4.1.4)");
    jti = c["jti"].get<std::string>();
    exp = c["exp"].get<int64_t>();
  } else {
    jti = json_string(body, "jti");
    if (body.contains("exp")) {
      if (!body["exp"].is_number_integer()) throw AttestError("bad_request", "\"exp\" must be an integer (unix time)");
      exp = body["exp"].get<int64_t>();
    }
  }
  static const std::regex jti_re("[A-Za-z0-9._-]{1,128}");
  if (!std::regex_match(jti, jti_re)) throw AttestError("bad_request", "jti must match [A-Za-z0-9._-]{1,128}");
  store_->revoke_token(jti, exp);
  {
    std::lock_guard<std::mutex> l(ref_mu_);
    revoked_.insert(jti);
  }
  return {{"jti", jti}, {"revoked", true}, {"until", exp}, {"by", by}};
}

bool VerifierService::token_revoked(const std::string& jti) const {
  std::lock_guard<std::mutex> l(ref_mu_);
  return revoked_.count(jti) != 0;
}

int VerifierService::mark_stale_round() {
  int n = 0;
  EndpointQuery q;
  q.now = unix_now();
  q.stale_push_s = cfg_.stale_after_push_s;
  q.stale_pull_s = cfg_.stale_after_pull_s;
  q.limit = 1000000;
  for (const char* status : {"stale", "unreachable"}) {
    q.status = status;
    for (const EndpointSummary& e : store_->list_endpoints(q)) {
      if (!owns(e.id)) continue;  // its lease holder marks it (issue 13: exactly one instance)
      if (!store_->mark_stale(e.id, e.last_seen)) continue;  // marked already for this silence
      ++n;
      ++stale_marked_;
      if (webhook_)
        webhook_->post({{"event", "endpoint.stale"}, {"endpoint", e.id}, {"status", status}, {"verdict_status", e.status},
                        {"last_seen", e.last_seen}, {"instance", cfg_.instance_id}});
    }
  }
  store_->purge_revoked_tokens(q.now);
  return n;
}

std::optional<json> VerifierService::stored_verdict_for_retry(const std::string& id, const Bytes& nonce, const std::string& evidence_sha256) {
  auto v = store_->verdict_by_nonce(nonce);
  if (!v || v->endpoint_id != id) return std::nullopt;
  const json s = json::parse(v->summary_json, nullptr, false);
  if (!s.is_object() || s.value("evidence_sha256", "") != evidence_sha256) return std::nullopt;  // other evidence: a replay
  json out = {{"seq", v->seq}, {"status", v->status}, {"ear", jws_verify_es256(v->ear_jws, cfg_.signing_key)}, {"ear_jws", v->ear_jws}, {"retry", true}};
  if (s.contains("reference_values")) out["reference_values"] = s["reference_values"];
  return out;
}

WebhookCounts VerifierService::webhook_counts() const { return webhook_ ? webhook_->counts() : WebhookCounts{}; }

}  // namespace redoubt::attest
