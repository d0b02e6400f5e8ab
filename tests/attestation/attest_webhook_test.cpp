// Issue 13, signed webhooks: a verdict change is POSTed with
// X-Redoubt-Signature = sha256=HMAC-SHA256(secret, timestamp "." body) — the
// receiver here checks it with OpenSSL's HMAC, not the verifier's code — and
// retried with exponential backoff after a 500 (same delivery id, a fresh
// timestamp and signature). A changed body or another secret does not verify;
// a verdict that does not change sends nothing.
#define BOOST_TEST_MODULE attest_webhook_test
#include <boost/test/unit_test.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mutex>
#include <thread>

#include "attestation/service/verifier_service.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

const std::string kSecret = "webhook-secret-for-tests-0123456789";

std::string hmac_hex(const std::string& key, const std::string& msg) {
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) s += {hex[mac[i] >> 4], hex[mac[i] & 15]};
  return s;
}

struct Delivery {
  std::string id, attempt, timestamp, signature, body;
  std::chrono::steady_clock::time_point at;
};

// A receiver that answers 500 to the first `fail_first` requests, then 200.
struct Receiver {
  httplib::Server srv;
  int port = 0;
  int fail_first = 1;
  std::mutex mu;
  std::vector<Delivery> got;
  std::thread t;
  Receiver() {
    srv.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu);
      got.push_back({req.get_header_value("X-Redoubt-Delivery"), req.get_header_value("X-Redoubt-Attempt"),
                     req.get_header_value("X-Redoubt-Timestamp"), req.get_header_value("X-Redoubt-Signature"), req.body,
                     std::chrono::steady_clock::now()});
      res.status = static_cast<int>(got.size()) <= fail_first ? 500 : 200;
    });
    port = srv.bind_to_any_port("127.0.0.1");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~Receiver() {
    srv.stop();
    t.join();
  }
  std::vector<Delivery> wait_for(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> l(mu);
        if (got.size() >= n) return got;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::lock_guard<std::mutex> l(mu);
    return got;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_verdict_change_is_signed_and_retried_after_a_500) {
  ServiceWorld w;
  Receiver rx;
  write_file(w.dir / "webhook.secret", std::vector<uint8_t>(kSecret.begin(), kSecret.end()));
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "wh.db").string(), "--webhook", "http://127.0.0.1:" + std::to_string(rx.port) + "/hook",
                           "--webhook-secret-file", (w.dir / "webhook.secret").string(), "--webhook-backoff-ms", "300"});
  VerifierProcess v(args, w.dir / "wh.out");
  CliResult r = w.endpoint(v.url, "lab-hook");
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);

  const std::vector<Delivery> d = rx.wait_for(2);
  BOOST_TEST_REQUIRE(d.size() == 2u);
  // The same event twice: attempt 1 answered 500, attempt 2 after the backoff.
  BOOST_TEST(d[0].id.size() == 32u);
  BOOST_TEST(d[1].id == d[0].id);
  BOOST_TEST(d[0].attempt == "1");
  BOOST_TEST(d[1].attempt == "2");
  BOOST_TEST(d[1].body == d[0].body);
  const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(d[1].at - d[0].at).count();
  BOOST_TEST(gap >= 290, gap);
  for (const Delivery& x : d) {
    BOOST_TEST(x.signature == "sha256=" + hmac_hex(kSecret, x.timestamp + "." + x.body), x.signature);
    BOOST_TEST(std::abs(std::stoll(x.timestamp) - attest::unix_now()) < 60);
  }
  const json e = json::parse(d[1].body);
  BOOST_TEST(e["event"] == "verdict_changed");
  BOOST_TEST(e["endpoint"] == "lab-hook");
  BOOST_TEST(e["previous"] == "none");  // enrolled, never appraised
  BOOST_TEST(e["status"] == "affirming");
  BOOST_TEST(e["ear_jws"].get<std::string>().size() > 100u);
  // What a receiver must refuse: a changed body, or a signature under another secret.
  std::string changed = d[1].body;
  changed.replace(changed.find("affirming"), 9, "warning__");
  BOOST_TEST(d[1].signature != "sha256=" + hmac_hex(kSecret, d[1].timestamp + "." + changed));
  BOOST_TEST(d[1].signature != "sha256=" + hmac_hex(kSecret + "x", d[1].timestamp + "." + d[1].body));

  // The same verdict again (the endpoint attests once more): no change, nothing sent.
  r = w.endpoint(v.url, "lab-hook");
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  BOOST_TEST(rx.wait_for(3).size() == 2u);
}

BOOST_AUTO_TEST_CASE(webhooks_without_a_secret_or_with_a_short_one_are_refused) {
  ServiceWorld w;
  auto base = w.verifier_args();
  base.insert(base.end(), {"--db", (w.dir / "ns.db").string(), "--webhook", "http://127.0.0.1:9/hook"});
  std::vector<std::string> a = {"verifier", "serve", "--listen", "127.0.0.1:0"};
  a.insert(a.end(), base.begin(), base.end());
  CliResult r = run_redoubt(a);
  BOOST_TEST(r.exit_code == 2, r.out + r.err);
  BOOST_TEST(r.err.find("--webhook needs --webhook-secret-file FILE") != std::string::npos, r.err);
  write_file(w.dir / "short.secret", std::vector<uint8_t>{'a', 'b', 'c'});
  a.insert(a.end(), {"--webhook-secret-file", (w.dir / "short.secret").string()});
  r = run_redoubt(a);
  BOOST_TEST(r.exit_code == 3, r.out + r.err);
  BOOST_TEST(r.err.find("the webhook secret must be at least 16 bytes") != std::string::npos, r.err);
}
