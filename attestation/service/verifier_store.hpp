// The verifier's durable state in SQLite (WAL, one transaction per change):
// enrolled endpoints, enrolments pending their credential activation (apart:
// a pending re-enrolment never touches the enrolled record), outstanding
// nonces, every verdict ever issued, and settings (the reference values).
// Schema versioned in meta.schema_version; opening a newer schema is refused,
// an older one is migrated in a transaction. Thread-safe (one connection, a mutex).
#pragma once
#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "attestation/common/encoding.hpp"
#include "attestation/verifier/quote_verifier.hpp"

namespace redoubt::attest {

inline constexpr int kStoreSchemaVersion = 2;

struct EndpointRecord {
  std::string id;
  Bytes ek_public, ek_certificate, ak_public;
  std::string mode = "push";  // "push" | "pull"
  std::string agent_url;      // pull mode: where GET /v1/quote lives
  bool enrolled = false;
  Bytes challenge_hash;       // SHA-256 of the credential secret while enrolment is pending
  int64_t challenge_expires = 0;
  std::optional<ClockState> clock;  // last accepted clockInfo
  std::string status = "none";      // current verdict status
  std::string last_error;           // pull mode: last polling problem
  int64_t last_seen = 0;            // unix time of the last appraisal of an authentic quote (0 = never)
};

// An enrolment (or re-enrolment) waiting for ActivateCredential (TPM 2.0 Part 1 §24): nothing of it
// reaches the endpoints table before the secret comes back.
struct PendingEnrolment {
  std::string id;
  Bytes ek_public, ek_certificate, ak_public;
  std::string mode = "push", agent_url;
  Bytes challenge_hash;  // SHA-256 of the credential secret
  int64_t challenge_expires = 0;
};

struct VerdictRecord {
  int64_t seq = 0;
  std::string endpoint_id;
  int64_t iat = 0;
  std::string status;
  std::string summary_json;  // failures/warnings/notes
  std::string ear_jws;
};

class VerifierStore {
 public:
  explicit VerifierStore(const std::string& path);  // creates or migrates; throws AttestError("db") with the handle closed
  ~VerifierStore();
  VerifierStore(const VerifierStore&) = delete;
  VerifierStore& operator=(const VerifierStore&) = delete;

  std::optional<EndpointRecord> endpoint(const std::string& id);
  std::vector<EndpointRecord> endpoints(const std::string& mode_filter = "");
  void put_endpoint(const EndpointRecord& e);  // insert or replace
  bool delete_endpoint(const std::string& id);  // the endpoint, its pending enrolment and nonces (verdicts stay); false if none

  std::optional<PendingEnrolment> pending(const std::string& id);
  void put_pending(const PendingEnrolment& p);   // insert or replace
  void drop_pending(const std::string& id);
  // One transaction: the pending enrolment becomes the endpoint's (a new AK resets the clock
  // baseline; status, last_seen and verdicts are kept), and is deleted.
  void complete_enrolment(const PendingEnrolment& p);

  std::optional<std::string> setting(const std::string& key);
  void put_setting(const std::string& key, const std::string& value);
  void set_poll_error(const std::string& id, const std::string& err);

  void add_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t expires);
  // Marks the nonce used. Throws AttestError nonce_unknown (404→ reported as 409), nonce_reused (409),
  // nonce_expired (410) or nonce_wrong_endpoint (409).
  void consume_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t now);
  int purge_nonces(int64_t expired_before);  // deletes nonces with expires < expired_before; returns how many

  // Stores a verdict and (if given) the endpoint's new clock/status in one transaction; returns seq.
  int64_t add_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock);
  std::vector<VerdictRecord> verdicts(const std::string& endpoint_id, int limit);
  std::optional<VerdictRecord> verdict(int64_t seq);
  int64_t verdict_count();

  std::string integrity_check();  // PRAGMA integrity_check ("ok")
  int schema_version();

 private:
  void exec(const char* sql);
  void migrate();

  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace redoubt::attest
