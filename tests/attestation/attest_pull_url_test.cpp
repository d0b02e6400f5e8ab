// Issue 16 item 4 (pull-mode SSRF) on a real verifier process: enrolment
// refuses agent URLs that are malformed or resolve to addresses the operator
// has not allowed (loopback, link-local, private ... by default), the poller
// checks again before every poll, and `last_error` names the cause (status
// code, size) without ever showing what a foreign server answered.
#define BOOST_TEST_MODULE attest_pull_url
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

constexpr const char* kSecret = "SECRET-INTERNAL-METADATA-7f3a";

json enrol_body(const std::string& url) {
  // Key material is checked after the URL: "AAAA" reaches the URL rule and then fails as malformed_public.
  return {{"id", "ssrf"}, {"ek_certificate", "AAAA"}, {"ek_public", "AAAA"}, {"ak_public", "AAAA"}, {"mode", "pull"}, {"agent_url", url}};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// An internal service on loopback that a pull endpoint's agent_url was pointed at.
struct InternalService {
  httplib::Server srv;
  std::atomic<int> mode{0};  // 0: 500 with the secret, 1: 200 with the secret (not JSON), 2: 200 with 6 MiB
  std::thread t;
  explicit InternalService(int port) {
    srv.Get("/v1/quote", [this](const httplib::Request&, httplib::Response& res) {
      if (mode == 0) {
        res.status = 500;
        res.set_content(std::string(kSecret) + " internal error page", "text/plain");
      } else if (mode == 1) {
        res.set_content(std::string(kSecret) + " {\"not\": \"json\"", "application/json");
      } else {
        res.set_content(std::string(6 * 1024 * 1024, 'x') + kSecret, "application/json");
      }
    });
    if (!srv.bind_to_port("127.0.0.1", port)) throw std::runtime_error("cannot bind the internal service");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~InternalService() {
    srv.stop();
    t.join();
  }
};

// Bounded wait until the endpoint's last_error contains `needle`; returns it.
std::string wait_last_error(Http& h, const std::string& id, const std::string& needle) {
  std::string last;
  for (int i = 0; i < 200; ++i) {
    auto [code, st] = h.get("/v1/endpoints/" + id);
    last = st.value("last_error", "");
    if (code == 200 && last.find(needle) != std::string::npos) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_ERROR("last_error of " << id << " never contained '" << needle << "': " << last);
  return last;
}

}  // namespace

BOOST_AUTO_TEST_CASE(enrolment_refuses_agent_urls_that_are_malformed_or_not_allowed) {
  ServiceWorld w;
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "v.db").string()});
  VerifierProcess v(args, w.dir / "v.out");
  Http h(v.url);
  struct Case {
    std::string url;
    int status;
    std::string error, why;
  } cases[] = {
      {"http://169.254.169.254", 403, "agent_url_not_allowed", "169.254.169.254 is link-local"},
      {"http://127.0.0.1:8440", 403, "agent_url_not_allowed", "127.0.0.1 is loopback"},
      {"http://localhost:8440", 403, "agent_url_not_allowed", "is loopback"},
      {"http://[::1]:8440", 403, "agent_url_not_allowed", "::1 is not a global unicast"},
      {"http://[::ffff:127.0.0.1]:8440", 403, "agent_url_not_allowed", "127.0.0.1 is loopback"},
      {"http://10.1.2.3", 403, "agent_url_not_allowed", "private"},
      {"http://0.0.0.0:1", 403, "agent_url_not_allowed", "\"this network\""},
      {"ftp://1.1.1.1", 400, "bad_agent_url", "scheme \"ftp\""},
      {"1.1.1.1:80", 400, "bad_agent_url", "must start with http:// or https://"},
      {"http://user:pw@1.1.1.1", 400, "bad_agent_url", "userinfo"},
      {"http://1.1.1.1:99999", 400, "bad_agent_url", "port 99999 is not 1..65535"},
      {"http://1.1.1.1:0", 400, "bad_agent_url", "port 0 is not 1..65535"},
      {"http://1.1.1.1/admin?x=1", 400, "bad_agent_url", "path, query or fragment"},
      {"http://1.1.1.1 /", 400, "bad_agent_url", "space"},
      {"http://127.1", 400, "bad_agent_url", "not a dotted-quad"},
      {"http://" + std::string(300, 'a'), 400, "bad_agent_url", "more than 256"},
      {"http://a..b", 400, "bad_agent_url", "not a DNS name"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.url) {
      auto [code, j] = h.post("/v1/endpoints", enrol_body(c.url));
      BOOST_TEST(code == c.status, j.dump());
      BOOST_TEST(j["error"] == c.error, j.dump());
      BOOST_TEST(j.value("reason", "").find(c.why) != std::string::npos, j.dump());
    }
  }
  // A global address passes the URL rule (and fails later, on the made-up keys).
  auto [code, j] = h.post("/v1/endpoints", enrol_body("https://1.1.1.1:8443/"));
  BOOST_TEST(code == 400, j.dump());
  BOOST_TEST(j["error"] == "malformed_public", j.dump());
}

BOOST_AUTO_TEST_CASE(agent_allow_opens_exactly_the_listed_ranges) {
  ServiceWorld w;
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "v.db").string(), "--agent-allow", "127.0.0.1/32", "--agent-allow", "fd00::/8"});
  VerifierProcess v(args, w.dir / "v.out");
  Http h(v.url);
  for (const char* ok : {"http://127.0.0.1:9", "http://[fd12::1]:9"}) {
    auto [code, j] = h.post("/v1/endpoints", enrol_body(ok));
    BOOST_TEST(j["error"] == "malformed_public", ok << " " << j.dump());
  }
  for (const char* no : {"http://127.0.0.2:9", "http://1.1.1.1:9", "http://169.254.169.254"}) {
    auto [code, j] = h.post("/v1/endpoints", enrol_body(no));
    BOOST_TEST(code == 403, no << " " << j.dump());
    BOOST_TEST(j.value("reason", "").find("is not in --agent-allow") != std::string::npos, j.dump());
  }
  CliResult bad = run_redoubt({"verifier", "serve", "--db", (w.dir / "x.db").string(), "--agent-allow", "10.0.0.0/33", "--insecure-no-auth"});
  BOOST_TEST(bad.exit_code == 2, bad.out + bad.err);
  BOOST_TEST(bad.err.find("--agent-allow 10.0.0.0/33: prefix length must be 0..32") != std::string::npos, bad.err);
}

// The verifier published the body of whatever its agent_url answered in last_error. Now it names
// the status code and size only; and a URL allowed at enrolment is checked again before each poll.
BOOST_AUTO_TEST_CASE(last_error_names_the_cause_never_the_foreign_body) {
  ServiceWorld w;
  const int port = free_port();
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "pull.db").string(), "--poll-interval-ms", "100", "--agent-allow", "127.0.0.1/32"});
  auto v = std::make_unique<VerifierProcess>(args, w.dir / "pull.out");
  {
    // A genuine pull endpoint enrols with http://127.0.0.1:PORT, is polled once, and goes away.
    ChildProcess ep(w.endpoint_argv(v->url, "moved", {"--mode", "pull", "--listen", "127.0.0.1:" + std::to_string(port), "--serve-seconds", "60"}),
                    w.dir / "moved.out");
    ep.wait_for("enrolled moved");
    Http h(v->url);
    for (int i = 0; i < 200; ++i) {
      if (h.get("/v1/endpoints/moved").second["history"].size() >= 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ep.terminate();
  }
  InternalService internal(port);  // now something else answers at that address
  Http h(v->url);
  const std::string e500 = wait_last_error(h, "moved", "HTTP 500");
  BOOST_TEST(e500.find(kSecret) == std::string::npos, e500);
  BOOST_TEST(e500.find("bytes, not shown") != std::string::npos, e500);
  internal.mode = 1;
  const std::string ejson = wait_last_error(h, "moved", "not a JSON object");
  BOOST_TEST(ejson.find(kSecret) == std::string::npos, ejson);
  internal.mode = 2;
  const std::string ebig = wait_last_error(h, "moved", "more than 4194304 bytes");
  BOOST_TEST(ebig.find(kSecret) == std::string::npos, ebig);
  auto [c, st] = h.get("/v1/endpoints/moved");
  BOOST_TEST(st.dump().find(kSecret) == std::string::npos);
  (void)c;

  // The same database under a verifier without --agent-allow: the loopback agent is no longer polled.
  v.reset();
  internal.mode = 0;
  auto v2 = std::make_unique<VerifierProcess>(std::vector<std::string>{"--db", (w.dir / "pull.db").string(), "--poll-interval-ms", "100", "--token-issuer", w.issuer_pub}, w.dir / "pull2.out");
  Http h2(v2->url);
  const std::string denied = wait_last_error(h2, "moved", "agent_url_not_allowed");
  BOOST_TEST(denied.find("127.0.0.1 is loopback") != std::string::npos, denied);
}
