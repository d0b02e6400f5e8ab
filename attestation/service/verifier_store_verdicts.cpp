// The SQLite store's verdicts: inserted with the endpoint's status (and clock, for an authentic
// quote), group-committed (issue 13 throughput), compare-and-set on the endpoint's clock, read back.
#include <exception>
#include <mutex>
#include <vector>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/sqlite_stmt.hpp"
#include "attestation/service/verifier_store.hpp"

namespace redoubt::attest {

using sqlite_detail::Stmt;
using sqlite_detail::Tx;

// A store that commits in-process (SQLite) stores every verdict through add_verdict.
int64_t VerifierStore::reserve_verdict_seq() { throw AttestError("internal", backend() + " store: verdicts are not deferred", 500); }
void VerifierStore::add_verdict_deferred(VerdictRecord, std::function<void(std::exception_ptr)>, std::function<void()>) {
  throw AttestError("internal", backend() + " store: verdicts are not deferred", 500);
}

int64_t SqliteStore::insert_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock) {
  Stmt s(db_, "INSERT INTO verdicts(endpoint_id, iat, status, summary, ear_jws, nonce) VALUES(?,?,?,?,?,?)", stmts_);
  s.bind(1, v.endpoint_id).bind(2, v.iat).bind(3, v.status).bind(4, v.summary_json).bind(5, v.ear_jws);
  if (v.nonce.empty()) s.bind_null(6);
  else s.bind(6, v.nonce);
  try {
    s.step();
  } catch (const AttestError& e) {
    if (e.code() == "unique_violation") throw AttestError("verdict_exists", "a verdict for nonce " + to_hex(v.nonce) + " is already stored", 409);
    throw;
  }
  const int64_t seq = sqlite3_last_insert_rowid(db_);
  if (!v.endpoint_id.empty()) {
    if (clock) {
      // An authentic quote (its clock is given): the endpoint was seen now.
      Stmt u(db_, "UPDATE endpoints SET status=?, clock=?, reset_count=?, restart_count=?, safe=?, last_error='', last_seen=? WHERE id=?", stmts_);
      u.bind(1, v.status).bind(2, static_cast<int64_t>(clock->clock)).bind(3, int64_t{clock->reset_count}).bind(4, int64_t{clock->restart_count});
      u.bind(5, int64_t{clock->safe}).bind(6, v.iat).bind(7, v.endpoint_id);
      u.step();
    } else {
      Stmt u(db_, "UPDATE endpoints SET status=? WHERE id=?", stmts_);
      u.bind(1, v.status).bind(2, v.endpoint_id);
      u.step();
    }
  }
  return seq;
}

struct SqliteStore::VerdictWaiter {
  const VerdictRecord* v;
  const std::optional<ClockState>* clock;
  int64_t seq = 0;
  std::exception_ptr err;
};

// Issue 13 (throughput): group commit (group_commit.hpp) — verdicts that arrive while a transaction
// commits go together into the next, one COMMIT for all. Nothing is acknowledged before the COMMIT
// that holds it.
int64_t SqliteStore::add_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock) {
  VerdictWaiter me{&v, &clock};
  gc_.submit(me, [this](const std::vector<VerdictWaiter*>& batch) { commit_verdicts(batch); });  // never throws: each gets its seq or error
  if (me.err) std::rethrow_exception(me.err);
  return me.seq;
}

void SqliteStore::commit_verdicts(const std::vector<VerdictWaiter*>& batch) {
  std::lock_guard<std::mutex> l(mu_);
  try {
    Tx tx(db_, &stmts_);
    for (VerdictWaiter* w : batch) w->seq = insert_verdict(*w->v, *w->clock);
    tx.commit();
    return;
  } catch (...) {
    if (batch.size() == 1) {
      batch.front()->err = std::current_exception();
      return;
    }
  }
  // One of them (or the COMMIT) failed and the whole batch was rolled back: each again in its own
  // transaction, so that only a verdict that fails on its own fails (e.g. verdict_exists).
  for (VerdictWaiter* w : batch) {
    try {
      Tx tx(db_, &stmts_);
      w->seq = insert_verdict(*w->v, *w->clock);
      tx.commit();
    } catch (...) {
      w->err = std::current_exception();
    }
  }
}

std::optional<int64_t> SqliteStore::add_verdict_if_clock(const VerdictRecord& v, const std::optional<ClockState>& seen,
                                                         const std::optional<ClockState>& clock) {
  std::lock_guard<std::mutex> l(mu_);
  Tx tx(db_, &stmts_);
  Stmt c(db_, "SELECT clock, reset_count, restart_count, safe FROM endpoints WHERE id=?", stmts_);
  c.bind(1, v.endpoint_id);
  if (!c.step()) throw AttestError("unknown_endpoint", "no endpoint " + v.endpoint_id + " (deleted meanwhile)", 404);
  std::optional<ClockState> now;
  if (!c.is_null(0)) now = ClockState{static_cast<uint64_t>(c.i64(0)), static_cast<uint32_t>(c.i64(1)), static_cast<uint32_t>(c.i64(2)), c.i64(3) != 0};
  if (now.has_value() != seen.has_value() ||
      (now && (now->clock != seen->clock || now->reset_count != seen->reset_count || now->restart_count != seen->restart_count || now->safe != seen->safe)))
    return std::nullopt;
  const int64_t seq = insert_verdict(v, clock);
  tx.commit();
  return seq;
}

namespace {
VerdictRecord read_verdict(const Stmt& s) {
  return VerdictRecord{s.i64(0), s.text(1), s.i64(2), s.text(3), s.text(4), s.text(5)};
}
}  // namespace

std::vector<VerdictRecord> SqliteStore::verdicts(const std::string& endpoint_id, int limit) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT seq, endpoint_id, iat, status, summary, ear_jws FROM verdicts WHERE endpoint_id=? AND endpoint_id <> '' ORDER BY seq DESC LIMIT ?");  // <> '': verdicts_by_endpoint (schema 6)
  s.bind(1, endpoint_id).bind(2, int64_t{limit});
  std::vector<VerdictRecord> out;
  while (s.step()) out.push_back(read_verdict(s));
  return out;
}

std::optional<VerdictRecord> SqliteStore::verdict(int64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT seq, endpoint_id, iat, status, summary, ear_jws FROM verdicts WHERE seq=?");
  s.bind(1, seq);
  if (!s.step()) return std::nullopt;
  return read_verdict(s);
}

int64_t SqliteStore::verdict_count() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM verdicts");
  s.step();
  return s.i64(0);
}

}  // namespace redoubt::attest
