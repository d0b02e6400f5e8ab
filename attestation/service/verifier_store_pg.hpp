// The verifier's store on PostgreSQL (libpq), for several verifier instances
// sharing one fleet (docs/operations.md): the same tables, migrations and
// transaction boundaries as the SQLite store (verifier_store.hpp), a small pool
// of connections, and every cross-instance race settled inside the database
// (row updates guarded by their WHERE clause, unique constraints, and an
// advisory lock that serialises migrations and lease rounds).
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "attestation/service/verifier_store.hpp"

typedef struct pg_conn PGconn;

namespace redoubt::attest {

class PgStore final : public VerifierStore {
 public:
  // `url`: a libpq connection URI (postgresql://user@host:port/db?host=/socket/dir ...). Creates or
  // migrates the schema; throws AttestError("db") naming the cause (the password never shown).
  explicit PgStore(const std::string& url, int connections = 4);
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

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
  bool defers_verdicts() const override { return true; }
  int64_t reserve_verdict_seq() override;
  void add_verdict_deferred(VerdictRecord v, std::function<void(std::exception_ptr)> done, std::function<void()> going_on) override;
  std::vector<VerdictRecord> verdicts(const std::string& endpoint_id, int limit) override;
  std::optional<VerdictRecord> verdict(int64_t seq) override;
  int64_t verdict_count() override;
  std::string integrity_check() override;
  int schema_version() override;
  std::string backend() const override { return "postgresql"; }
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

  class Conn;  // a checked-out connection (verifier_store_pg.cpp)

 private:
  friend class Conn;
  PGconn* acquire();
  void release(PGconn* c);
  void migrate();
  struct VerdictWaiter;  // verifier_store_pg_verdicts.cpp
  void commit_verdicts(const std::vector<VerdictWaiter*>& batch);

  std::string url_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PGconn*> all_, idle_;
  // Per connection: SQL text -> the name it is prepared under (used only by the thread holding the connection).
  std::unordered_map<PGconn*, std::unordered_map<std::string, std::string>> prepared_;
  // The verdicts' group commit (group_commit.hpp). At most this many verdicts in one pipeline: its
  // results (~100 bytes each) stay far below what the sockets buffer, so the blocking sends cannot
  // wait on a server that waits on us to read.
  static constexpr size_t kMaxVerdictBatch = 64;
  GroupCommit<VerdictWaiter> gc_{kMaxVerdictBatch, true};
  // One-shot verdicts stored without a waiting thread (add_verdict_deferred), in batches of their own.
  struct DeferredVerdict {
    VerdictRecord v;
    std::function<void(std::exception_ptr)> done;
  };
  AsyncGroupCommit<DeferredVerdict> deferred_{kMaxVerdictBatch};
  // Seqs taken from the verdicts' sequence ahead of their verdicts, a block per round trip
  // (reserve_verdict_seq); a block this instance does not use up is a gap, as a rolled-back INSERT's is.
  static constexpr int kSeqBlock = 64;
  std::mutex seq_mu_;
  std::deque<int64_t> seqs_;
};

}  // namespace redoubt::attest
