// The SQLite store's statement and transaction helpers (attestation/service/verifier_store*.cpp
// only): RAII prepared statements with typed binds and an optional per-connection cache, and
// BEGIN IMMEDIATE ... COMMIT rolled back unless committed.
#pragma once
#include <sqlite3.h>

#include <string>
#include <utility>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/verifier_store.hpp"

namespace redoubt::attest::sqlite_detail {

// A prepared statement with RAII and typed binds.
// With a cache (the hot paths, issue 13 throughput): the statement is prepared once per connection,
// taken out of the cache while in use and reset back into it afterwards.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw AttestError("db", std::string("prepare: ") + sqlite3_errmsg(db) + " in: " + sql, 500);
  }
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  Stmt(sqlite3* db, const std::string& sql, SqliteStmtCache& cache) : db_(db), cache_(&cache) {
    if (auto it = cache.find(sql); it != cache.end()) {
      s_ = it->second;
      cache.erase(it);
    } else if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK) {
      throw AttestError("db", std::string("prepare: ") + sqlite3_errmsg(db) + " in: " + sql, 500);
    }
    sql_ = sql;
  }
  ~Stmt() {
    if (cache_ && s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
      if (cache_->emplace(std::move(sql_), s_).second) return;
    }
    sqlite3_finalize(s_);
  }
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)), cache_(o.cache_), sql_(std::move(o.sql_)) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) { return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT)); }
  Stmt& bind(int i, const Bytes& v) { return check(sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT)); }
  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE || sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY)
      throw AttestError("unique_violation", std::string("step: ") + sqlite3_errmsg(db_), 409);
    throw AttestError("db", std::string("step: ") + sqlite3_errmsg(db_), 500);
  }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  Bytes blob(int c) const {
    const uint8_t* b = static_cast<const uint8_t*>(sqlite3_column_blob(s_, c));
    return b ? Bytes(b, b + sqlite3_column_bytes(s_, c)) : Bytes();
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) throw AttestError("db", std::string("bind: ") + sqlite3_errmsg(db_), 500);
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  SqliteStmtCache* cache_ = nullptr;
  std::string sql_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
class Tx {
 public:
  explicit Tx(sqlite3* db, SqliteStmtCache* cache = nullptr) : db_(db), cache_(cache) { run("BEGIN IMMEDIATE"); }
  ~Tx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    if (cache_) {  // a prepared BEGIN/COMMIT: no parsing per transaction
      Stmt s(db_, sql, *cache_);
      try {
        s.step();
      } catch (const AttestError& e) {
        throw AttestError("db", std::string(sql) + ": " + e.reason(), 500);
      }
      return;
    }
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      throw AttestError("db", std::string(sql) + ": " + m, 500);
    }
  }
  sqlite3* db_;
  SqliteStmtCache* cache_;
  bool done_ = false;
};

}  // namespace redoubt::attest::sqlite_detail
