// The verifier's behaviour behind the HTTP API (docs/api.md), independent of
// HTTP: enrolment (EK certificate chain, then MakeCredential/ActivateCredential),
// nonces, evidence appraisal with per-endpoint clock tracking, verdict history,
// the stateless one-shot verify, and verdict-change webhooks. Thread-safe.
#pragma once
#include <array>
#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "attestation/service/agent_url.hpp"
#include "attestation/service/metrics.hpp"
#include "attestation/service/verifier_store.hpp"
#include "attestation/service/work_gate.hpp"
#include "attestation/service/webhook.hpp"
#include "attestation/verifier/appraisal_cache.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/ek_certificate_check.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::attest {

struct VerifierConfig {
  std::string db_path;                        // the store: a path, sqlite:PATH or postgresql://... (open_store)
  // Several instances on one store (docs/operations.md): this instance's name in the leases table
  // ("" = host-pid-random), and how long a lease lives unless renewed by its owner.
  std::string instance_id;
  int lease_ttl_ms = 10000;
  ManufacturerTrust manufacturers;
  policy::EvpKey signing_key;                 // ES256 key signing every EAR
  std::optional<policy::EvpKey> authority;    // policy authority (verifies reference values)
  std::optional<ReferenceValues> reference;   // the verifier's reference values at start (else the stored ones, else none)
  std::string reference_cose;                 // the COSE_Sign1 they were verified from (stored for the next start)
  WebhookOptions webhook;                     // signed POSTs on every verdict change (no urls = none)
  int nonce_ttl_s = 120;
  int nonce_history_s = 3600;                 // an expired nonce is kept this long (to name a replay), then purged
  AgentAllowList agent_allow;                 // pull mode: the addresses agent URLs may resolve to
  int challenge_ttl_s = 300;
  int ear_ttl_s = 600;                        // every EAR's exp = iat + this
  // Appraisals computed at once (work_gate.hpp; the rest wait their turn in arrival order): 0 = the
  // cores online, twice that with PostgreSQL.
  int max_parallel_appraisals = 0;
  // Fail closed (issue 13): an enrolled endpoint with no appraisal of an authentic quote for this long
  // is "stale" (push) or "unreachable" (pull), whatever its last verdict said.
  int stale_after_push_s = 600;
  int stale_after_pull_s = 600;
  // TEST ONLY (`verifier serve --test-unsafe-enrol-before-activation`): the protection of issue 13 off,
  // an enrolment takes effect before ActivateCredential, to show the takeover test fails without it.
  bool test_unsafe_enrol_before_activation = false;
};

class VerifierService {
 public:
  explicit VerifierService(VerifierConfig cfg);

  nlohmann::json enrol(const nlohmann::json& body);                       // POST /v1/endpoints
  nlohmann::json activate(const std::string& id, const nlohmann::json& body);  // POST /v1/endpoints/{id}/activate
  nlohmann::json issue_nonce(const std::string& id);                      // POST /v1/endpoints/{id}/nonce
  nlohmann::json submit_evidence(const std::string& id, const nlohmann::json& body);  // POST /v1/endpoints/{id}/evidence
  nlohmann::json endpoint_status(const std::string& id, int history);     // GET /v1/endpoints/{id}
  // GET /v1/endpoints and (fleet = true: with why, for the status page) GET /v1/fleet: filters
  // status, group, last_seen_before/after; paging limit + cursor, in id order. A bad parameter is a
  // 400 bad_parameter naming it (verifier_lifecycle.cpp).
  nlohmann::json list_endpoints(const std::map<std::string, std::string>& params, bool fleet = false);
  nlohmann::json verify_oneshot(const nlohmann::json& body);              // POST /v1/verify
  // The same answer as JSON text, the EAR claims serialised once (for the JWS and the answer); `status` set.
  std::string verify_oneshot_text(const nlohmann::json& body, std::string& status);
  // The same answer written before its verdict is stored, where the store defers verdicts
  // (VerifierStore::defers_verdicts: PostgreSQL): the seq is reserved, and `store(done, going_on)`
  // stores the verdict without waiting (VerifierStore::add_verdict_deferred), calling done once it is
  // committed or failed. The answer must not be sent before done(null) (DeadlineServer::defer_answer
  // holds it; docs/verifier-performance.md, fifteenth round).
  struct DeferredOneshot {
    std::string answer, status;
    std::function<void(std::function<void(std::exception_ptr)> done, std::function<void()> going_on)> store;
  };
  bool defers_oneshot_verdicts() const;
  DeferredOneshot verify_oneshot_deferred(const nlohmann::json& body);
  nlohmann::json verdict(int64_t seq);                                    // GET /v1/verdicts/{seq}
  nlohmann::json info();                                                  // GET /v1/info
  nlohmann::json delete_endpoint(const std::string& id);                  // DELETE /v1/endpoints/{id}
  // PUT /v1/reference-values {"reference_values": COSE b64[, "group": G | "endpoint": ID]}: a new
  // version in the history (verifier_lifecycle.cpp); `by` is who (the admin token's subject).
  nlohmann::json set_reference_values(const nlohmann::json& body, const std::string& by = "");
  nlohmann::json reference_values_info();                                 // GET /v1/reference-values
  nlohmann::json reference_history(const std::map<std::string, std::string>& params);  // GET /v1/reference-values/history
  nlohmann::json rollback_reference_values(const nlohmann::json& body, const std::string& by);  // POST /v1/reference-values/rollback
  nlohmann::json set_endpoint_group(const std::string& id, const nlohmann::json& body);  // PUT /v1/endpoints/{id}/group
  nlohmann::json revoke_token(const nlohmann::json& body, const std::string& by);        // POST /v1/tokens/revoke
  bool token_revoked(const std::string& jti) const;
  // Every lease round: the newest reference-value set of each scope, the groups and the revoked
  // token ids from the store (what another instance rolled out applies here too), then the stale
  // marks of the endpoints this instance owns (endpoint.stale webhook, once per silence).
  void sync_policy();
  int mark_stale_round();
  uint64_t stale_marked_total() const { return stale_marked_.load(); }
  LeaseCounts lease_counts() const;  // for /metrics: what the last lease round found
  WebhookCounts webhook_counts() const;
  // GET /.well-known/jwks.json: the EAR signing key as a JWK Set (RFC 7517 §5).
  nlohmann::json jwks() const;

  // The reference values in force (nullptr: none; then nothing is appraised, fail closed).
  std::shared_ptr<const ReferenceValues> reference() const;
  // The status a relying party sees: the last verdict's, or stale/unreachable once it is too old.
  std::string effective_status(const EndpointRecord& e, int64_t now) const;
  // Counts by effective status (for /metrics).
  std::map<std::string, int64_t> endpoints_by_status();

  // Deletes nonces expired more than nonce_history_s ago; run every purge_interval_s() (issue 16 item 8c).
  int purge_nonces();
  int purge_interval_s() const;
  const AgentAllowList& agent_allow() const { return cfg_.agent_allow; }
  size_t parallel_appraisals() const { return parallel_; }  // the gate's width: max_parallel_appraisals, or its default

  // Leases (issue 13): one round (renew, give up over the fair share, take unowned or expired ones).
  // Until the first round this instance polls every pull endpoint (a lone instance, or library use).
  LeaseRound lease_round();
  void release_leases();  // orderly stop: the others take this instance's endpoints at their next round
  bool owns(const std::string& endpoint_id) const;
  const std::string& instance_id() const { return cfg_.instance_id; }

  // Pull mode: one round over every enrolled pull endpoint this instance owns; `fetch(url, nonce_hex)` returns the evidence JSON.
  void poll_round(const std::function<nlohmann::json(const std::string& url, const std::string& nonce_hex)>& fetch);

  // Which reference values appraise this endpoint: its own override, else its group's, else the
  // fleet's (scope ""); version 0 = given at start without a history.
  struct RefChoice {
    std::shared_ptr<const ReferenceValues> ref;
    int64_t version = 0;
    std::string scope;
  };
  RefChoice reference_for(const std::string& endpoint_id) const;

  VerifierStore& store() { return *store_; }
  const std::string& key_id() const { return kid_; }

 private:
  // Signs and stores a verdict. With `seen` (an endpoint's appraisal): only if its clock record is still
  // *seen, else nullopt (another instance stored a verdict meanwhile: appraise again).
  AppraisalOutcome appraise_oneshot(const nlohmann::json& body);
  VerdictRecord appraise_oneshot_verdict(const nlohmann::json& body, std::string& payload);  // appraised and signed; payload = the EAR's claims
  // `extra` is kept with the verdict's summary (the reference-value version, the evidence digest).
  std::optional<nlohmann::json> record(const std::string& endpoint_id, const AppraisalOutcome& a, bool update_clock, const Bytes& nonce = {},
                                       const std::optional<ClockState>* seen = nullptr, const nlohmann::json& extra = nullptr);
  // A push retried with the same nonce and the same evidence after its verdict was stored: that verdict.
  std::optional<nlohmann::json> stored_verdict_for_retry(const std::string& id, const Bytes& nonce, const std::string& evidence_sha256);
  void load_reference_history();  // at start (verifier_lifecycle.cpp)
  std::shared_ptr<const ReferenceValues> parse_set(const ReferenceSetRecord& r);
  std::shared_ptr<const ReferenceValues> require_reference() const;  // throws no_reference_values (503)
  int64_t stale_after(const EndpointRecord& e) const;

  VerifierConfig cfg_;
  std::unique_ptr<VerifierStore> store_;
  std::string kid_;
  std::unique_ptr<WebhookSender> webhook_;
  // One push appraisal per endpoint at a time (clock ordering), striped by the endpoint's id: one mutex
  // for all serialised every push and left the store's group commit nothing to batch (issue 13).
  static constexpr size_t kAppraiseStripes = 64;
  std::array<std::mutex, kAppraiseStripes> appraise_mu_;
  size_t parallel_ = 1;
  std::unique_ptr<WorkGate> gate_;  // the CPU-bound part of appraisals, max_parallel_appraisals at a time
  mutable std::mutex ref_mu_;
  std::shared_ptr<const ReferenceValues> ref_;  // replaced whole by PUT /v1/reference-values
  std::shared_ptr<LogAppraisalCache> log_cache_;  // memoised log appraisals under ref_, replaced with it
  std::shared_ptr<LogAppraisalCache> log_cache_for(const ReferenceValues* r) const;  // null unless it is for r
  std::string ref_cose_b64_;                    // and the signed document it came from
  mutable std::mutex lease_mu_;
  std::optional<std::set<std::string>> owned_;  // endpoints this instance holds leases on (nullopt: no round yet)
  LeaseCounts lease_counts_;                     // under lease_mu_
  // Schema 4 policy state, refreshed by sync_policy() (under ref_mu_): scope -> newest set, endpoint -> group,
  // parsed sets by version, revoked token ids.
  std::map<std::string, RefChoice> sets_;
  std::map<std::string, std::string> groups_;
  std::map<int64_t, std::shared_ptr<const ReferenceValues>> parsed_;
  std::set<std::string> revoked_;
  std::atomic<uint64_t> stale_marked_{0};
};

int64_t unix_now();

}  // namespace redoubt::attest
