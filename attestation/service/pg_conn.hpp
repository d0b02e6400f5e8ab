// The PostgreSQL store's connection helpers (attestation/service/verifier_store_pg*.cpp only):
// statement parameters, results with RAII, and a pooled connection for the scope of one store call
// with statements prepared once per connection.
#pragma once
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/verifier_store_pg.hpp"
#include "attestation/service/wait_region.hpp"

namespace redoubt::attest::pg_detail {

// A statement parameter: text, or bytea sent in binary format (no escaping).
struct Arg {
  std::string v;
  bool null = false, binary = false;
};
inline Arg A(const std::string& s) { return {s, false, false}; }
inline Arg A(const Bytes& b) { return {std::string(b.begin(), b.end()), false, true}; }
inline Arg A(int64_t i) { return {std::to_string(i), false, false}; }
inline Arg Null() { return {"", true, false}; }

// bytea's text output (PostgreSQL 15 §8.4.1, hex format): "\x" then two hex digits a byte.
inline Bytes unhex_bytea(const char* t, int len) {
  if (len < 2 || t[0] != '\\' || t[1] != 'x') throw AttestError("db", "bytea value not in hex format (bytea_output must be 'hex')", 500);
  return from_hex(std::string_view(t + 2, static_cast<size_t>(len - 2)), "bytea");
}

class Res {
 public:
  explicit Res(PGresult* r) : r_(r) {}
  Res(Res&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  ~Res() { PQclear(r_); }
  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int c) const { return PQgetisnull(r_, row, c) != 0; }
  std::string text(int row, int c) const { return std::string(PQgetvalue(r_, row, c), static_cast<size_t>(PQgetlength(r_, row, c))); }
  Bytes bytes(int row, int c) const { return is_null(row, c) ? Bytes() : unhex_bytea(PQgetvalue(r_, row, c), PQgetlength(r_, row, c)); }
  int64_t i64(int row, int c) const { return is_null(row, c) ? 0 : std::strtoll(PQgetvalue(r_, row, c), nullptr, 10); }
  int64_t affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

inline std::string conn_error(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace redoubt::attest::pg_detail

namespace redoubt::attest {

// A connection of the pool for the scope of one store call; a transaction left open is rolled back.
class PgStore::Conn {
  using Arg = pg_detail::Arg;
  using Res = pg_detail::Res;
  // Statement parameters in libpq's arrays: text, or bytea in binary format.
  struct Params {
    static constexpr size_t kMax = 20;  // the compare-and-set with a clock has 17 (verifier_store_pg_verdicts.cpp)
    const char* vals[kMax];
    int lens[kMax], fmts[kMax];
    int n = 0;
    template <class It>
    Params(It b, It e) {
      if (static_cast<size_t>(e - b) > kMax) throw AttestError("db", "too many statement parameters", 500);
      for (; b != e; ++b, ++n) {
        vals[n] = b->null ? nullptr : b->v.data();
        lens[n] = static_cast<int>(b->v.size());
        fmts[n] = b->binary ? 1 : 0;
      }
    }
  };
 public:
  explicit Conn(PgStore& s) : s_(s), c_(s.acquire()) {}
  ~Conn() {
    if (in_tx_) PQclear(PQexec(c_, "ROLLBACK"));
    s_.release(c_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Res exec(const std::string& sql, std::initializer_list<Arg> args = {}) { return run(sql, args, false); }
  // The same through a statement prepared once per connection (PQprepare: parsed and planned once;
  // the hot paths, issue 13 throughput). DML only (PostgreSQL 15 PREPARE).
  Res prepared(const std::string& sql, std::initializer_list<Arg> args = {}) { return run(sql, args, true); }

  Res run(const std::string& sql, std::initializer_list<Arg> args, bool prepare) { return run(sql, Params(args.begin(), args.end()), prepare); }
  Res run(const std::string& sql, const std::vector<Arg>& args, bool prepare) { return run(sql, Params(args.begin(), args.end()), prepare); }
  Res run(const std::string& sql, const Params& p, bool prepare) {
    const WaitRegion waiting;  // a round trip: another pool worker may run meanwhile (conn_pool.hpp)
    Res r(prepare ? PQexecPrepared(c_, prepared_name(sql, p.n).c_str(), p.n, p.vals, p.lens, p.fmts, 0)
                  : PQexecParams(c_, sql.c_str(), p.n, nullptr, p.vals, p.lens, p.fmts, 0));
    check(r, sql);
    return r;
  }

  // A statement of a pipeline: its SQL (prepared once per connection) and its parameters.
  struct Statement {
    const std::string* sql;
    std::vector<Arg> args;
  };
  // The statements sent at once and run as one implicit transaction, all or nothing: libpq pipeline
  // mode (PostgreSQL 15 §34.5) with one Sync after the last, and statements up to a Sync form one
  // transaction when no BEGIN is sent (§55.2.4). One round trip for all. Returns their results in
  // order; throws what run() throws for the first that failed (then none of them took effect), or
  // AttestError("db_connection") if the connection broke: whether the transaction committed is
  // then unknown, and the caller must not run the statements again.
  std::vector<Res> pipeline(const std::vector<Statement>& stmts) {
    for (const Statement& st : stmts) prepared_name(*st.sql, static_cast<int>(st.args.size()));  // before: PQprepare is synchronous
    if (PQenterPipelineMode(c_) != 1) throw AttestError("db", "cannot enter pipeline mode: " + pg_detail::conn_error(c_), 500);
    bool sent = true;
    for (const Statement& st : stmts) {
      Params p(st.args.begin(), st.args.end());
      sent = sent && PQsendQueryPrepared(c_, prepared_name(*st.sql, p.n).c_str(), p.n, p.vals, p.lens, p.fmts, 0) == 1;
    }
    sent = sent && PQpipelineSync(c_) == 1;
    const WaitRegion waiting;  // a round trip: another pool worker may run meanwhile (conn_pool.hpp)
    std::vector<Res> out;
    std::string first_error;  // run()'s message of the first statement that failed
    bool unique = false, synced = false;
    for (int nulls = 0; sent && !synced && nulls < 2 && PQstatus(c_) == CONNECTION_OK;) {
      PGresult* raw = PQgetResult(c_);  // each statement's result, then null; the Sync's at the end
      if (!raw) {
        ++nulls;
        continue;
      }
      nulls = 0;
      Res r(raw);
      const ExecStatusType st = PQresultStatus(raw);
      if (st == PGRES_PIPELINE_SYNC) {
        synced = true;
      } else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        out.push_back(std::move(r));
      } else if (first_error.empty() && st != PGRES_PIPELINE_ABORTED) {
        const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
        unique = state && std::string(state) == "23505";
        const std::string& sql = *stmts[std::min(out.size(), stmts.size() - 1)].sql;
        std::string m = PQresultErrorMessage(raw);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        first_error = m + " in: " + sql.substr(0, 80);
      }
    }
    if (!synced || PQexitPipelineMode(c_) != 1)
      throw AttestError("db_connection", "the connection to PostgreSQL failed in a pipeline: " + pg_detail::conn_error(c_), 500);
    if (!first_error.empty()) throw AttestError(unique ? "unique_violation" : "db", first_error, unique ? 409 : 500);
    if (out.size() != stmts.size()) throw AttestError("db", "a pipeline answered " + std::to_string(out.size()) + " of its statements", 500);
    return out;
  }

  void begin() {
    exec("BEGIN");
    in_tx_ = true;
  }
  void commit() {
    exec("COMMIT");
    in_tx_ = false;
  }

 private:
  // The name `sql` is prepared under on this connection, prepared now if it is not yet.
  const std::string& prepared_name(const std::string& sql, int nparams) {
    auto& names = s_.prepared_.at(c_);
    auto it = names.find(sql);
    if (it == names.end()) {
      const std::string name = "rd" + std::to_string(names.size());
      Res p(PQprepare(c_, name.c_str(), sql.c_str(), nparams, nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) throw AttestError("db", pg_detail::conn_error(c_) + " in: prepare " + sql.substr(0, 80), 500);
      it = names.emplace(sql, name).first;
    }
    return it->second;
  }
  void check(const Res& r, const std::string& sql) {
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      const std::string m = pg_detail::conn_error(c_) + " in: " + sql.substr(0, 80);
      if (state && std::string(state) == "23505") throw AttestError("unique_violation", m, 409);  // PostgreSQL 15 Appendix A
      throw AttestError("db", m, 500);
    }
  }

  PgStore& s_;
  PGconn* c_;
  bool in_tx_ = false;
};

}  // namespace redoubt::attest
