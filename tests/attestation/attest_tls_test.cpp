// HTTPS end to end: `verifier serve --tls-cert/--tls-key` (cpp-httplib
// SSLServer over OpenSSL), an endpoint enrolling and attesting over https with
// a pinned CA file (--ca), `redoubt attest --ca`, and clients that do not hold
// the CA failing with a reason that names the certificate problem.
#define BOOST_TEST_MODULE attest_tls
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/attestation/child_process.hpp"
#include "tests/attestation/service_world.hpp"
#include "tests/attestation/tls_files.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

struct Fixture {
  ServiceWorld w;
  TlsFiles tls{w.dir / "tls"};
  std::unique_ptr<VerifierProcess> v;
  Fixture() {
    auto args = w.verifier_args();
    args.insert(args.end(), {"--db", (w.dir / "v.db").string(), "--tls-cert", tls.cert, "--tls-key", tls.key});
    v = std::make_unique<VerifierProcess>(args, w.dir / "verifier.out");
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(endpoint_enrols_and_attests_over_https_with_a_pinned_ca) {
  Fixture& f = fx();
  BOOST_TEST_REQUIRE(f.v->url.rfind("https://127.0.0.1:", 0) == 0, f.v->url);
  CliResult r = f.w.endpoint(f.v->url, "tls-ep", {"--ca", f.tls.ca, "--count", "2", "--interval-ms", "10"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("enrolled tls-ep (push)") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("tls-ep: affirming (verdict 2)") != std::string::npos, r.out);
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "v.db.pub.pem").string(), "--verifier", f.v->url, "--ca", f.tls.ca, "tls-ep"});
  BOOST_TEST(a.exit_code == 0, a.out + a.err);
  BOOST_TEST(a.out.rfind("tls-ep: affirming (signed verdict, iat ", 0) == 0, a.out);
}

BOOST_AUTO_TEST_CASE(clients_without_the_ca_fail_naming_the_certificate_problem) {
  Fixture& f = fx();
  // No --ca: the system store does not know the test CA.
  CliResult r = f.w.endpoint(f.v->url, "tls-noca", {});
  BOOST_TEST(r.exit_code == 3, r.out + r.err);
  BOOST_TEST(r.err.find("tls_untrusted: POST " + f.v->url + "/v1/endpoints: the verifier's TLS certificate is not trusted (") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("pass the CA that issued it with --ca FILE") != std::string::npos, r.err);
  // The wrong CA (the TPM manufacturer CA) is no better.
  r = f.w.endpoint(f.v->url, "tls-wrongca", {"--ca", f.w.ca_cert});
  BOOST_TEST(r.exit_code == 3, r.out + r.err);
  BOOST_TEST(r.err.find("tls_untrusted") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("unable to get local issuer certificate") != std::string::npos, r.err);
  // Nothing reached the verifier.
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "v.db.pub.pem").string(), "--verifier", f.v->url, "--ca", f.tls.ca, "tls-noca"});
  BOOST_TEST(a.exit_code == 1, a.out);
  BOOST_TEST(a.out.find("unknown_endpoint") != std::string::npos, a.out);
  // `redoubt attest` without the CA.
  a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "v.db.pub.pem").string(), "--verifier", f.v->url, "tls-ep"});
  BOOST_TEST(a.exit_code == 3, a.out + a.err);
  BOOST_TEST(a.out.find("tls-ep: unknown (tls_untrusted: GET " + f.v->url) == 0, a.out);
  // --ca with a plain http URL is a usage error, not a silent downgrade.
  r = f.w.endpoint("http://127.0.0.1:1", "tls-http", {"--ca", f.tls.ca});
  BOOST_TEST(r.exit_code == 3, r.out + r.err);
  BOOST_TEST(r.err.find("is not https://") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(plain_http_to_the_tls_port_gets_no_answer) {
  Fixture& f = fx();
  std::string http_url = "http://" + f.v->url.substr(std::string("https://").size());
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "v.db.pub.pem").string(), "--verifier", http_url, "tls-ep"});
  BOOST_TEST(a.exit_code == 5, a.out + a.err);  // no answer from a verifier (docs/running.md "Exit codes")
  BOOST_TEST(a.out.find("verifier_unreachable") != std::string::npos, a.out);
}

// Pull mode over TLS both ways: the endpoint serves GET /v1/quote over https
// (--tls-cert/--tls-key), the verifier polls it trusting only --endpoint-ca,
// and an endpoint certificate from another CA is not polled successfully.
BOOST_AUTO_TEST_CASE(pull_mode_over_https_with_a_pinned_endpoint_ca) {
  Fixture& f = fx();
  auto args = f.w.verifier_args();
  args.insert(args.end(), {"--db", (f.w.dir / "pull.db").string(), "--tls-cert", f.tls.cert, "--tls-key", f.tls.key,
                           "--endpoint-ca", f.tls.ca, "--poll-interval-ms", "150", "--agent-allow", "127.0.0.1"});
  VerifierProcess v(args, f.w.dir / "pull-verifier.out");
  ChildProcess ep(f.w.endpoint_argv(v.url, "tls-puller",
                                    {"--mode", "pull", "--serve-seconds", "60", "--ca", f.tls.ca, "--tls-cert", f.tls.cert,
                                     "--tls-key", f.tls.key}),
                  f.w.dir / "tls-puller.out");
  const std::string line = ep.wait_for("enrolled tls-puller");
  BOOST_TEST(line.find("serving https://127.0.0.1:") != std::string::npos, line);
  std::string last;
  for (int i = 0; i < 200; ++i) {
    CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "pull.db.pub.pem").string(), "--verifier", v.url, "--ca", f.tls.ca, "tls-puller"});
    last = a.out;
    if (a.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(last.rfind("tls-puller: affirming", 0) == 0, last);

  // An endpoint whose TLS certificate the verifier does not trust: never appraised.
  TlsFiles other(f.w.dir / "other-tls");
  ChildProcess stranger(f.w.endpoint_argv(v.url, "tls-stranger",
                                          {"--mode", "pull", "--serve-seconds", "60", "--ca", f.tls.ca, "--tls-cert", other.cert,
                                           "--tls-key", other.key}),
                        f.w.dir / "tls-stranger.out");
  stranger.wait_for("enrolled tls-stranger");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // ten poll rounds
  CliResult a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier-key", (f.w.dir / "pull.db.pub.pem").string(), "--verifier", v.url, "--ca", f.tls.ca, "tls-stranger"});
  BOOST_TEST(a.exit_code != 0, a.out);
  BOOST_TEST(a.out.find("affirming") == std::string::npos, a.out);
}
