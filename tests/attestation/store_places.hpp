// The store tests' places and helpers (attest_store_test.cpp, attest_store_schema_test.cpp): a
// fresh store location of either backend — SQLite in a temporary file, PostgreSQL a database on a
// server of the tests' own (pg_server.hpp) — and raw SQL on it.
#pragma once
#include <sqlite3.h>
#include <libpq-fe.h>

#include <unistd.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/verifier_store.hpp"
#include "tests/attestation/pg_server.hpp"
#include "tests/support/launch_fixture.hpp"

namespace redoubt::test::store {

using attest::Bytes;

inline const char* const kBackends[] = {"sqlite", "postgresql"};

// A fresh, empty store location of the backend.
struct Place {
  TempDir dir;
  std::string location;
  explicit Place(const std::string& backend) {
    static int n = 0;
    if (backend == "sqlite") location = "sqlite:" + (dir / "s.db").string();
    else location = PgServer::shared().create_database("store_" + std::to_string(getpid()) + "_" + std::to_string(++n));
  }
};

inline std::string code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const attest::AttestError& e) {
    return e.code();
  }
  return "";
}

inline attest::PendingEnrolment pending(const std::string& id, uint8_t ak) {
  return attest::PendingEnrolment{id, Bytes{1, 2}, Bytes{3}, Bytes{ak}, "push", "", Bytes(32, ak), 99};
}

inline attest::VerdictRecord verdict(const std::string& id, const std::string& status, Bytes nonce = {}) {
  return attest::VerdictRecord{0, id, 1000, status, "{}", "jws." + status, std::move(nonce)};
}

// Raw SQL on a location, to lay out an old schema (migration) or to read what the store wrote.
inline void raw(const std::string& location, const std::string& sql) {
  if (location.rfind("sqlite:", 0) == 0) {
    sqlite3* db = nullptr;
    sqlite3_open(location.substr(7).c_str(), &db);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string m = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error(m);
    return;
  }
  PGconn* c = PQconnectdb(location.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  const std::string m = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(m);
}

}  // namespace redoubt::test::store
