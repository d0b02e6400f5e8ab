// End to end on loopback: `redoubt quote` against tpm2_checkquote, a verifier
// process with endpoints in push and pull mode, tampered endpoints, reboots,
// replayed / stale / foreign quotes, bad requests and the webhook.
#define BOOST_TEST_MODULE attest_service
#include <boost/test/unit_test.hpp>

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

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

#include "tests/attestation/service_fixture.hpp"

using redoubt::test::svc::Fixture;
using redoubt::test::svc::fx;
using redoubt::test::svc::with;
using redoubt::test::svc::failure_codes;
using redoubt::test::svc::wait_for_verdict;
using redoubt::test::svc::good_boot_log;


BOOST_AUTO_TEST_CASE(redoubt_quote_is_accepted_by_tpm2_checkquote) {
  TempDir d;
  const std::string nonce = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc";
  CliResult r = run_redoubt({"quote", "--nonce", nonce, "--out", (d / "q").string(), "--state", (d / "s").string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  CliResult c = run_program({"tpm2_checkquote", "-u", (d / "q" / "ak.pub.pem").string(), "-m", (d / "q" / "quote.msg").string(), "-s",
                             (d / "q" / "quote.sig").string(), "-f", (d / "q" / "quote.pcrs").string(), "-g", "sha256", "-q", nonce});
  BOOST_TEST(c.exit_code == 0, c.out + c.err);
  // A different nonce is refused by tpm2_checkquote too.
  c = run_program({"tpm2_checkquote", "-u", (d / "q" / "ak.pub.pem").string(), "-m", (d / "q" / "quote.msg").string(), "-s",
                   (d / "q" / "quote.sig").string(), "-f", (d / "q" / "quote.pcrs").string(), "-g", "sha256", "-q", "00"});
  BOOST_TEST(c.exit_code != 0);
}

BOOST_AUTO_TEST_CASE(push_good_endpoint_is_affirming_then_reboot_is_explained) {
  Fixture& f = fx();
  CliResult r = f.w.endpoint(f.v->url, "good", {"--count", "2", "--interval-ms", "20"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("good: affirming") != std::string::npos, r.out);
  const std::string ear_key = (f.w.dir / "verifier.db.pub.pem").string();
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", f.v->url, "--verifier-key", ear_key, "good"});
  BOOST_TEST(a.exit_code == 0, a.out);
  BOOST_TEST(a.out.rfind("good: affirming", 0) == 0, a.out);

  // A second run on the same TPM state is a reboot: resetCount moves on, explained, still affirming.
  r = f.w.endpoint(f.v->url, "good", {});
  BOOST_TEST(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("note endpoint_rebooted") != std::string::npos, r.out);
  a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", f.v->url, "--verifier-key", ear_key, "good", "--json"});
  json j = json::parse(a.out);
  BOOST_TEST(j["status"] == "affirming");
  BOOST_TEST(j["ear"]["endpoint"] == "good");  // the signed claims
  BOOST_TEST(j["ear"]["submods"]["redoubt-drtm"]["redoubt.notes"][0]["code"] == "endpoint_rebooted");
  BOOST_TEST(j["ear"]["submods"]["redoubt-drtm"]["redoubt.clock"]["safe"] == true);
  BOOST_TEST(j["unsigned"]["history"].size() == 3u);  // the verifier's unsigned answer, kept apart
  BOOST_TEST(!j["unsigned"].contains("ear_jws"));
}

BOOST_AUTO_TEST_CASE(tampered_endpoints_are_contraindicated_naming_the_event) {
  Fixture& f = fx();
  struct Case {
    const char* tamper;
    const char* code;
    const char* event;
  } cases[] = {{"svn-low", "hv_svn_below_minimum", "EV_REDOUBT_HV_MANIFEST"},
               {"foreign-signer", "hv_signer_not_allowed", "EV_REDOUBT_HV_SIGNER"},
               {"hv-image", "launch_failed", "EV_REDOUBT_LAUNCH_FAILED"}};
  Http h(f.v->url);
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.tamper) {
      const std::string id = std::string("bad-") + c.tamper;
      CliResult r = f.w.endpoint(f.v->url, id, {"--tamper", c.tamper});
      BOOST_TEST(r.exit_code == 1, r.out + r.err);
      BOOST_TEST(r.out.find("contraindicated") != std::string::npos, r.out);
      auto [code, st] = h.get("/v1/endpoints/" + id);
      BOOST_TEST(code == 200);
      BOOST_TEST(st["status"] == "contraindicated");
      const std::string failures = failure_codes(st);
      BOOST_TEST(failures.find(c.code) != std::string::npos, failures);
      BOOST_TEST(failures.find(c.event) != std::string::npos, failures);
    }
  }
}


// Issue 16 item 1: a tampered boot whose log also carries a good boot's launch events on PCR 23
// (which no quote covers) was affirming, with a signed EAR claiming the good hypervisor: the
// appraiser took the last manifest/image/signer event of any PCR.
BOOST_AUTO_TEST_CASE(good_launch_events_injected_on_pcr23_do_not_hide_a_tampered_boot) {
  Fixture& f = fx();
  good_boot_log(f);
  const std::string donor_log = (f.w.dir / "ep-log-donor" / "endpoint-launch" / "eventlog.bin").string();
  const policy::EvpKey ear_key = policy::load_public_key((f.w.dir / "verifier.db.pub.pem").string());
  const std::string owner_kid = policy::key_id_hex(policy::load_public_key(f.w.owner_key));
  struct Case {
    const char* tamper;
    const char* code;
    const char* event;
  } cases[] = {{"svn-low", "hv_svn_below_minimum", "(PCR17, EV_REDOUBT_HV_MANIFEST"},
               {"foreign-signer", "hv_signer_not_allowed", "(PCR18, EV_REDOUBT_HV_SIGNER"}};
  Http h(f.v->url);
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.tamper) {
      const std::string id = std::string("inj-") + c.tamper;
      CliResult r = f.w.endpoint(f.v->url, id, {"--tamper", c.tamper, "--inject-log", donor_log});
      BOOST_TEST(r.exit_code == 1, r.out + r.err);
      BOOST_TEST(r.out.find(id + ": contraindicated") != std::string::npos, r.out);
      auto [code, st] = h.get("/v1/endpoints/" + id);
      BOOST_TEST_REQUIRE(code == 200);
      // What the verifier signed.
      const json ear = attest::jws_verify_es256(st["ear_jws"], ear_key);
      const json& sub = ear["submods"]["redoubt-drtm"];
      BOOST_TEST(ear["status"] == "contraindicated", sub.dump());
      std::vector<std::string> injected;
      std::string named;
      for (const auto& x : sub["redoubt.failures"]) {
        if (x["code"] == "event_unquoted_pcr") {
          BOOST_TEST(x["detail"]["event"]["pcr"] == 23);
          injected.push_back(x["detail"]["event"]["type"]);
        }
        if (x["code"] == c.code) named = x["message"];
      }
      const std::vector<std::string> want = {"EV_REDOUBT_SKINIT_SLB", "EV_REDOUBT_HV_MANIFEST", "EV_REDOUBT_HV_IMAGE", "EV_REDOUBT_HV_SIGNER"};
      BOOST_TEST(injected == want, boost::test_tools::per_element());
      BOOST_TEST(named.find(c.event) != std::string::npos, sub["redoubt.failures"].dump());
      // The claims are the tampered launch's, not the injected good one's.
      const json& hv = sub["redoubt.launch"]["hypervisor"];
      if (std::string(c.tamper) == "svn-low") {
        BOOST_TEST(hv["svn"] == 1);
        BOOST_TEST(hv["version"] == "0.1.1-old");
      } else {
        BOOST_TEST(hv["signer"] != owner_kid);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(pull_mode_verifier_polls_endpoints) {
  Fixture& f = fx();
  ChildProcess good(f.w.endpoint_argv(f.v->url, "puller", {"--mode", "pull", "--serve-seconds", "60"}), f.w.dir / "puller.out");
  ChildProcess bad(f.w.endpoint_argv(f.v->url, "puller-old", {"--mode", "pull", "--tamper", "svn-low", "--serve-seconds", "60"}), f.w.dir / "puller-old.out");
  good.wait_for("enrolled puller");
  bad.wait_for("enrolled puller-old");
  Http h(f.v->url);
  json g = wait_for_verdict(h, "puller", 2);
  BOOST_TEST(g["status"] == "affirming", g.dump());
  BOOST_TEST(g["mode"] == "pull");
  json b = wait_for_verdict(h, "puller-old");
  BOOST_TEST(b["status"] == "contraindicated");
  BOOST_TEST(failure_codes(b).find("hv_svn_below_minimum") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(replayed_unknown_and_foreign_quotes_are_rejected) {
  Fixture& f = fx();
  Http h(f.v->url);
  CliResult r = f.w.endpoint(f.v->url, "victim", {});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);

  // A fresh quote from the victim's own TPM (same state dir: same EK and AK) is accepted once...
  auto [c1, n1] = h.post("/v1/endpoints/victim/nonce", json::object());
  BOOST_TEST_REQUIRE(c1 == 200);
  json ev = f.w.quote(n1["nonce"], "ep-victim", "q-victim");
  auto [c2, res] = h.post("/v1/endpoints/victim/evidence", ev);
  BOOST_TEST(c2 == 200, res.dump());
  // ...the very same evidence again is a retry: the stored verdict, nothing new (docs/api.md "Retried
  // pushes are idempotent")...
  auto [c3, rep] = h.post("/v1/endpoints/victim/evidence", ev);
  BOOST_TEST(c3 == 200, rep.dump());
  BOOST_TEST(rep["seq"] == res["seq"], rep.dump());
  BOOST_TEST(rep["retry"] == true, rep.dump());
  // ...and another quote over the used nonce is refused as a replay.
  json ev_again = f.w.quote(n1["nonce"], "ep-victim", "q-victim-again");
  auto [c3b, rep2] = h.post("/v1/endpoints/victim/evidence", ev_again);
  BOOST_TEST(c3b == 409, rep2.dump());
  BOOST_TEST(rep2["error"] == "nonce_reused", rep2.dump());

  // A quote over a nonce this verifier never issued.
  json ev2 = f.w.quote("abababababababababababababababababababababababababababababababab", "ep-victim", "q-victim2");
  auto [c4, unk] = h.post("/v1/endpoints/victim/evidence", ev2);
  BOOST_TEST(c4 == 409);
  BOOST_TEST(unk["error"] == "nonce_unknown");

  // A quote by another TPM's AK over the victim's nonce: contraindicated, and the victim's clock record is untouched.
  auto [c5, before] = h.get("/v1/endpoints/victim");
  auto [c6, n2] = h.post("/v1/endpoints/victim/nonce", json::object());
  json foreign = f.w.quote(n2["nonce"], "other-tpm", "q-other");
  auto [c7, fr] = h.post("/v1/endpoints/victim/evidence", foreign);
  BOOST_TEST(c7 == 200);
  BOOST_TEST(fr["status"] == "contraindicated");
  const std::string s = fr["ear"]["submods"]["redoubt-drtm"]["redoubt.failures"].dump();
  BOOST_TEST(s.find("qualified_signer_mismatch") != std::string::npos, s);
  BOOST_TEST(s.find("bad_signature") != std::string::npos, s);
  auto [c8, after] = h.get("/v1/endpoints/victim");
  BOOST_TEST(after["clock"] == before["clock"]);
  (void)c5;
  (void)c6;
  (void)c8;
}

BOOST_AUTO_TEST_CASE(stale_nonce_is_rejected) {
  Fixture& f = fx();
  auto args = f.w.verifier_args();
  const auto store = f.w.store_args("stale");
  args.insert(args.end(), store.begin(), store.end());
  args.insert(args.end(), {"--nonce-ttl", "-1"});  // every nonce is born expired
  VerifierProcess v(args, f.w.dir / "stale.out");
  CliResult r = f.w.endpoint(v.url, "late", {});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("nonce_expired") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bad_requests_get_4xx_with_a_reason) {
  Fixture& f = fx();
  Http h(f.v->url);
  json ev = f.w.quote("11", "badreq-tpm", "q-badreq");
  struct Case {
    std::string path, body;
    int status;
    std::string error;
  } cases[] = {
      {"/v1/verify", "{not json", 400, "malformed_json"},
      {"/v1/verify", "[1,2]", 400, "malformed_json"},
      {"/v1/verify", json{{"nonce", "11"}}.dump(), 400, "bad_request"},
      {"/v1/verify", json{{"evidence", json{{"quote", "!!"}}}, {"nonce", "11"}}.dump(), 400, "bad_base64"},
      {"/v1/verify", json{{"evidence", ev}, {"nonce", "1"}}.dump(), 400, "bad_hex"},
      {"/v1/verify", json{{"evidence", with(ev, "quote", "AAAA")}, {"nonce", "11"}}.dump(), 400, "malformed_attest"},
      {"/v1/verify", json{{"evidence", with(ev, "signature", "AAAA")}, {"nonce", "11"}}.dump(), 400, "malformed_signature"},
      {"/v1/verify", json{{"evidence", with(ev, "pcrs", "AAAA")}, {"nonce", "11"}}.dump(), 400, "malformed_pcrs"},
      {"/v1/verify", json{{"evidence", with(ev, "ak_public", "AAAA")}, {"nonce", "11"}}.dump(), 400, "malformed_public"},
      {"/v1/verify", json{{"evidence", with(ev, "quote", 5)}, {"nonce", "11"}}.dump(), 400, "bad_request"},
      {"/v1/endpoints/nobody/nonce", "{}", 404, "unknown_endpoint"},
      {"/v1/endpoints/nobody/evidence", ev.dump(), 404, "unknown_endpoint"},
      {"/v1/endpoints", json{{"id", "x y"}}.dump(), 400, "bad_endpoint_id"},
      {"/v1/endpoints", json{{"id", "x"}, {"ek_certificate", "AAAA"}, {"ek_public", ev["ak_public"]}, {"ak_public", ev["ak_public"]}}.dump(), 400,
       "bad_certificate"},
      {"/v1/nowhere", "{}", 404, "not_found"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.path << " " << c.body.substr(0, 60)) {
      auto [code, j] = h.post(c.path, c.body);
      BOOST_TEST(code == c.status, j.dump());
      BOOST_TEST(j["error"] == c.error, j.dump());
      BOOST_TEST(j.contains("reason"));
    }
  }
  auto [code, j] = h.get("/v1/endpoints/nobody");
  BOOST_TEST(code == 404);
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", f.v->url, "--verifier-key", (f.w.dir / "verifier.db.pub.pem").string(), "nobody"});
  BOOST_TEST(a.exit_code == 1);
  BOOST_TEST(a.out.find("unknown_endpoint") != std::string::npos);
  auto [ic, info] = h.get("/v1/info");  // still alive
  BOOST_TEST(ic == 200);
  BOOST_TEST(info["schema_version"] == 6);
}

BOOST_AUTO_TEST_CASE(enrolment_refuses_an_ek_from_an_unknown_manufacturer) {
  Fixture& f = fx();
  // The endpoint's EK certificate comes from its own, unconfigured CA.
  CliResult r = run_program({(build_dir() / "redoubt").string(), "endpoint", "--verifier", f.v->url, "--id", "rogue", "--state",
                             (f.w.dir / "ep-rogue").string(), "--signing-key", f.w.owner_key, "--enrol-token", f.w.admin_token});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.find("ek_certificate_untrusted") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(webhook_reports_verdict_changes) {
  Fixture& f = fx();
  for (int i = 0; i < 200 && f.hook.count_for("good") == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(f.hook.count_for("good") >= 1u);  // none -> affirming
  BOOST_TEST(f.hook.count_for("bad-svn-low") >= 1u);
}

// bench_attest lost 2-12 of 6400 requests with 32 clients: libcpp-httplib 0.11 listens with a backlog
// of 5, the burst of connects overflowed it (SYN retransmits after 1 s, some connections reset after
// sending their request). The verifier raises the backlog; `ss` shows it as the listener's Send-Q.
BOOST_AUTO_TEST_CASE(listen_backlog_absorbs_a_burst_of_connections) {
  Fixture& f = fx();
  const std::string port = f.v->url.substr(f.v->url.rfind(':') + 1);
  CliResult ss = run_program({"ss", "-ltnH", "sport = :" + port});
  BOOST_TEST_REQUIRE(ss.exit_code == 0, ss.err);
  std::istringstream line(ss.out);
  std::string state, recvq, sendq;
  line >> state >> recvq >> sendq;
  BOOST_TEST(state == "LISTEN", ss.out);
  BOOST_TEST(sendq == "1024", ss.out);

  // 64 fresh connections at once: every one is answered.
  constexpr int kClients = 64;
  std::atomic<int> ready{0}, ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kClients; ++i)
    ts.emplace_back([&] {
      Http h(f.v->url);
      ++ready;
      while (ready < kClients) std::this_thread::yield();
      ok += h.get("/v1/info").first == 200;
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(ok == kClients);
}
