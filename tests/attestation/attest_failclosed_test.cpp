// Issue 13, fail closed: a verifier without reference values appraises
// nothing (503 no_reference_values, saying how to give them; /readyz 503)
// and never rates an endpoint "affirming" under policy id "none"; once an
// admin PUTs signed reference values it appraises, without a restart. An
// endpoint with no appraisal within its interval is "stale" (push) or
// "unreachable" (pull), with its last-seen time, and `redoubt attest` exits 5.
// /metrics (Prometheus text) counts the appraisals and endpoints by status.
#define BOOST_TEST_MODULE attest_failclosed_test
#include <boost/test/unit_test.hpp>
#include <thread>

#include "attestation/common/encoding.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {
CliResult attest_cli(const ServiceWorld& w, const std::string& url, const std::string& db, const std::string& name) {
  return run_redoubt({"attest", "--token", w.rp_token, "--verifier", url, "--verifier-key", (w.dir / (db + ".pub.pem")).string(), name});
}
}  // namespace

BOOST_AUTO_TEST_CASE(no_reference_values_no_verdict_until_an_admin_sets_them) {
  ServiceWorld w;
  // The verifier knows the policy authority but has no reference values.
  VerifierProcess v({"--manufacturer-ca", w.ca_cert, "--authority", w.authority_pub, "--token-issuer", w.issuer_pub, "--db",
                     (w.dir / "nr.db").string()},
                    w.dir / "nr.out");
  BOOST_TEST(v.proc.output().find("no reference values: nothing is appraised") != std::string::npos, v.proc.output());
  Http h(v.url);
  auto [rc, ready] = Http(v.url, "").get("/readyz");
  BOOST_TEST(rc == 503, ready.dump());
  BOOST_TEST(ready["error"] == "not_ready");
  BOOST_TEST(Http(v.url, "").get("/healthz").first == 200);

  CliResult r = w.endpoint(v.url, "early", {});
  BOOST_TEST(r.exit_code == 3, r.out + r.err);  // enrolled, then its evidence is refused
  BOOST_TEST(r.err.find("no_reference_values") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("--reference FILE --authority PUB`, or PUT /v1/reference-values as admin") != std::string::npos, r.err);
  auto [c, st] = h.get("/v1/endpoints/early");
  BOOST_TEST_REQUIRE(c == 200, st.dump());
  BOOST_TEST(st["status"] == "none", st.dump());  // no verdict, and certainly not "affirming"
  BOOST_TEST(st["history"].empty());
  CliResult a = attest_cli(w, v.url, "nr.db", "early");
  BOOST_TEST(a.exit_code == 1, a.out + a.err);
  BOOST_TEST(a.out.find("early: none (no verdict yet)") != std::string::npos, a.out);
  // One-shot with the verifier's own (absent) reference values: refused, nothing recorded.
  auto [c1, j1] = h.post("/v1/verify", json{{"evidence", json::object()}, {"nonce", "00"}});
  BOOST_TEST(c1 == 503, j1.dump());
  BOOST_TEST(j1["error"] == "no_reference_values");

  // Reference values through the API: a relying party may not set them, an admin may; no restart.
  const json put = {{"reference_values", attest::to_base64(read_file(w.reference))}};
  BOOST_TEST(Http(v.url, w.rp_bearer).put("/v1/reference-values", put).first == 403);
  auto [cp, jp] = h.put("/v1/reference-values", put);
  BOOST_TEST(cp == 200, jp.dump());
  BOOST_TEST(jp["reference_values"] == "test-reference-1");
  BOOST_TEST(Http(v.url, "").get("/readyz").first == 200);
  // A document not signed by the authority is refused and changes nothing.
  attest::Bytes forged = read_file(w.reference);
  forged[forged.size() - 5] ^= 1;
  auto [cf, jf] = h.put("/v1/reference-values", json{{"reference_values", attest::to_base64(forged)}});
  BOOST_TEST(cf == 400, jf.dump());
  BOOST_TEST(jf["error"] == "reference_values_signature", jf.dump());
  r = w.endpoint(v.url, "early", {});
  BOOST_TEST(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("early: affirming") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(an_endpoint_not_seen_within_its_interval_is_stale_and_attest_exits_5) {
  ServiceWorld w;
  auto args = w.verifier_args();
  // 2 s, times the sanitizer build's scale: the checks of the "affirming" state below must run
  // within it (under ASan at load they took more than 2 s).
  const int stale_after = 2 * test::timeout_scale();
  args.insert(args.end(), {"--db", (w.dir / "st.db").string(), "--stale-after", std::to_string(stale_after)});
  VerifierProcess v(args, w.dir / "st.out");
  CliResult r = w.endpoint(v.url, "quiet", {});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  CliResult a = attest_cli(w, v.url, "st.db", "quiet");
  BOOST_TEST(a.exit_code == 0, a.out + a.err);
  Http h(v.url, w.rp_bearer);
  auto [cm, m] = h.get("/metrics");
  BOOST_TEST_REQUIRE(cm == 200);
  const std::string metrics = m["raw"];
  BOOST_TEST_MESSAGE("GET /metrics after one affirming push:\n" << metrics);
  BOOST_TEST(metrics.find("redoubt_appraisals_total{result=\"affirming\"} 1\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("redoubt_appraisal_duration_seconds_count 1\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("redoubt_appraisal_duration_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("redoubt_endpoints{status=\"affirming\"} 1\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("redoubt_store_errors_total 0\n") != std::string::npos, metrics);

  std::this_thread::sleep_for(std::chrono::milliseconds(stale_after * 1000 + 1200));
  auto [c, st] = h.get("/v1/endpoints/quiet");
  BOOST_TEST(st["status"] == "stale", st.dump());
  BOOST_TEST(st["verdict_status"] == "affirming");
  BOOST_TEST(st["last_seen"].is_number_integer());
  BOOST_TEST(st["stale_after"] == stale_after);
  a = attest_cli(w, v.url, "st.db", "quiet");
  BOOST_TEST(a.exit_code == 5, a.out + a.err);
  BOOST_TEST(a.out.rfind("quiet: stale (no appraisal since " + std::to_string(st["last_seen"].get<int64_t>()), 0) == 0, a.out);
  BOOST_TEST(a.out.find("the last signed verdict said affirming") != std::string::npos, a.out);
  auto [cl, l] = h.get("/v1/endpoints");
  BOOST_TEST(l["endpoints"][0]["status"] == "stale", l.dump());
  auto [cm2, m2] = h.get("/metrics");
  const std::string metrics2 = m2["raw"];
  BOOST_TEST(metrics2.find("redoubt_endpoints{status=\"stale\"} 1\n") != std::string::npos, metrics2);
  // The SQLite store's checkpointer ran (every 200 ms; seconds have passed) and nothing failed.
  BOOST_TEST(metrics2.find("redoubt_sqlite_checkpoints_total{result=\"ok\"} 0\n") == std::string::npos, metrics2);
  BOOST_TEST(metrics2.find("redoubt_sqlite_checkpoints_total{result=\"ok\"} ") != std::string::npos, metrics2);
  BOOST_TEST(metrics2.find("redoubt_sqlite_checkpoints_total{result=\"error\"} 0\n") != std::string::npos, metrics2);
  BOOST_TEST(metrics2.find("redoubt_sqlite_wal_stalls_total 0\n") != std::string::npos, metrics2);
}

BOOST_AUTO_TEST_CASE(a_pull_endpoint_whose_agent_is_gone_is_unreachable) {
  ServiceWorld w;
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "pl.db").string(), "--poll-interval-ms", "300", "--agent-allow", "127.0.0.1"});
  VerifierProcess v(args, w.dir / "pl.out");
  Http h(v.url, w.rp_bearer);
  {
    ChildProcess agent(w.endpoint_argv(v.url, "gone", {"--mode", "pull", "--serve-seconds", "60"}), w.dir / "gone.out");
    agent.wait_for("enrolled gone");
    json st;
    for (int i = 0; i < 200; ++i) {
      st = h.get("/v1/endpoints/gone").second;
      if (st["status"] == "affirming") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_TEST_REQUIRE(st["status"] == "affirming", st.dump());
    BOOST_TEST(st["stale_after"] == 2);  // 3 poll intervals, at least 2 s
    agent.kill_hard();
  }
  json st;
  for (int i = 0; i < 100; ++i) {
    st = h.get("/v1/endpoints/gone").second;
    if (st["status"] == "unreachable") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(st["status"] == "unreachable", st.dump());
  BOOST_TEST(st["last_error"].get<std::string>().find("agent_unreachable") == 0, st.dump());
  CliResult a = attest_cli(w, v.url, "pl.db", "gone");
  BOOST_TEST(a.exit_code == 5, a.out + a.err);
  BOOST_TEST(a.out.rfind("gone: unreachable (no appraisal since ", 0) == 0, a.out);
}
