// A PostgreSQL 15 server of the test's (or benchmark's) own, no mocks: initdb
// into a temporary directory, postgres on a free port number with its unix
// socket in that directory (no TCP), stopped and removed at the end. As root it
// runs as an unprivileged user (Debian's `postgres`, made by the postgresql
// package; else `nobody`) through runuser(1): postgres refuses to run as root.
#pragma once
#include <filesystem>
#include <string>

namespace redoubt::test {

class PgServer {
 public:
  // durable=false: fsync off (tests: the server is never killed); true: fsync on, synchronous_commit
  // off (commits survive a crash of a verifier, and of postgres, but not of the machine; as SQLite WAL
  // with synchronous=NORMAL). Throws std::runtime_error naming the step that failed and its output.
  explicit PgServer(bool durable = false);
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  std::string url(const std::string& db = "postgres") const;  // libpq URI over the unix socket
  std::string create_database(const std::string& name);       // CREATE DATABASE name; returns its URL
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }

  // One server per process, started on first use (the service tests with REDOUBT_TEST_STORE=postgresql).
  static PgServer& shared();

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::string user_;  // runuser -u USER (as root), else ""
  bool started_ = false;
};

// The PostgreSQL server programs (pg_config --bindir; Debian: /usr/lib/postgresql/15/bin).
std::filesystem::path pg_bindir();

}  // namespace redoubt::test
