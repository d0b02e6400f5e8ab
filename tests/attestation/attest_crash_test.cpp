// SIGKILL the verifier in the middle of 1,000 one-shot verifications, restart
// it on the same database: every verdict it acknowledged (HTTP 200 with a seq)
// is still there, and SQLite's integrity check passes.
#define BOOST_TEST_MODULE attest_crash
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "attestation/service/verifier_store.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {
constexpr int kTotal = 1000;
constexpr int kClients = 4;
}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_during_one_shot_verifications_loses_no_acknowledged_verdict) {
  ServiceWorld w;
  const std::string nonce = "42424242";
  const std::string body = json{{"evidence", w.quote(nonce, "crash-tpm", "q")}, {"nonce", nonce}}.dump();
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "crash.db").string()});

  std::mutex mu;
  std::map<int64_t, std::string> acked;  // seq -> ear_jws (unique per verdict: randomized ECDSA)
  std::atomic<int> duplicates{0};
  std::atomic<int> attempts{0}, failures{0};
  auto run_clients = [&](const std::string& url, int until, std::atomic<bool>* kill_switch, int kill_after) {
    std::vector<std::thread> ts;
    for (int c = 0; c < kClients; ++c)
      ts.emplace_back([&, url, until, kill_switch, kill_after] {
        Http h(url);
        while (attempts.fetch_add(1) < until) {
          auto [code, j] = h.post("/v1/verify", body);
          if (code != 200) {
            ++failures;
            if (kill_switch && kill_switch->load()) return;  // the verifier is gone
            continue;
          }
          std::lock_guard<std::mutex> l(mu);
          duplicates += !acked.emplace(j["seq"].get<int64_t>(), j["ear_jws"].get<std::string>()).second;
          if (kill_switch && static_cast<int>(acked.size()) >= kill_after) kill_switch->store(true);
        }
      });
    return ts;
  };

  size_t acked_before_kill = 0;
  {
    VerifierProcess v(args, w.dir / "v1.out");
    std::atomic<bool> kill{false};
    auto ts = run_clients(v.url, kTotal, &kill, 300);
    for (int i = 0; i < 3000 && !kill; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    v.proc.kill_hard();  // SIGKILL with requests in flight
    for (auto& t : ts) t.join();
    std::lock_guard<std::mutex> l(mu);
    acked_before_kill = acked.size();
  }
  BOOST_TEST_MESSAGE("acknowledged before SIGKILL: " << acked_before_kill << ", attempts " << attempts.load() << ", failed requests " << failures.load());
  BOOST_TEST_REQUIRE(acked_before_kill >= 300u);

  {
    VerifierProcess v(args, w.dir / "v2.out");
    Http h(v.url);
    // Every acknowledged verdict survived, with the status that was acknowledged.
    size_t missing = 0;
    for (const auto& [seq, jws] : acked) {
      auto [code, j] = h.get("/v1/verdicts/" + std::to_string(seq));
      if (code != 200 || j["ear_jws"] != jws) ++missing;
    }
    BOOST_TEST(missing == 0u);
    // Finish the 1,000 on the restarted verifier.
    auto ts = run_clients(v.url, kTotal, nullptr, 0);
    for (auto& t : ts) t.join();
    BOOST_TEST(v.proc.terminate() == 0);
  }
  attest::SqliteStore store((w.dir / "crash.db").string());
  BOOST_TEST(store.integrity_check() == "ok");
  BOOST_TEST(store.verdict_count() >= static_cast<int64_t>(acked.size()));
  BOOST_TEST(duplicates.load() == 0);
  BOOST_TEST(acked.size() + static_cast<size_t>(failures.load()) == static_cast<size_t>(kTotal));
}
