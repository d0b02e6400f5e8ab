// The PostgreSQL store's verdicts: inserted with the endpoint's status (and clock, for an authentic
// quote), group-committed through one pipeline (issue 13 throughput), compare-and-set on the
// endpoint's clock, read back.
#include <exception>
#include <mutex>
#include <vector>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/ear_parts.hpp"
#include "attestation/service/pg_conn.hpp"

namespace redoubt::attest {

using pg_detail::A;
using pg_detail::Arg;
using pg_detail::Null;
using pg_detail::Res;

namespace {

// A verdict's EAR is stored whole in ear_jws (rows before schema 5, or a JWS that does not split
// exactly) or, with ear_jws empty, as its parts (ear_parts.hpp; PgStore::migrate, schema 5).
constexpr const char* kVerdictCols = "seq, endpoint_id, iat, status, summary, ear_jws, ear_protected, ear_payload, ear_sig";

VerdictRecord read_verdict(const Res& r, int i) {
  std::string jws = r.text(i, 5);
  if (jws.empty() && !r.is_null(i, 6)) jws = join_jws(EarParts{r.text(i, 6), r.bytes(i, 7), r.bytes(i, 8)});
  return VerdictRecord{r.i64(i, 0), r.text(i, 1), r.i64(i, 2), r.text(i, 3), r.text(i, 4), std::move(jws), {}};
}

const std::string kInsertVerdict =
    "INSERT INTO verdicts(endpoint_id, iat, status, summary, ear_jws, nonce, ear_protected, ear_payload, ear_sig)"
    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING seq";
// A verdict whose seq was reserved from the sequence before it was stored (add_verdict_deferred).
const std::string kInsertVerdictWithSeq =
    "INSERT INTO verdicts(endpoint_id, iat, status, summary, ear_jws, nonce, ear_protected, ear_payload, ear_sig, seq)"
    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING seq";
// An authentic quote (its clock is given): the endpoint was seen now.
const std::string kUpdateSeen = "UPDATE endpoints SET status=$1, clock=$2, reset_count=$3, restart_count=$4, safe=$5, last_error='', last_seen=$6 WHERE id=$7";
const std::string kUpdateStatus = "UPDATE endpoints SET status=$1 WHERE id=$2";

// $1..$9 of kInsertVerdict and of the compare-and-set statements.
std::vector<Arg> insert_args(const VerdictRecord& v) {
  std::vector<Arg> a = {A(v.endpoint_id), A(v.iat), A(v.status), A(v.summary_json)};
  a.reserve(9);
  std::optional<EarParts> split;
  const EarParts* p = v.ear_parts ? &*v.ear_parts : (split = split_jws(v.ear_jws)) ? &*split : nullptr;
  a.push_back(p ? A(std::string()) : A(v.ear_jws));
  a.push_back(v.nonce.empty() ? Null() : A(v.nonce));
  if (p) {
    a.push_back(A(p->header));
    a.push_back(A(p->payload));
    a.push_back(A(p->signature));
  } else {
    for (int i = 0; i < 3; ++i) a.push_back(Null());
  }
  return a;
}

// The verdict's INSERT: its seq given when it was reserved (v.seq > 0), else the sequence's next.
PgStore::Conn::Statement insert_statement(const VerdictRecord& v) {
  std::vector<Arg> a = insert_args(v);
  if (v.seq <= 0) return {&kInsertVerdict, std::move(a)};
  a.push_back(A(v.seq));
  return {&kInsertVerdictWithSeq, std::move(a)};
}

// The endpoint's row after its verdict (none for a one-shot verdict).
std::optional<PgStore::Conn::Statement> endpoint_update(const VerdictRecord& v, const std::optional<ClockState>& clock) {
  if (v.endpoint_id.empty()) return std::nullopt;
  if (clock)
    return PgStore::Conn::Statement{&kUpdateSeen, {A(v.status), A(static_cast<int64_t>(clock->clock)), A(int64_t{clock->reset_count}),
                                                   A(int64_t{clock->restart_count}), A(int64_t{clock->safe}), A(v.iat), A(v.endpoint_id)}};
  return PgStore::Conn::Statement{&kUpdateStatus, {A(v.status), A(v.endpoint_id)}};
}

AttestError verdict_exists(const VerdictRecord& v) {
  return AttestError("verdict_exists", "a verdict for nonce " + to_hex(v.nonce) + " is already stored", 409);
}

// One verdict in a transaction of its own: a one-shot verdict is one statement (its own transaction);
// an endpoint's is BEGIN, INSERT, UPDATE, COMMIT.
int64_t add_one(PgStore::Conn& c, const VerdictRecord& v, const std::optional<ClockState>& clock) {
  const auto upd = endpoint_update(v, clock);
  if (upd) c.begin();
  int64_t seq = 0;
  try {
    const PgStore::Conn::Statement ins = insert_statement(v);
    seq = c.run(*ins.sql, ins.args, true).i64(0, 0);
  } catch (const AttestError& e) {
    if (e.code() == "unique_violation") throw verdict_exists(v);
    throw;
  }
  if (!upd) return seq;
  c.run(*upd->sql, upd->args, true);
  c.commit();
  return seq;
}

// The compare-and-set of the push path as one statement (issue 13 throughput; it was BEGIN, SELECT … FOR
// UPDATE, INSERT, UPDATE, COMMIT). `cur` locks the endpoint's row only if its clock record is still `seen`:
// under READ COMMITTED a row another instance updated meanwhile is re-checked at its newest version
// (PostgreSQL 15 §13.2.1), so of two instances racing on one clock record exactly one inserts. The
// verdict and the endpoint's status/clock are written only together (`upd` runs only with `ins`' row).
// Its result row: (the verdict's seq or NULL, whether the endpoint exists).
const std::string kCur =
    "WITH cur AS (SELECT id FROM endpoints WHERE id = $1::text AND (($10::bigint IS NULL AND clock IS NULL) OR"
    " (clock = $10::bigint AND reset_count = $11::bigint AND restart_count = $12::bigint AND safe = $13::bigint)) FOR UPDATE),"
    " ins AS (INSERT INTO verdicts(endpoint_id, iat, status, summary, ear_jws, nonce, ear_protected, ear_payload, ear_sig)"
    " SELECT $1::text, $2::bigint, $3::text, $4::text, $5::text, $6::bytea, $7::text, $8::bytea, $9::bytea FROM cur RETURNING seq),";
const std::string kCasTail = " SELECT (SELECT seq FROM ins), EXISTS (SELECT 1 FROM endpoints WHERE id = $1::text)";
// An authentic quote (its clock is given): the endpoint was seen now.
const std::string kCasWithClock = kCur +
    " upd AS (UPDATE endpoints SET status = $3::text, clock = $14::bigint, reset_count = $15::bigint, restart_count = $16::bigint,"
    " safe = $17::bigint, last_error = '', last_seen = $2::bigint WHERE id = $1::text AND EXISTS (SELECT 1 FROM ins))" + kCasTail;
const std::string kCasStatusOnly =
    kCur + " upd AS (UPDATE endpoints SET status = $3::text WHERE id = $1::text AND EXISTS (SELECT 1 FROM ins))" + kCasTail;

PgStore::Conn::Statement cas_statement(const VerdictRecord& v, const std::optional<ClockState>& seen, const std::optional<ClockState>& clock) {
  auto opt = [](const std::optional<ClockState>& c, int i) {
    if (!c) return Null();
    switch (i) {
      case 0: return A(static_cast<int64_t>(c->clock));
      case 1: return A(int64_t{c->reset_count});
      case 2: return A(int64_t{c->restart_count});
      default: return A(int64_t{c->safe});
    }
  };
  std::vector<Arg> a = insert_args(v);
  for (int i = 0; i < 4; ++i) a.push_back(opt(seen, i));
  if (!clock) return {&kCasStatusOnly, std::move(a)};
  for (int i = 0; i < 4; ++i) a.push_back(opt(clock, i));
  return {&kCasWithClock, std::move(a)};
}

// The compare-and-set's answer: its seq, nothing (the clock record moved meanwhile: nothing written), or
// unknown_endpoint (deleted meanwhile).
std::optional<int64_t> cas_result(const Res& r, const VerdictRecord& v) {
  if (!r.is_null(0, 0)) return r.i64(0, 0);
  if (r.text(0, 1) != "t") throw AttestError("unknown_endpoint", "no endpoint " + v.endpoint_id + " (deleted meanwhile)", 404);
  return std::nullopt;
}

std::optional<int64_t> cas_one(PgStore::Conn& c, const VerdictRecord& v, const std::optional<ClockState>& seen, const std::optional<ClockState>& clock) {
  const PgStore::Conn::Statement st = cas_statement(v, seen, clock);
  try {
    return cas_result(c.run(*st.sql, st.args, true), v);
  } catch (const AttestError& e) {
    if (e.code() == "unique_violation") throw verdict_exists(v);
    throw;
  }
}

}  // namespace

struct PgStore::VerdictWaiter {
  const VerdictRecord* v;
  const std::optional<ClockState>* clock;
  const std::optional<ClockState>* seen = nullptr;  // set: a compare-and-set (add_verdict_if_clock) against this clock record
  std::optional<int64_t> seq;                        // a compare-and-set that found the record moved: none
  std::exception_ptr err;
};

// Issue 13 (throughput), as SqliteStore::add_verdict: group commit (group_commit.hpp), at most
// kMaxVerdictBatch verdicts in one transaction. One caller at a time: one verdict per transaction, the
// statements as before. Nothing is acknowledged before the transaction that holds it has committed.
int64_t PgStore::add_verdict(const VerdictRecord& v, const std::optional<ClockState>& clock) {
  VerdictWaiter me{&v, &clock};
  gc_.submit(me, [this](const std::vector<VerdictWaiter*>& batch) { commit_verdicts(batch); });  // never throws
  if (me.err) std::rethrow_exception(me.err);
  return *me.seq;
}

// The push path's compare-and-set verdicts join the same group commit: each is its one CAS statement
// (below) in the batch's pipeline. Within the batch's transaction the row lock `cur` takes is held until
// the batch commits, so a racing instance's CAS on the same endpoint waits and then sees the new clock
// record: still exactly one of them inserts (attest_lifecycle_test, attest_fleet_test).
std::optional<int64_t> PgStore::add_verdict_if_clock(const VerdictRecord& v, const std::optional<ClockState>& seen, const std::optional<ClockState>& clock) {
  VerdictWaiter me{&v, &clock, &seen};
  gc_.submit(me, [this](const std::vector<VerdictWaiter*>& batch) { commit_verdicts(batch); });
  if (me.err) std::rethrow_exception(me.err);
  return me.seq;
}

// The seqs of one-shot verdicts whose answers are written before they are stored (DeadlineServer::
// defer_answer): taken from the table's own sequence, so they never collide with another instance's
// or with an INSERT's default. A verdict's seq then says nothing about when it was committed; nothing
// reads one-shot verdicts in seq order (an endpoint's history has no one-shot verdicts).
int64_t PgStore::reserve_verdict_seq() {
  std::lock_guard<std::mutex> l(seq_mu_);
  if (seqs_.empty()) {
    Conn c(*this);
    Res r = c.exec("SELECT nextval(pg_get_serial_sequence('verdicts', 'seq')) FROM generate_series(1, $1::int)", {A(int64_t{kSeqBlock})});
    for (int i = 0; i < r.rows(); ++i) seqs_.push_back(r.i64(i, 0));
    if (seqs_.empty()) throw AttestError("db", "the verdicts' sequence gave no values", 500);
  }
  const int64_t seq = seqs_.front();
  seqs_.pop_front();
  return seq;
}

void PgStore::add_verdict_deferred(VerdictRecord v, std::function<void(std::exception_ptr)> done, std::function<void()> going_on) {
  if (v.seq <= 0 || !v.endpoint_id.empty() || !v.nonce.empty())
    throw AttestError("internal", "a deferred verdict is a one-shot verdict with a reserved seq", 500);
  deferred_.submit(std::make_unique<DeferredVerdict>(DeferredVerdict{std::move(v), std::move(done)}),
                   [this](std::vector<std::unique_ptr<DeferredVerdict>>& batch) {
                     static const std::optional<ClockState> kNoClock;
                     std::vector<VerdictWaiter> ws;
                     ws.reserve(batch.size());
                     std::vector<VerdictWaiter*> ptrs;
                     for (auto& d : batch) {
                       ws.push_back(VerdictWaiter{&d->v, &kNoClock});
                       ptrs.push_back(&ws.back());
                     }
                     commit_verdicts(ptrs);  // never throws: each waiter has its seq or its error
                     for (size_t i = 0; i < batch.size(); ++i) {
                       try {
                         batch[i]->done(ws[i].err);
                       } catch (...) {  // done must not throw; if it does, the others still hear of theirs
                       }
                     }
                   },
                   [&going_on] {
                     if (going_on) going_on();
                   });
}

void PgStore::commit_verdicts(const std::vector<VerdictWaiter*>& batch) {
  if (batch.size() > 1) {
    try {
      // Every verdict's INSERT (and its endpoint's UPDATE) in one pipeline, one implicit transaction.
      Conn c(*this);
      std::vector<Conn::Statement> stmts;
      std::vector<size_t> insert_at;
      for (const VerdictWaiter* w : batch) {
        insert_at.push_back(stmts.size());
        if (w->seen) {
          stmts.push_back(cas_statement(*w->v, *w->seen, *w->clock));
          continue;
        }
        stmts.push_back(insert_statement(*w->v));
        if (auto upd = endpoint_update(*w->v, *w->clock)) stmts.push_back(std::move(*upd));
      }
      const std::vector<Res> r = c.pipeline(stmts);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i]->seen) {
          batch[i]->seq = r[insert_at[i]].i64(0, 0);
          continue;
        }
        try {
          batch[i]->seq = cas_result(r[insert_at[i]], *batch[i]->v);
        } catch (...) {  // unknown_endpoint: nothing of it was written; the others' verdicts stand
          batch[i]->err = std::current_exception();
        }
      }
      return;
    } catch (const AttestError& e) {
      if (e.code() == "db_connection") {  // committed or not, unknown: storing them again could store one twice
        for (VerdictWaiter* w : batch) w->err = std::current_exception();
        return;
      }
      // A statement failed (e.g. a nonce's verdict exists): the transaction was rolled back, so each
      // again in its own, and only a verdict that fails on its own fails.
    } catch (...) {
      for (VerdictWaiter* w : batch) w->err = std::current_exception();
      return;
    }
  }
  for (VerdictWaiter* w : batch) {
    try {
      Conn c(*this);
      w->seq = w->seen ? cas_one(c, *w->v, *w->seen, *w->clock) : add_one(c, *w->v, *w->clock);
    } catch (...) {
      w->err = std::current_exception();
    }
  }
}

std::vector<VerdictRecord> PgStore::verdicts(const std::string& endpoint_id, int limit) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + kVerdictCols + " FROM verdicts WHERE endpoint_id=$1 AND endpoint_id <> '' ORDER BY seq DESC LIMIT $2", {A(endpoint_id), A(int64_t{limit})});
  std::vector<VerdictRecord> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_verdict(r, i));
  return out;
}

std::optional<VerdictRecord> PgStore::verdict(int64_t seq) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + kVerdictCols + " FROM verdicts WHERE seq=$1", {A(seq)});
  if (!r.rows()) return std::nullopt;
  return read_verdict(r, 0);
}

int64_t PgStore::verdict_count() {
  Conn c(*this);
  return c.exec("SELECT count(*) FROM verdicts").i64(0, 0);
}

std::optional<VerdictRecord> PgStore::verdict_by_nonce(const Bytes& nonce) {
  Conn c(*this);
  Res r = c.exec(std::string("SELECT ") + kVerdictCols + " FROM verdicts WHERE nonce = $1", {A(nonce)});
  if (!r.rows()) return std::nullopt;
  VerdictRecord v = read_verdict(r, 0);
  v.nonce = nonce;
  return v;
}

}  // namespace redoubt::attest
