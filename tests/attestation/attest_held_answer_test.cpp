// POST /v1/verify on PostgreSQL is answered once its verdict is stored, with no thread waiting for the
// commit (DeadlineServer::defer_answer, PgStore::add_verdict_deferred; docs/verifier-performance.md,
// fifteenth round): the answer leaves only after its verdict has committed (not while the table is
// locked), the server keeps serving meanwhile, a verdict that cannot be stored is answered with that
// error and is not stored, two requests sent back to back on one connection are answered in order,
// 32 clients at once (keep-alive and not) each get a verdict that is stored exactly once and is the
// one they were answered, and over TLS the held answer is the one sent (SSL_write from the pool).
#define BOOST_TEST_MODULE attest_held_answer_test
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include "attestation/service/http_api.hpp"
#include "attestation/service/verifier_service.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/pg_server.hpp"
#include "tests/attestation/service_world.hpp"
#include "tests/attestation/store_places.hpp"
#include "tests/attestation/tls_files.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

// An in-process verifier on a fresh PostgreSQL database (a server of the tests' own), and one
// evidence to send it (a real launch quoted by `redoubt quote`).
struct Fixture {
  ServiceWorld w;
  std::string location;
  std::string body;
  std::unique_ptr<attest::VerifierService> svc;
  std::unique_ptr<attest::VerifierHttpServer> http;
  std::thread t;
  std::string url;
  Fixture() {
    location = PgServer::shared().create_database("held_" + std::to_string(getpid()));
    const std::string nonce = "0102030405060708";
    body = json{{"evidence", w.quote(nonce, "held-tpm", "q-held")}, {"nonce", nonce}}.dump();
    attest::VerifierConfig c;
    c.db_path = location;
    c.signing_key = policy::generate_key("P-256");
    c.reference = attest::ReferenceValues{};  // any signer: the verdict's status does not matter here
    c.reference->id = "held";
    svc = std::make_unique<attest::VerifierService>(std::move(c));
    attest::HttpOptions o;
    o.insecure_no_auth = true;
    http = std::make_unique<attest::VerifierHttpServer>(*svc, o);
    url = "http://127.0.0.1:" + std::to_string(http->bind());
    t = std::thread([this] { http->serve(); });
  }
  ~Fixture() {
    http->stop();
    t.join();
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// A connection of its own that holds a lock on the verdicts table until release().
struct TableLock {
  PGconn* c;
  explicit TableLock(const std::string& location) : c(PQconnectdb(location.c_str())) {
    BOOST_TEST_REQUIRE(PQstatus(c) == CONNECTION_OK);
    run("BEGIN");
    run("LOCK TABLE verdicts IN SHARE MODE");  // PostgreSQL 15 §13.3.1: SHARE conflicts with an INSERT's ROW EXCLUSIVE
  }
  void run(const char* sql) {
    PGresult* r = PQexec(c, sql);
    BOOST_TEST_REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK, sql << ": " << PQerrorMessage(c));
    PQclear(r);
  }
  void release() { run("COMMIT"); }
  ~TableLock() { PQfinish(c); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_answer_leaves_only_after_its_verdict_has_committed) {
  Fixture& f = fx();
  BOOST_TEST_REQUIRE(f.svc->defers_oneshot_verdicts());
  const int64_t before = f.svc->store().verdict_count();
  TableLock lock(f.location);
  std::atomic<bool> answered{false};
  std::pair<int, json> got;
  std::thread client([&] {
    got = Http(f.url).post("/v1/verify", f.body);
    answered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  BOOST_TEST(!answered.load());  // its INSERT waits for the lock: nothing may be answered yet
  BOOST_TEST(Http(f.url).get("/healthz").first == 200);  // and the server still serves others meanwhile
  BOOST_TEST(f.svc->store().verdict_count() == before);
  lock.release();
  client.join();
  BOOST_TEST_REQUIRE(got.first == 200, got.second.dump());
  const auto stored = f.svc->store().verdict(got.second["seq"].get<int64_t>());
  BOOST_TEST_REQUIRE(stored.has_value());
  BOOST_TEST(stored->status == got.second["status"].get<std::string>());
  BOOST_TEST(stored->ear_jws == got.second["ear_jws"].get<std::string>());
  BOOST_TEST(f.svc->store().verdict_count() == before + 1);
}

BOOST_AUTO_TEST_CASE(a_verdict_that_cannot_be_stored_is_answered_with_the_error) {
  Fixture& f = fx();
  const int64_t before = f.svc->store().verdict_count();
  // Every new row fails the check (NOT VALID: the rows already there are not checked).
  store::raw(f.location, "ALTER TABLE verdicts ADD CONSTRAINT held_test_refuses CHECK (false) NOT VALID");
  httplib::Client c("127.0.0.1", std::stoi(f.url.substr(f.url.rfind(':') + 1)));
  auto r = c.Post("/v1/verify", f.body, "application/json");
  BOOST_TEST_REQUIRE(static_cast<bool>(r));
  BOOST_TEST(r->status == 500);
  const json e = json::parse(r->body);
  BOOST_TEST(e["error"] == "db");
  BOOST_TEST(e["reason"].get<std::string>().find("held_test_refuses") != std::string::npos, e.dump());
  BOOST_TEST(r->get_header_value("Connection") == "close");
  BOOST_TEST(f.svc->store().verdict_count() == before);
  auto [mc, m] = Http(f.url).get("/metrics");
  BOOST_TEST(m["raw"].get<std::string>().find("\nredoubt_store_errors_total 1\n") != std::string::npos);
  store::raw(f.location, "ALTER TABLE verdicts DROP CONSTRAINT held_test_refuses");
  BOOST_TEST(Http(f.url).post("/v1/verify", f.body).first == 200);
  BOOST_TEST(f.svc->store().verdict_count() == before + 1);
}

BOOST_AUTO_TEST_CASE(many_clients_each_get_their_own_verdict_stored_exactly_once) {
  Fixture& f = fx();
  const int64_t before = f.svc->store().verdict_count();
  constexpr int kClients = 32, kEach = 15;
  std::vector<std::vector<json>> answers(kClients);
  std::vector<std::thread> ts;
  for (int i = 0; i < kClients; ++i)
    ts.emplace_back([&, i] {
      Http h(f.url);
      h.c.set_keep_alive(i % 2 == 0);  // half on one connection each, half a connection per request
      for (int k = 0; k < kEach; ++k) {
        auto [code, a] = h.post("/v1/verify", f.body);
        a["http_status"] = code;
        answers[static_cast<size_t>(i)].push_back(a);
      }
    });
  for (auto& t : ts) t.join();
  std::set<int64_t> seqs;
  int ok = 0;
  for (const auto& per : answers)
    for (const json& a : per) {
      BOOST_TEST(a["http_status"] == 200, a.dump());
      if (a["http_status"] != 200) continue;
      ++ok;
      const int64_t seq = a["seq"].get<int64_t>();
      seqs.insert(seq);
      const auto stored = f.svc->store().verdict(seq);
      BOOST_TEST_REQUIRE(stored.has_value());
      BOOST_TEST(stored->ear_jws == a["ear_jws"].get<std::string>());
    }
  BOOST_TEST(ok == kClients * kEach);
  BOOST_TEST(seqs.size() == static_cast<size_t>(kClients * kEach));  // no seq answered twice
  BOOST_TEST(f.svc->store().verdict_count() == before + kClients * kEach);  // none stored twice, none lost
}

BOOST_AUTO_TEST_CASE(pipelined_requests_on_one_connection_are_answered_in_order) {
  Fixture& f = fx();
  const int64_t before = f.svc->store().verdict_count();
  const int port = std::stoi(f.url.substr(f.url.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto request = [&](bool last) {
    return "POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(f.body.size()) +
           (last ? "\r\nConnection: close" : "") + "\r\n\r\n" + f.body;
  };
  const std::string both = request(false) + request(true);  // the second is sent before the first is answered
  BOOST_TEST_REQUIRE(::send(fd, both.data(), both.size(), 0) == static_cast<ssize_t>(both.size()));
  std::string got;
  char buf[65536];
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));  // until the server closes
  ::close(fd);
  std::vector<int64_t> seqs;
  const std::regex answer("HTTP/1\\.1 200 OK\r\n[^]*?\"seq\":([0-9]+)");
  for (auto it = std::sregex_iterator(got.begin(), got.end(), answer); it != std::sregex_iterator(); ++it) seqs.push_back(std::stoll((*it)[1]));
  BOOST_TEST_REQUIRE(seqs.size() == 2u, got.substr(0, 400));
  BOOST_TEST(seqs[0] != seqs[1]);
  BOOST_TEST(f.svc->store().verdict_count() == before + 2);
  for (int64_t seq : seqs) BOOST_TEST(f.svc->store().verdict(seq).has_value());
}

BOOST_AUTO_TEST_CASE(over_tls_the_held_answer_is_sent_once_committed) {
  Fixture& f = fx();
  TlsFiles tls(f.w.dir / "held-tls");
  attest::VerifierConfig c;
  c.db_path = PgServer::shared().create_database("held_tls_" + std::to_string(getpid()));
  c.signing_key = policy::generate_key("P-256");
  c.reference = attest::ReferenceValues{};
  c.reference->id = "held";
  attest::VerifierService svc(std::move(c));
  attest::HttpOptions o;
  o.insecure_no_auth = true;
  o.tls_cert = tls.cert;
  o.tls_key = tls.key;
  attest::VerifierHttpServer http(svc, o);
  const int port = http.bind();
  std::thread t([&] { http.serve(); });
  BOOST_TEST_REQUIRE(svc.defers_oneshot_verdicts());
  httplib::SSLClient cl("127.0.0.1", port);
  cl.set_ca_cert_path(tls.ca.c_str());
  cl.enable_server_certificate_verification(true);
  cl.set_keep_alive(true);
  cl.set_read_timeout(30, 0);
  std::set<int64_t> seqs;
  for (int i = 0; i < 3; ++i) {  // on one connection: each held answer, then the next request
    auto r = cl.Post("/v1/verify", f.body, "application/json");
    BOOST_TEST_REQUIRE(static_cast<bool>(r), httplib::to_string(r.error()));
    BOOST_TEST_REQUIRE(r->status == 200, r->body);
    const json a = json::parse(r->body);
    const auto stored = svc.store().verdict(a["seq"].get<int64_t>());
    BOOST_TEST_REQUIRE(stored.has_value());
    BOOST_TEST(stored->ear_jws == a["ear_jws"].get<std::string>());
    seqs.insert(a["seq"].get<int64_t>());
  }
  BOOST_TEST(seqs.size() == 3u);
  BOOST_TEST(svc.store().verdict_count() == 3);
  http.stop();
  t.join();
}
