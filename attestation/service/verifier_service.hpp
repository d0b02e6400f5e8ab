// The verifier's behaviour behind the HTTP API (docs/api.md), independent of
// HTTP: enrolment (EK certificate chain, then MakeCredential/ActivateCredential),
// nonces, evidence appraisal with per-endpoint clock tracking, verdict history,
// the stateless one-shot verify, and verdict-change webhooks. Thread-safe.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "attestation/service/agent_url.hpp"
#include "attestation/service/verifier_store.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/ek_certificate_check.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::attest {

struct VerifierConfig {
  std::string db_path;
  ManufacturerTrust manufacturers;
  policy::EvpKey signing_key;                 // ES256 key signing every EAR
  std::optional<policy::EvpKey> authority;    // policy authority (verifies reference values)
  std::optional<ReferenceValues> reference;   // the verifier's current reference values
  std::string webhook_url;                    // POSTed on every verdict change ("" = none)
  int nonce_ttl_s = 120;
  int nonce_history_s = 3600;                 // an expired nonce is kept this long (to name a replay), then purged
  AgentAllowList agent_allow;                 // pull mode: the addresses agent URLs may resolve to
  int challenge_ttl_s = 300;
};

class WebhookSender {
 public:
  explicit WebhookSender(std::string url);
  ~WebhookSender();
  void post(nlohmann::json body);  // queued, delivered by one worker thread, 2 s timeout, best effort

 private:
  void run();
  std::string url_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> q_;
  bool stop_ = false;
  std::thread worker_;
};

class VerifierService {
 public:
  explicit VerifierService(VerifierConfig cfg);

  nlohmann::json enrol(const nlohmann::json& body);                       // POST /v1/endpoints
  nlohmann::json activate(const std::string& id, const nlohmann::json& body);  // POST /v1/endpoints/{id}/activate
  nlohmann::json issue_nonce(const std::string& id);                      // POST /v1/endpoints/{id}/nonce
  nlohmann::json submit_evidence(const std::string& id, const nlohmann::json& body);  // POST /v1/endpoints/{id}/evidence
  nlohmann::json endpoint_status(const std::string& id, int history);     // GET /v1/endpoints/{id}
  nlohmann::json list_endpoints();                                        // GET /v1/endpoints
  nlohmann::json verify_oneshot(const nlohmann::json& body);              // POST /v1/verify
  nlohmann::json verdict(int64_t seq);                                    // GET /v1/verdicts/{seq}
  nlohmann::json info();                                                  // GET /v1/info

  // Deletes nonces expired more than nonce_history_s ago; run every purge_interval_s() (issue 16 item 8c).
  int purge_nonces();
  int purge_interval_s() const;
  const AgentAllowList& agent_allow() const { return cfg_.agent_allow; }

  // Pull mode: one round over every enrolled pull endpoint; `fetch(url, nonce_hex)` returns the evidence JSON.
  void poll_round(const std::function<nlohmann::json(const std::string& url, const std::string& nonce_hex)>& fetch);

  VerifierStore& store() { return store_; }
  const std::string& key_id() const { return kid_; }

 private:
  nlohmann::json record(const std::string& endpoint_id, const AppraisalOutcome& a, bool update_clock);

  VerifierConfig cfg_;
  VerifierStore store_;
  std::string kid_;
  std::unique_ptr<WebhookSender> webhook_;
  std::mutex appraise_mu_;  // one appraisal per endpoint at a time (clock ordering)
};

int64_t unix_now();

}  // namespace redoubt::attest
