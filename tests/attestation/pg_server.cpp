#include "tests/attestation/pg_server.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tests/support/run_cli.hpp"

namespace redoubt::test {
namespace fs = std::filesystem;

fs::path pg_bindir() {
  CliResult r = run_program({"pg_config", "--bindir"});
  std::string d = r.exit_code == 0 ? r.out : "";
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  // pg_config comes with libpq-dev and may name the client's directory; the server is in postgresql-15's.
  if (d.empty() || !fs::exists(fs::path(d) / "initdb")) d = "/usr/lib/postgresql/15/bin";
  if (!fs::exists(fs::path(d) / "initdb")) throw std::runtime_error("PostgreSQL server programs not found (apt-get install postgresql-15; scripts/setup.sh)");
  return d;
}

namespace {

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  const int p = ntohs(a.sin_port);
  ::close(s);
  return p;
}

}  // namespace

PgServer::PgServer(bool durable) {
  std::string tmpl = (fs::temp_directory_path() / "redoubt-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::vector<std::string> pre;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) pw = ::getpwnam("nobody");
    if (!pw) throw std::runtime_error("running as root and there is neither a `postgres` nor a `nobody` user to run postgres as");
    user_ = pw->pw_name;
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown " + dir_.string() + " failed");
    pre = {"runuser", "-u", user_, "--"};
  }
  const fs::path bin = pg_bindir();
  auto run = [&](std::vector<std::string> argv, const std::string& step) {
    argv.insert(argv.begin(), pre.begin(), pre.end());
    CliResult r = run_program(argv);
    if (r.exit_code != 0) throw std::runtime_error("PostgreSQL " + step + " failed (exit " + std::to_string(r.exit_code) + "): " + r.out + r.err);
  };
  run({(bin / "initdb").string(), "-D", (dir_ / "data").string(), "-A", "trust", "-U", "redoubt", "-E", "UTF8", "--no-sync", "--no-instructions"}, "initdb");
  port_ = free_port();
  std::string opts = "-p " + std::to_string(port_) + " -k " + dir_.string() + " -c listen_addresses='' -c max_connections=200";
  opts += durable ? " -c synchronous_commit=off" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  run({(bin / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-l", (dir_ / "postgres.log").string(), "-w", "-t", "60", "-o", opts, "start"}, "start");
  started_ = true;
}

PgServer::~PgServer() {
  if (started_) {
    std::vector<std::string> argv = {(pg_bindir() / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "fast", "-w", "stop"};
    if (!user_.empty()) argv.insert(argv.begin(), {"runuser", "-u", user_, "--"});
    try {  // a server left running is named on stderr, with pg_ctl's own words (it should never happen)
      const CliResult r = run_program(argv);
      if (r.exit_code != 0) std::cerr << "PgServer: pg_ctl stop of " << dir_ << " failed (exit " << r.exit_code << "): " << r.out << r.err << "\n";
    } catch (const std::exception& e) {
      std::cerr << "PgServer: pg_ctl stop of " << dir_ << " failed: " << e.what() << "\n";
    }
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgServer::url(const std::string& db) const {
  return "postgresql://redoubt@/" + db + "?host=" + dir_.string() + "&port=" + std::to_string(port_);
}

std::string PgServer::create_database(const std::string& name) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(url().c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error("connect: " + std::string(PQerrorMessage(c.get())));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), ("CREATE DATABASE \"" + name + "\"").c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) throw std::runtime_error("CREATE DATABASE " + name + ": " + PQerrorMessage(c.get()));
  return url(name);
}

PgServer& PgServer::shared() {
  static PgServer s;
  return s;
}

}  // namespace redoubt::test
