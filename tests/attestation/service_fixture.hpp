// The attestation service tests' shared world: one verifier process (SQLite, or PostgreSQL
// under the *_pg variants) with a webhook sink, and helpers that wait for verdicts.
#pragma once


#include <atomic>
#include <functional>
#include <chrono>
#include <sstream>
#include <mutex>
#include <thread>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "attestation/common/encoding.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/tpm/quote_parse.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/service_world.hpp"

namespace redoubt::test::svc {

using nlohmann::json;


// A webhook receiver on loopback, collecting verdict-change events.
struct WebhookSink {
  httplib::Server srv;
  int port = 0;
  std::mutex mu;
  std::vector<json> events;
  std::thread t;
  WebhookSink() {
    srv.Post("/hook", [this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(json::parse(req.body, nullptr, false));
    });
    port = srv.bind_to_any_port("127.0.0.1");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~WebhookSink() {
    srv.stop();
    t.join();
  }
  size_t count_for(const std::string& endpoint) {
    std::lock_guard<std::mutex> l(mu);
    size_t n = 0;
    for (const json& e : events) n += e.value("endpoint", "") == endpoint;
    return n;
  }
};

struct Fixture {
  ServiceWorld w;
  WebhookSink hook;
  std::unique_ptr<VerifierProcess> v;
  Fixture() {
    auto args = w.verifier_args();
    const std::string secret = "0123456789abcdef0123456789abcdef";
    write_file(w.dir / "webhook.secret", std::vector<uint8_t>(secret.begin(), secret.end()));
    const auto store = w.store_args("verifier");  // SQLite, or PostgreSQL under attest_service_test_pg
    args.insert(args.end(), store.begin(), store.end());
    args.insert(args.end(), {"--webhook-secret-file", (w.dir / "webhook.secret").string(),
                             "--webhook", "http://127.0.0.1:" + std::to_string(hook.port) + "/hook",
                             "--poll-interval-ms", "150", "--agent-allow", "127.0.0.1"});
    v = std::make_unique<VerifierProcess>(args, w.dir / "verifier.out");
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

json with(json j, const char* key, json value) {
  j[key] = std::move(value);
  return j;
}

std::string failure_codes(const json& status) {
  std::string s;
  for (const auto& f : status["history"][0]["reasons"]["failures"]) s += f["code"].get<std::string>() + " " + f["message"].get<std::string>() + "\n";
  return s;
}

// Bounded wait for a verdict in an endpoint's history.
json wait_for_verdict(Http& h, const std::string& id, size_t n = 1) {
  json st;
  for (int i = 0; i < 300; ++i) {
    auto [code, j] = h.get("/v1/endpoints/" + id);
    st = j;
    if (code == 200 && j["history"].size() >= n) return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("no verdict for " + id + ": " + st.dump());
  return st;
}


// A good boot's event log (the fixture's owner key, SVN 2), made once by a real endpoint.
attest::Bytes good_boot_log(Fixture& f) {
  static attest::Bytes log;
  if (log.empty()) {
    CliResult r = f.w.endpoint(f.v->url, "log-donor", {});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    log = read_file(f.w.dir / "ep-log-donor" / "endpoint-launch" / "eventlog.bin");
  }
  return log;
}

}  // namespace redoubt::test::svc
