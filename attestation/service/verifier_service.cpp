#include "attestation/service/verifier_service.hpp"

#include <httplib.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <regex>

#include <unistd.h>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/tpm/credential.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/ear_result.hpp"

namespace redoubt::attest {
using nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

Bytes random_bytes(size_t n) {
  Bytes b(n);
  if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) throw AttestError("internal", "RAND_bytes failed", 500);
  return b;
}

// Also every id taken from a request path: one that is not even UTF-8 is a 400, not a 500 (issue 16 item 8d).
void check_endpoint_id(const std::string& id) {
  static const std::regex ok("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  if (!std::regex_match(id, ok)) throw AttestError("bad_endpoint_id", "endpoint id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
}

// An AK must be a restricted, fixedTPM signing key (TPM 2.0 Part 1 §25.2 / Part 2 §8.3): only then is
// everything it signs with a TPM_GENERATED_VALUE magic produced by the TPM itself.
void check_ak(const TPMT_PUBLIC& ak) {
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                           TPMA_OBJECT_SENSITIVEDATAORIGIN;
  if ((ak.objectAttributes & need) != need || (ak.objectAttributes & TPMA_OBJECT_DECRYPT))
    throw AttestError("bad_ak", "the AK must be a fixedTPM, sensitiveDataOrigin, restricted signing key (not decrypt)");
  if (ak.type != TPM2_ALG_ECC && ak.type != TPM2_ALG_RSA) throw AttestError("bad_ak", "the AK must be ECC or RSA");
  public_to_evp(ak);  // a valid point / modulus
}

// An EAR signed, and the parts the store keeps of it (ear_parts.hpp) as the signer made them, not
// decoded from the JWS again.
struct SignedEar {
  std::string jws;
  EarParts parts;
};
SignedEar sign_ear(const std::string& payload, const policy::EvpKey& key, const std::string& kid) {
  std::array<uint8_t, 64> sig{};
  SignedEar s{jws_sign_es256_payload(payload, key, kid, &sig), {}};
  s.parts = ear_parts_of(s.jws, payload, sig);
  return s;
}

}  // namespace

// ------------------------------------------------------------------ service

VerifierService::VerifierService(VerifierConfig cfg) : cfg_(std::move(cfg)), store_(open_store(cfg_.db_path)) {
  kid_ = policy::key_id_hex(cfg_.signing_key);
  // The gate's default width: one appraisal per core; with PostgreSQL two (docs/verifier-performance.md,
  // fourteenth round). There a verdict's commit is a round trip to the database's processes, which need
  // the same cores: with twice the appraisals under way, more verdicts queue during each commit, and
  // PostgreSQL's CPU per verdict at 32 clients fell from 61-113 to 45-80 us (every alternated pair).
  const long cores = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  const long per_core = store_->backend() == "postgresql" ? 2 : 1;
  parallel_ = static_cast<size_t>(cfg_.max_parallel_appraisals > 0 ? cfg_.max_parallel_appraisals : cores * per_core);
  gate_ = std::make_unique<WorkGate>(parallel_);
  if (cfg_.instance_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    cfg_.instance_id = std::string(host) + "-" + std::to_string(getpid()) + "-" + to_hex(random_bytes(4));
  }
  if (!cfg_.webhook.urls.empty()) webhook_ = std::make_unique<WebhookSender>(cfg_.webhook);
  if (cfg_.reference) {  // given at start: in force, and kept for the next start
    ref_ = std::make_shared<const ReferenceValues>(*cfg_.reference);
    log_cache_ = std::make_shared<LogAppraisalCache>(ref_);
    if (!cfg_.reference_cose.empty()) {
      ref_cose_b64_ = to_base64(to_bytes(cfg_.reference_cose));
      store_->put_setting("reference_values", ref_cose_b64_);
    }
  } else if (auto stored = store_->setting("reference_values"); stored && cfg_.authority) {
    // Set earlier through PUT /v1/reference-values: checked again against today's authority.
    ref_ = std::make_shared<const ReferenceValues>(verify_reference_values(from_base64(*stored, "stored reference values"), *cfg_.authority));
    log_cache_ = std::make_shared<LogAppraisalCache>(ref_);
    ref_cose_b64_ = *stored;
  }
  load_reference_history();  // schema 4: the history, groups and per-endpoint sets (verifier_lifecycle.cpp)
}

std::shared_ptr<const ReferenceValues> VerifierService::reference() const {
  std::lock_guard<std::mutex> l(ref_mu_);
  return ref_;
}

std::shared_ptr<LogAppraisalCache> VerifierService::log_cache_for(const ReferenceValues* r) const {
  std::lock_guard<std::mutex> l(ref_mu_);
  return log_cache_ && log_cache_->ref() == r ? log_cache_ : nullptr;
}

// Fail closed (issue 13): without reference values there is nothing to compare a launch with, and
// no verdict is made (never "affirming" under a policy id "none").
std::shared_ptr<const ReferenceValues> VerifierService::require_reference() const {
  auto r = reference();
  if (!r)
    throw AttestError("no_reference_values",
                      "this verifier has no reference values, so it appraises nothing (fail closed): start it with "
                      "`redoubt verifier serve --reference FILE --authority PUB`, or PUT /v1/reference-values as admin",
                      503);
  return r;
}

int64_t VerifierService::stale_after(const EndpointRecord& e) const {
  return e.mode == "pull" ? cfg_.stale_after_pull_s : cfg_.stale_after_push_s;
}

std::string VerifierService::effective_status(const EndpointRecord& e, int64_t now) const {
  if (e.status == "none") return e.status;  // never appraised: no verdict to show
  if (now - e.last_seen > stale_after(e)) return e.mode == "pull" ? "unreachable" : "stale";
  return e.status;
}

std::map<std::string, int64_t> VerifierService::endpoints_by_status() {
  std::map<std::string, int64_t> n;
  for (const char* s : {"affirming", "warning", "contraindicated", "stale", "unreachable", "none"}) n[s] = 0;
  const int64_t now = unix_now();
  for (const EndpointRecord& e : store_->endpoints()) ++n[effective_status(e, now)];
  return n;
}

json VerifierService::delete_endpoint(const std::string& id) {
  check_endpoint_id(id);
  if (!store_->delete_endpoint(id)) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
  return {{"id", id}, {"deleted", true}};
}

json VerifierService::info() {
  return {{"service", "redoubt-verifier"},
          {"api", "v1"},
          {"schema_version", store_->schema_version()},
          {"store", store_->backend()},
          {"instance", cfg_.instance_id},
          {"ear_signing_key", {{"alg", "ES256"}, {"kid", kid_}, {"pem", public_key_pem(public_key_from_pem(public_key_pem(cfg_.signing_key)))}}},
          {"reference_values", reference() ? json(reference()->id) : json(nullptr)},
          {"manufacturer_cas", cfg_.manufacturers.size()}};
}

json VerifierService::enrol(const json& body) {
  const std::string id = json_string(body, "id");
  check_endpoint_id(id);
  const Bytes ek_cert = json_base64(body, "ek_certificate", 8192);
  const Bytes ek_pub_b = json_base64(body, "ek_public", 4096);
  const Bytes ak_pub_b = json_base64(body, "ak_public", 4096);
  const std::string mode = body.value("mode", "push");
  if (mode != "push" && mode != "pull") throw AttestError("bad_request", "mode must be \"push\" or \"pull\"");
  std::string agent_url = body.contains("agent_url") ? json_string(body, "agent_url") : "";
  // Issue 16 item 4: the verifier will GET this URL; its form and the addresses it resolves to are checked
  // now (bad_agent_url 400, agent_url_not_allowed 403) and again before every poll.
  if (mode == "pull" || !agent_url.empty()) cfg_.agent_allow.resolve(parse_agent_url(agent_url));
  const TPM2B_PUBLIC ek = unmarshal_public(ek_pub_b, "ek_public");
  const TPM2B_PUBLIC ak = unmarshal_public(ak_pub_b, "ak_public");
  cfg_.manufacturers.check(ek_cert, ek.publicArea);
  check_ak(ak.publicArea);
  if (auto old = store_->endpoint(id); old && old->ek_public != ek_pub_b)
    throw AttestError("endpoint_exists", "endpoint " + id + " is enrolled with a different EK (an admin may DELETE /v1/endpoints/" + id + " first)", 409);

  // Part 1 §24: the secret can only be recovered by the TPM holding this EK and an object named ak_name.
  // Issue 13: until it is, this is a pending enrolment apart; an enrolled endpoint of this id keeps its
  // AK, clock baseline, agent_url, status and verdicts, and a failed activation discards only this.
  const Bytes secret = random_bytes(32);
  const MadeCredential mc = make_credential(ek.publicArea, tpm_object_name(ak.publicArea), secret);
  PendingEnrolment p;
  p.id = id;
  p.ek_public = ek_pub_b;
  p.ek_certificate = ek_cert;
  p.ak_public = ak_pub_b;
  p.mode = mode;
  p.agent_url = agent_url;
  p.challenge_hash = tpm_hash(TPM2_ALG_SHA256, secret);
  p.challenge_expires = unix_now() + cfg_.challenge_ttl_s;
  store_->put_pending(p);
  if (cfg_.test_unsafe_enrol_before_activation) {  // TEST ONLY: protection off (and the challenge stays answerable)
    store_->complete_enrolment(p);
    store_->put_pending(p);
  }
  return {{"id", id},
          {"state", "pending"},
          {"credential_blob", to_base64(marshal_id_object(mc.credential_blob))},
          {"encrypted_secret", to_base64(marshal_encrypted_secret(mc.secret))},
          {"expires", p.challenge_expires}};
}

json VerifierService::activate(const std::string& id, const json& body) {
  check_endpoint_id(id);
  auto p = store_->pending(id);
  if (!p) {
    if (!store_->endpoint(id)) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
    throw AttestError("no_challenge", "endpoint " + id + " has no pending enrolment challenge", 409);
  }
  if (p->challenge_expires < unix_now()) {
    store_->drop_pending(id);
    throw AttestError("challenge_expired", "the enrolment challenge expired; enrol again", 410);
  }
  const Bytes secret = json_base64(body, "secret", 64);
  if (tpm_hash(TPM2_ALG_SHA256, secret) != p->challenge_hash) {
    store_->drop_pending(id);  // one try; the enrolled record (if any) is untouched
    throw AttestError("activation_failed", "the activated secret is wrong: the AK is not resident with the certified EK", 403);
  }
  store_->complete_enrolment(*p);
  bool leasing;
  {
    std::lock_guard<std::mutex> l(lease_mu_);
    leasing = owned_.has_value();
  }
  if (leasing) {  // leases in use: a lease round now, so a new pull endpoint is polled without waiting for the next one
    try {
      lease_round();
    } catch (const std::exception&) {
      // the next regular round takes it
    }
  }
  return {{"id", id}, {"state", "enrolled"}, {"ak_name", to_hex(tpm_object_name(unmarshal_public(p->ak_public).publicArea))}};
}

json VerifierService::issue_nonce(const std::string& id) {
  check_endpoint_id(id);
  auto e = store_->endpoint(id);
  if (!e && store_->pending(id)) throw AttestError("not_enrolled", "endpoint " + id + " has not completed enrolment", 409);
  if (!e) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
  const Bytes nonce = random_bytes(32);
  const int64_t expires = unix_now() + cfg_.nonce_ttl_s;
  store_->add_nonce(nonce, id, expires);
  return {{"nonce", to_hex(nonce)}, {"expires", expires}, {"pcrs", selection_text(default_quote_selection())}};
}

std::optional<json> VerifierService::record(const std::string& endpoint_id, const AppraisalOutcome& a, bool update_clock, const Bytes& nonce,
                                            const std::optional<ClockState>* seen, const json& extra) {
  const std::string payload = a.ear_text();
  SignedEar ear = sign_ear(payload, cfg_.signing_key, kid_);
  const std::string summary = findings_summary_text(a.findings, extra);
  std::string previous;  // for the webhook only: read only when there is one
  if (webhook_ && !endpoint_id.empty())
    if (auto e = store_->endpoint(endpoint_id)) previous = e->status;
  VerdictRecord v{0, endpoint_id, a.claims.iat, a.status, summary, std::move(ear.jws), nonce, std::move(ear.parts)};
  const std::string& jws = v.ear_jws;
  const std::optional<ClockState> clock = update_clock ? std::optional<ClockState>(a.clock) : std::nullopt;
  int64_t seq = 0;
  if (seen) {
    const auto s = store_->add_verdict_if_clock(v, *seen, clock);
    if (!s) return std::nullopt;
    seq = *s;
  } else {
    seq = store_->add_verdict(v, clock);
  }
  json out = {{"seq", seq}, {"status", a.status}, {"ear", json::parse(payload)}, {"ear_jws", jws}};
  if (extra.is_object() && extra.contains("reference_values")) out["reference_values"] = extra["reference_values"];
  if (webhook_ && !endpoint_id.empty() && previous != a.status)
    webhook_->post({{"event", "verdict_changed"}, {"endpoint", endpoint_id}, {"previous", previous}, {"status", a.status}, {"seq", seq},
                    {"summary", json::parse(summary)}, {"ear_jws", jws}});
  return out;
}

json VerifierService::submit_evidence(const std::string& id, const json& body) {
  check_endpoint_id(id);
  auto e = store_->endpoint(id);
  if (!e && store_->pending(id)) throw AttestError("not_enrolled", "endpoint " + id + " has not completed enrolment", 409);
  if (!e) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
  const RefChoice choice = reference_for(id);  // its override, its group's, or the fleet's (schema 4)
  const auto ref = choice.ref ? choice.ref : require_reference();  // before the nonce is spent: the endpoint may try again
  const Evidence ev = evidence_from_json(body);
  // Freshness first: the nonce in the quote must be one we issued to this endpoint, unused, unexpired.
  const Bytes nonce = quote_extra_data(ev.quote);
  const std::string digest = to_hex(tpm_hash(TPM2_ALG_SHA256, to_bytes(body.dump())));
  try {
    store_->consume_nonce(nonce, id, unix_now());
  } catch (const AttestError& ex) {
    // A retry of a push whose verdict was stored (its instance died before answering): that verdict
    // again. A different evidence with the nonce stays a replay (409 nonce_reused).
    if (ex.code() != "nonce_reused") throw;
    if (auto stored = stored_verdict_for_retry(id, nonce, digest)) return *stored;
    throw;
  }
  const json extra = {{"reference_values", {{"version", choice.version}, {"scope", choice.scope}, {"id", ref->id}}}, {"evidence_sha256", digest}};
  std::lock_guard<std::mutex> l(appraise_mu_[std::hash<std::string>{}(id) % kAppraiseStripes]);
  // Several instances may appraise quotes of one endpoint at once: the verdict is stored only if the
  // clock record it was compared with is still the stored one (compare-and-set), else appraised again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    // The record read above is compared-and-set below (add_verdict_if_clock): if its clock moved while
    // we waited, nothing is stored and the next attempt reads it again.
    if (attempt > 0) e = store_->endpoint(id);
    if (!e) throw AttestError("unknown_endpoint", "no endpoint " + id + " (deleted meanwhile)", 404);
    AppraisalInput in;
    in.endpoint_id = id;
    in.ak_public = e->ak_public;
    in.ak_bound_to_ek = true;
    in.ek_public = e->ek_public;
    in.nonce = nonce;
    in.selection = default_quote_selection();
    in.previous = e->clock;
    in.ref = ref.get();
    in.ear_ttl_s = cfg_.ear_ttl_s;
    const auto cache = log_cache_for(in.ref);
    in.log_cache = cache.get();
    const AppraisalOutcome a = [&] {
      const WorkGate::Slot slot(*gate_);
      return appraise(ev, in, unix_now());
    }();
    // Only a quote genuinely from the enrolled AK may move the endpoint's clock record.
    if (auto out = record(id, a, a.authentic, nonce, &e->clock, extra)) return *out;
  }
  throw AttestError("busy", "endpoint " + id + "'s record kept changing under this appraisal; try again", 503);
}

AppraisalOutcome VerifierService::appraise_oneshot(const json& body) {
  if (!body.is_object() || !body.contains("evidence")) throw AttestError("bad_request", "missing field \"evidence\"");
  if (!body.contains("reference_values")) require_reference();  // fail closed before any work
  const Evidence ev = evidence_from_json(body["evidence"]);
  const Bytes nonce = from_hex(json_string(body, "nonce"), "nonce");
  std::optional<ReferenceValues> own;
  if (body.contains("reference_values")) {
    if (!cfg_.authority) throw AttestError("no_policy_authority", "this verifier has no policy authority key to check reference values with", 422);
    own = verify_reference_values(json_base64(body, "reference_values", 256 * 1024), *cfg_.authority);
  }
  const auto mine = own ? nullptr : require_reference();
  AppraisalInput in;
  in.ak_public = ev.ak_public;
  in.nonce = nonce;
  in.selection = default_quote_selection();
  in.ref = own ? &*own : mine.get();
  in.ear_ttl_s = cfg_.ear_ttl_s;
  if (body.contains("endpoint")) {  // bind to an enrolled endpoint's AK (no clock/nonce state is touched)
    auto e = store_->endpoint(json_string(body, "endpoint"));
    if (!e) throw AttestError("unknown_endpoint", "no enrolled endpoint " + json_string(body, "endpoint"), 404);
    in.ak_public = e->ak_public;
    in.ak_bound_to_ek = true;
    in.ek_public = e->ek_public;
    in.endpoint_id = e->id;
  }
  const auto cache = log_cache_for(in.ref);
  in.log_cache = cache.get();
  return appraise(ev, in, unix_now());
}

json VerifierService::verify_oneshot(const json& body) { return *record("", appraise_oneshot(body), false); }

namespace {
// {"ear":…,"ear_jws":"…","seq":N,"status":"…"} (json's key order) around the claims' one serialisation.
std::string oneshot_answer(const std::string& payload, const VerdictRecord& v) {
  std::string out;
  out.reserve(payload.size() + v.ear_jws.size() + 64);
  out += "{\"ear\":";
  out += payload;
  out += ",\"ear_jws\":\"";
  out += v.ear_jws;  // base64url and dots: nothing to escape
  out += "\",\"seq\":";
  out += std::to_string(v.seq);
  out += ",\"status\":\"";
  out += v.status;  // affirming | warning | contraindicated
  out += "\"}";
  return out;
}
}  // namespace

// The CPU-bound part through the gate; storing outside it, so that the store can batch verdicts.
VerdictRecord VerifierService::appraise_oneshot_verdict(const json& body, std::string& payload) {
  const WorkGate::Slot slot(*gate_);
  const AppraisalOutcome a = appraise_oneshot(body);
  payload = a.ear_text();
  SignedEar ear = sign_ear(payload, cfg_.signing_key, kid_);
  return VerdictRecord{0, "", a.claims.iat, a.status, findings_summary_text(a.findings), std::move(ear.jws), {}, std::move(ear.parts)};
}

// As record() for a one-shot verdict: stored (before the answer exists), then the answer written
// around the claims' one serialisation (oneshot_answer).
std::string VerifierService::verify_oneshot_text(const json& body, std::string& status) {
  std::string payload;
  VerdictRecord v = appraise_oneshot_verdict(body, payload);
  v.seq = store_->add_verdict(v, std::nullopt);
  status = v.status;
  return oneshot_answer(payload, v);
}

bool VerifierService::defers_oneshot_verdicts() const { return store_->defers_verdicts(); }

VerifierService::DeferredOneshot VerifierService::verify_oneshot_deferred(const json& body) {
  std::string payload;
  VerdictRecord v = appraise_oneshot_verdict(body, payload);
  v.seq = store_->reserve_verdict_seq();
  DeferredOneshot out{oneshot_answer(payload, v), v.status, {}};
  out.store = [store = store_.get(), v = std::move(v)](std::function<void(std::exception_ptr)> done, std::function<void()> going_on) mutable {
    store->add_verdict_deferred(std::move(v), std::move(done), std::move(going_on));
  };
  return out;
}

json VerifierService::endpoint_status(const std::string& id, int history) {
  check_endpoint_id(id);
  auto e = store_->endpoint(id);
  auto p = store_->pending(id);
  if (!e && p)  // enrolment started, not activated: nothing about it is trusted yet
    return {{"id", id}, {"state", "pending"}, {"mode", p->mode}, {"status", "none"}, {"history", json::array()}, {"pending_expires", p->challenge_expires}};
  if (!e) throw AttestError("unknown_endpoint", "no endpoint " + id, 404);
  json h = json::array();
  for (const VerdictRecord& v : store_->verdicts(id, history)) {
    json reasons = json::parse(v.summary_json), item = {{"seq", v.seq}, {"iat", v.iat}, {"status", v.status}};
    if (reasons.contains("reference_values")) item["reference_values"] = reasons["reference_values"];  // schema 4: the set it was appraised against
    reasons.erase("reference_values");
    reasons.erase("evidence_sha256");
    item["reasons"] = reasons;
    h.push_back(item);
  }
  const int64_t now = unix_now();
  json out = {{"id", e->id},
              {"state", "enrolled"},
              {"mode", e->mode},
              {"status", effective_status(*e, now)},
              {"verdict_status", e->status},  // what the last verdict said (signed in ear_jws)
              {"last_seen", e->last_seen ? json(e->last_seen) : json(nullptr)},
              {"stale_after", stale_after(*e)},
              {"ak_name", to_hex(tpm_object_name(unmarshal_public(e->ak_public).publicArea))},
              {"ek_certificate", to_base64(e->ek_certificate)},  // the one the chain check accepted
              {"history", h}};
  if (p) out["pending_enrolment"] = {{"expires", p->challenge_expires}};  // a re-enrolment not yet proven: changes nothing
  if (auto ls = store_->lease(id)) out["lease"] = {{"instance", ls->instance}, {"expires_ms", ls->expires_ms}};  // who polls it (issue 13)
  if (!e->agent_url.empty()) out["agent_url"] = e->agent_url;
  if (!e->last_error.empty()) out["last_error"] = e->last_error;
  if (e->clock) out["clock"] = {{"clock", e->clock->clock}, {"reset_count", e->clock->reset_count}, {"restart_count", e->clock->restart_count}, {"safe", e->clock->safe}};
  if (auto last = store_->verdicts(id, 1); !last.empty()) out["ear_jws"] = last.front().ear_jws;
  return out;
}

json VerifierService::jwks() const {
  // RFC 7518 §6.2.1: x and y are the point's coordinates, base64url, each the full field size.
  const policy::PublicKey k = policy::cose_public_key(cfg_.signing_key);
  const size_t n = (k.sec1_len - 1) / 2;
  const std::span<const uint8_t> b = k.bytes();
  return {{"keys", json::array({{{"kty", "EC"},
                                 {"crv", n == 48 ? "P-384" : "P-256"},
                                 {"x", to_base64url(b.subspan(1, n))},
                                 {"y", to_base64url(b.subspan(1 + n, n))},
                                 {"use", "sig"},
                                 {"alg", n == 48 ? "ES384" : "ES256"},
                                 {"kid", kid_}}})}};
}

json VerifierService::verdict(int64_t seq) {
  auto v = store_->verdict(seq);
  if (!v) throw AttestError("unknown_verdict", "no verdict " + std::to_string(seq), 404);
  json reasons = json::parse(v->summary_json);
  json out = {{"seq", v->seq}, {"endpoint", v->endpoint_id}, {"iat", v->iat}, {"status", v->status}, {"ear_jws", v->ear_jws}};
  if (reasons.contains("reference_values")) {  // which set it was appraised against (schema 4)
    out["reference_values"] = reasons["reference_values"];
    reasons.erase("reference_values");
  }
  reasons.erase("evidence_sha256");
  out["reasons"] = reasons;
  return out;
}

int VerifierService::purge_nonces() { return store_->purge_nonces(unix_now() - cfg_.nonce_history_s); }

int VerifierService::purge_interval_s() const { return std::clamp(cfg_.nonce_history_s, 1, 60); }

LeaseRound VerifierService::lease_round() {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  LeaseRound r = store_->lease_round(cfg_.instance_id, now_ms, cfg_.lease_ttl_ms);
  std::lock_guard<std::mutex> l(lease_mu_);
  owned_ = std::set<std::string>(r.owned.begin(), r.owned.end());
  lease_counts_.held = static_cast<int64_t>(r.owned.size());
  lease_counts_.live_instances = r.live_instances;
  ++lease_counts_.rounds;
  lease_counts_.taken_over += static_cast<uint64_t>(r.taken_over);
  return r;
}

LeaseCounts VerifierService::lease_counts() const {
  std::lock_guard<std::mutex> l(lease_mu_);
  return lease_counts_;
}

void VerifierService::release_leases() {
  store_->release_instance(cfg_.instance_id);
  std::lock_guard<std::mutex> l(lease_mu_);
  owned_ = std::set<std::string>();
  lease_counts_.held = 0;
}

bool VerifierService::owns(const std::string& id) const {
  std::lock_guard<std::mutex> l(lease_mu_);
  return !owned_ || owned_->count(id) != 0;
}

void VerifierService::poll_round(const std::function<json(const std::string&, const std::string&)>& fetch) {
  for (const EndpointRecord& e : store_->endpoints("pull")) {
    if (!owns(e.id)) continue;  // another instance holds its lease (issue 13)
    try {
      const json n = issue_nonce(e.id);
      const json ev = fetch(e.agent_url, n["nonce"]);
      submit_evidence(e.id, ev);
    } catch (const std::exception& ex) {
      store_->set_poll_error(e.id, ex.what());
    }
  }
}

}  // namespace redoubt::attest
