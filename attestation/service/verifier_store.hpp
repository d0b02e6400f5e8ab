// The verifier's durable state (the interface, and its SQLite backend; the
// PostgreSQL one is verifier_store_pg.hpp): enrolled endpoints, enrolments
// pending their credential activation (apart: a pending re-enrolment never
// touches the enrolled record), outstanding nonces, every verdict ever issued,
// settings (the reference values), and the leases by which several verifier
// instances on one database share the endpoints (docs/operations.md).
// Schema versioned in meta.schema_version; opening a newer schema is refused,
// an older one is migrated in a transaction. Thread-safe.
#pragma once
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "attestation/common/encoding.hpp"
#include "attestation/service/ear_parts.hpp"
#include "attestation/service/group_commit.hpp"
#include "attestation/verifier/quote_verifier.hpp"

namespace redoubt::attest {

// 3: leases, instances, verdicts.nonce UNIQUE. 4: reference-value history and groups (reference_sets,
// endpoints.group_name), revoked tokens, endpoints.stale_marked. 5: PostgreSQL keeps a verdict's EAR in parts
// (verifier_store_pg.cpp; docs/operations.md "Schema"). 6: partial verdict indexes (verifier_store_sql.hpp
// sql::kVerdictIndexes).
inline constexpr int kStoreSchemaVersion = 6;

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
  Bytes nonce;  // the nonce a stored (not one-shot) appraisal consumed: at most one verdict per nonce (empty: none)
  // Set by whoever signed ear_jws, to exactly split_jws(ear_jws) (ear_parts.hpp): the PostgreSQL store
  // keeps these instead of decoding the JWS again (issue 13 throughput). Empty: the store splits ear_jws.
  std::optional<EarParts> ear_parts = std::nullopt;
};

// One lease round's outcome (docs/operations.md "Several instances"): what this instance owns now.
struct LeaseRound {
  std::vector<std::string> owned;  // endpoint ids, sorted
  int live_instances = 0;          // instances whose heartbeat has not expired, this one included
  int taken_over = 0;              // leases taken this round from an instance whose lease had expired
  int released = 0;                // leases given up this round (over the fair share)
};

struct LeaseInfo {
  std::string instance;
  int64_t expires_ms = 0;
};

// One signed reference-value set rolled out through the API (schema 4): every one is kept, in order.
struct ReferenceSetRecord {
  int64_t version = 0;      // 1, 2, ... across every scope (assigned by the store)
  std::string scope;        // "" (every endpoint), "group:NAME" or "endpoint:ID" (an override)
  std::string ref_id;       // the reference values' own id (their "id" field)
  std::string signer;       // key id of the policy authority whose signature was checked
  std::string by;           // who rolled it out (the admin token's subject; "config" at start)
  int64_t created = 0;      // unix time
  std::string cose_b64;     // the COSE_Sign1 document, base64
  int64_t rollback_of = 0;  // a rollback: the earlier version whose content this is (0 = none)
};

// GET /v1/endpoints and /v1/fleet (schema 4): filters, and paging by id after a cursor.
struct EndpointQuery {
  std::string status;           // "" or an effective status (the store computes it as VerifierService does)
  std::optional<std::string> group;  // nullopt: any; "": endpoints in no group
  std::optional<int64_t> seen_before, seen_after;  // last_seen < / > (never seen = 0)
  std::string after_id;         // ids greater than this (the cursor), in id order
  int limit = 100;              // at most this many rows
  int64_t now = 0, stale_push_s = 600, stale_pull_s = 600;  // for the effective status
};

struct EndpointSummary {
  std::string id, mode, status, group, last_error, agent_url;
  int64_t last_seen = 0;
};

// What the verifier keeps, independent of where (issue 13: SQLite now; a second backend, such as
// PostgreSQL, implements the same interface). Every method is one transaction and thread-safe.
class VerifierStore {
 public:
  virtual ~VerifierStore() = default;
  // The backend's own /metrics series, Prometheus text (SQLite: its WAL's checkpoints); none by default.
  virtual std::string metrics_text() { return {}; }
  virtual std::optional<EndpointRecord> endpoint(const std::string& id) = 0;
  virtual std::vector<EndpointRecord> endpoints(const std::string& mode_filter = "") = 0;
  virtual void put_endpoint(const EndpointRecord& e) = 0;  // insert or replace
  virtual bool delete_endpoint(const std::string& id) = 0;  // the endpoint, its pending enrolment and nonces (verdicts stay); false if none

  virtual std::optional<PendingEnrolment> pending(const std::string& id) = 0;
  virtual void put_pending(const PendingEnrolment& p) = 0;   // insert or replace
  virtual void drop_pending(const std::string& id) = 0;
  // One transaction: the pending enrolment becomes the endpoint's (a new AK resets the clock
  // baseline; status, last_seen and verdicts are kept), and is deleted.
  // Exactly once (several instances): throws AttestError no_challenge (409) if the pending enrolment
  // is gone or is another one by then (another activation completed or replaced it).
  virtual void complete_enrolment(const PendingEnrolment& p) = 0;

  virtual std::optional<std::string> setting(const std::string& key) = 0;
  virtual void put_setting(const std::string& key, const std::string& value) = 0;
  virtual void set_poll_error(const std::string& id, const std::string& err) = 0;

  virtual void add_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t expires) = 0;
  // Marks the nonce used. Throws AttestError nonce_unknown (404→ reported as 409), nonce_reused (409),
  // nonce_expired (410) or nonce_wrong_endpoint (409).
  virtual void consume_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t now) = 0;
  virtual int purge_nonces(int64_t expired_before) = 0;  // deletes nonces with expires < expired_before; returns how many

  // Stores a verdict and (if given) the endpoint's new clock/status in one transaction; returns seq.
  // Throws AttestError verdict_exists (409) if a verdict for v.nonce is already stored.
  virtual int64_t add_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock) = 0;
  // Compare-and-set for several instances: as add_verdict, but only if the endpoint's clock record is
  // still `seen` (the one the appraisal compared with); nullopt and nothing written if it moved meanwhile.
  virtual std::optional<int64_t> add_verdict_if_clock(const VerdictRecord& v, const std::optional<ClockState>& seen,
                                                      const std::optional<ClockState>& clock) = 0;
  // A one-shot verdict (no endpoint, no nonce) stored without the caller waiting: `done` is called
  // once it is committed (null) or failed (the error add_verdict would have thrown), on whatever thread
  // committed it, and must not throw. v.seq must come from reserve_verdict_seq. If the caller's thread
  // goes on committing other verdicts after (it leads the commits: AsyncGroupCommit), it calls
  // going_on (if set) before each further batch. Throws only before taking the verdict over. Only where
  // defers_verdicts(): PostgreSQL, whose commits are round trips that a waiting thread per verdict made
  // dearer (docs/verifier-performance.md, fifteenth round). Elsewhere verdicts are stored by add_verdict.
  virtual bool defers_verdicts() const { return false; }
  virtual int64_t reserve_verdict_seq();
  virtual void add_verdict_deferred(VerdictRecord v, std::function<void(std::exception_ptr)> done, std::function<void()> going_on);
  virtual std::vector<VerdictRecord> verdicts(const std::string& endpoint_id, int limit) = 0;
  virtual std::optional<VerdictRecord> verdict(int64_t seq) = 0;
  virtual int64_t verdict_count() = 0;

  virtual std::string integrity_check() = 0;  // PRAGMA integrity_check ("ok")
  virtual int schema_version() = 0;
  virtual std::string backend() const = 0;    // "sqlite" | "postgresql"

  // Leases (issue 13): one transaction, serialised against every other instance's round. Heartbeats
  // `instance` (alive until now_ms + ttl_ms), renews its leases, gives up those over its fair share
  // ceil(endpoints / live instances), and takes unowned or expired ones up to that share.
  virtual LeaseRound lease_round(const std::string& instance, int64_t now_ms, int64_t ttl_ms) = 0;
  virtual void release_instance(const std::string& instance) = 0;  // orderly stop: its leases are free at once
  virtual std::optional<LeaseInfo> lease(const std::string& endpoint_id) = 0;

  // Lifecycle and policy (schema 4; issue 13).
  virtual std::vector<EndpointSummary> list_endpoints(const EndpointQuery& q) = 0;
  virtual bool set_endpoint_group(const std::string& id, const std::string& group) = 0;  // false: no such endpoint
  virtual std::vector<std::pair<std::string, std::string>> endpoint_groups() = 0;       // (id, group) with a group
  virtual int64_t add_reference_set(const ReferenceSetRecord& r) = 0;                    // returns the new version
  virtual std::vector<ReferenceSetRecord> reference_history(const std::optional<std::string>& scope, int limit) = 0;  // newest first
  virtual std::optional<ReferenceSetRecord> reference_set(int64_t version) = 0;
  virtual std::vector<std::pair<std::string, int64_t>> current_reference_versions() = 0;  // (scope, newest version)
  // The verdict stored for a nonce (idempotent retried pushes), if any.
  virtual std::optional<VerdictRecord> verdict_by_nonce(const Bytes& nonce) = 0;
  virtual void revoke_token(const std::string& jti, int64_t exp) = 0;  // kept until exp
  virtual std::vector<std::string> revoked_tokens(int64_t now) = 0;     // those not yet expired
  virtual int purge_revoked_tokens(int64_t now) = 0;
  // Compare-and-set, exactly once per silence: marks the endpoint stale for its last_seen if it is
  // still `last_seen` and not marked for it yet; true if this call marked it.
  virtual bool mark_stale(const std::string& id, int64_t last_seen) = 0;
};

// Prepared statements kept per connection, by their SQL text.
using SqliteStmtCache = std::unordered_map<std::string, sqlite3_stmt*>;

// The embedded default: SQLite (WAL), one connection behind a mutex.
class SqliteStore final : public VerifierStore {
 public:
  explicit SqliteStore(const std::string& path);  // creates or migrates; throws AttestError("db") with the handle closed
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  std::optional<EndpointRecord> endpoint(const std::string& id) override;
  std::vector<EndpointRecord> endpoints(const std::string& mode_filter) override;
  void put_endpoint(const EndpointRecord& e) override;
  bool delete_endpoint(const std::string& id) override;
  std::optional<PendingEnrolment> pending(const std::string& id) override;
  void put_pending(const PendingEnrolment& p) override;
  void drop_pending(const std::string& id) override;
  void complete_enrolment(const PendingEnrolment& p) override;
  std::optional<std::string> setting(const std::string& key) override;
  void put_setting(const std::string& key, const std::string& value) override;
  void set_poll_error(const std::string& id, const std::string& err) override;
  void add_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t expires) override;
  void consume_nonce(const Bytes& nonce, const std::string& endpoint_id, int64_t now) override;
  int purge_nonces(int64_t expired_before) override;
  int64_t add_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock) override;
  std::optional<int64_t> add_verdict_if_clock(const VerdictRecord& v, const std::optional<ClockState>& seen, const std::optional<ClockState>& clock) override;
  std::vector<VerdictRecord> verdicts(const std::string& endpoint_id, int limit) override;
  std::optional<VerdictRecord> verdict(int64_t seq) override;
  int64_t verdict_count() override;
  std::string integrity_check() override;
  int schema_version() override;
  std::string backend() const override { return "sqlite"; }
  bool wal_batched() const { return wal_batched_; }  // one write per commit (sqlite_wal_batch.hpp)
  std::string metrics_text() override;                // the checkpointer's work (redoubt_sqlite_*)
  LeaseRound lease_round(const std::string& instance, int64_t now_ms, int64_t ttl_ms) override;
  void release_instance(const std::string& instance) override;
  std::optional<LeaseInfo> lease(const std::string& endpoint_id) override;
  std::vector<EndpointSummary> list_endpoints(const EndpointQuery& q) override;
  bool set_endpoint_group(const std::string& id, const std::string& group) override;
  std::vector<std::pair<std::string, std::string>> endpoint_groups() override;
  int64_t add_reference_set(const ReferenceSetRecord& r) override;
  std::vector<ReferenceSetRecord> reference_history(const std::optional<std::string>& scope, int limit) override;
  std::optional<ReferenceSetRecord> reference_set(int64_t version) override;
  std::vector<std::pair<std::string, int64_t>> current_reference_versions() override;
  std::optional<VerdictRecord> verdict_by_nonce(const Bytes& nonce) override;
  void revoke_token(const std::string& jti, int64_t exp) override;
  std::vector<std::string> revoked_tokens(int64_t now) override;
  int purge_revoked_tokens(int64_t now) override;
  bool mark_stale(const std::string& id, int64_t last_seen) override;

 private:
  void exec(const char* sql);
  void migrate();
  int64_t insert_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock);  // in the caller's transaction
  // Group commit (add_verdict): verdicts that arrive while one transaction commits wait and are
  // inserted together in the next, one COMMIT (one WAL append) for all; each caller returns only
  // after the COMMIT that holds its verdict, with its own seq or its own error.
  struct VerdictWaiter;
  void commit_verdicts(const std::vector<VerdictWaiter*>& batch);

  void start_checkpointer(const std::string& path);
  bool checkpoint_round();  // the checkpointer thread's work every 200 ms; true: again at once

  sqlite3* db_ = nullptr;
  bool wal_batched_ = false;
  SqliteStmtCache stmts_;  // the hot paths' statements (under mu_)
  std::mutex mu_;
  GroupCommit<VerdictWaiter> gc_;  // add_verdict's batches (group_commit.hpp)
  // WAL checkpoints off the request path: a connection and a thread of their own.
  sqlite3* ckpt_db_ = nullptr;
  std::thread ckpt_thread_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_stop_ = false;
  // What the checkpointer did, for /metrics.
  std::atomic<uint64_t> ckpt_ok_{0}, ckpt_busy_{0}, ckpt_error_{0}, wal_stalls_{0}, wal_stall_us_{0};
  std::atomic<int64_t> wal_frames_{0};
};

// The store at `location`: "postgresql://..." or "postgres://..." (libpq connection URI, PostgreSQL),
// "sqlite:PATH", or a plain PATH (SQLite, the embedded default). Throws AttestError("db").
std::unique_ptr<VerifierStore> open_store(const std::string& location);
// `location` with any password replaced by "***" (for logs).
std::string redact_store_location(const std::string& location);

}  // namespace redoubt::attest
