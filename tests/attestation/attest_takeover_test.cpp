// Issue 13, the enrolment takeover: with the EK certificate from
// GET /v1/endpoints/ID, an EK public area rebuilt from it and a fresh AK of
// the attacker's own TPM, POST /v1/endpoints replaced the AK, reset the clock
// baseline and pointed agent_url at the attacker before any proof of
// possession. Now a (re-)enrolment is pending apart until ActivateCredential
// proves the EK and AK: the real endpoint keeps its AK, clock, mode, status
// and verdicts, keeps being appraised, and `attest` shows its real verdict;
// the attacker's activation fails and changes nothing either.
#define BOOST_TEST_MODULE attest_takeover_test
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "attestation/common/encoding.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

// The TCG EK template L-2 (EK Credential Profile §2.1.5.2) with the point the certificate certifies.
attest::Bytes ek_public_from_certificate(const attest::Bytes& der) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  BOOST_TEST_REQUIRE(x.get() != nullptr);
  EVP_PKEY* k = X509_get0_pubkey(x.get());
  BIGNUM *bx = nullptr, *by = nullptr;
  BOOST_TEST_REQUIRE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1);
  BOOST_TEST_REQUIRE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1);
  TPM2B_PUBLIC ek = attest::ek_template_ecc_p256();
  BN_bn2binpad(bx, ek.publicArea.unique.ecc.x.buffer, 32);
  BN_bn2binpad(by, ek.publicArea.unique.ecc.y.buffer, 32);
  ek.publicArea.unique.ecc.x.size = ek.publicArea.unique.ecc.y.size = 32;
  BN_free(bx);
  BN_free(by);
  return attest::marshal_public(ek);
}

// The attack of the issue: EK certificate from GET, a matching EK public, the attacker's own AK.
json attack_for(const ServiceWorld& w, const json& victim) {
  const attest::Bytes cert = attest::from_base64(victim["ek_certificate"].get<std::string>());
  const json theirs = w.quote(std::string(64, 'a'), "attacker-tpm", "attacker-quote");
  return {{"id", "victim"},
          {"ek_certificate", victim["ek_certificate"]},
          {"ek_public", attest::to_base64(ek_public_from_certificate(cert))},
          {"ak_public", theirs["ak_public"]},
          {"mode", "pull"},
          {"agent_url", "http://127.0.0.1:9"}};
}

struct Victim {
  ServiceWorld w;
  std::unique_ptr<VerifierProcess> v;
  json before;
  explicit Victim(const std::vector<std::string>& extra = {}) {
    auto args = w.verifier_args();
    args.insert(args.end(), {"--db", (w.dir / "v.db").string(), "--agent-allow", "127.0.0.1"});
    args.insert(args.end(), extra.begin(), extra.end());
    v = std::make_unique<VerifierProcess>(args, w.dir / "v.out");
    CliResult r = w.endpoint(v->url, "victim", {});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    auto [c0, b] = Http(v->url).get("/v1/endpoints/victim");
    BOOST_TEST_REQUIRE(c0 == 200, b.dump());
    BOOST_TEST_REQUIRE(b["status"] == "affirming", b.dump());
    before = b;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(reenrolment_with_the_victims_ek_and_a_fresh_ak_changes_nothing_until_activation) {
  Victim vic;
  ServiceWorld& w = vic.w;
  VerifierProcess& v = *vic.v;
  const json before = vic.before;
  Http h(v.url);  // the attacker holds an admin token: the strongest case (a stolen or insider token)
  const json attack = attack_for(w, before);
  CliResult r;
  auto [c1, ch] = h.post("/v1/endpoints", attack);
  BOOST_TEST_REQUIRE(c1 == 200, ch.dump());  // the EK public matched the certificate: a challenge, nothing more
  BOOST_TEST(ch["state"] == "pending");

  auto check_untouched = [&](const char* when) {
    BOOST_TEST_CONTEXT(when) {
      auto [c, now] = h.get("/v1/endpoints/victim");
      BOOST_TEST_REQUIRE(c == 200, now.dump());
      BOOST_TEST(now["state"] == "enrolled");
      BOOST_TEST(now["ak_name"] == before["ak_name"]);
      BOOST_TEST(now["mode"] == "push");
      BOOST_TEST(!now.contains("agent_url"), now.dump());
      BOOST_TEST(now["status"] == "affirming", now.dump());
      BOOST_TEST(now["history"].size() >= before["history"].size());
      return now;
    }
    return json();
  };
  json mid = check_untouched("after the attacker's enrolment");
  BOOST_TEST(mid["clock"] == before["clock"], mid.dump());
  BOOST_TEST(mid["history"] == before["history"]);
  BOOST_TEST(mid.contains("pending_enrolment"), mid.dump());

  // The attacker cannot answer the challenge (it needs the victim's EK private key): a guess fails,
  // and discards only the pending enrolment.
  attest::Bytes guess(32);
  RAND_bytes(guess.data(), 32);
  auto [c2, j2] = h.post("/v1/endpoints/victim/activate", json{{"secret", attest::to_base64(guess)}});
  BOOST_TEST(c2 == 403, j2.dump());
  BOOST_TEST(j2["error"] == "activation_failed");
  json after = check_untouched("after the failed activation");
  BOOST_TEST(!after.contains("pending_enrolment"), after.dump());
  BOOST_TEST(after["clock"] == before["clock"]);

  // The attack again, pending; the real endpoint keeps being appraised (no 409 not_enrolled)...
  BOOST_TEST_REQUIRE(h.post("/v1/endpoints", attack).first == 200);
  r = w.endpoint(v.url, "victim", {});
  BOOST_TEST(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("victim: affirming") != std::string::npos, r.out);
  check_untouched("after the victim's next attestation");
  // ...and the relying party sees its real, signed verdict.
  CliResult a = run_redoubt({"attest", "--token", w.rp_token, "--verifier", v.url, "--verifier-key", (w.dir / "v.db.pub.pem").string(), "victim"});
  BOOST_TEST(a.exit_code == 0, a.out + a.err);
  BOOST_TEST(a.out.rfind("victim: affirming (signed verdict", 0) == 0, a.out);
}


// The same attack with the protection off (the test-only switch): the enrolment takes effect unproven,
// and the victim's AK, mode and agent_url are the attacker's: what the test above shows does not happen.
BOOST_AUTO_TEST_CASE(with_the_protection_off_the_takeover_succeeds) {
  Victim vic({"--test-unsafe-enrol-before-activation"});
  Http h(vic.v->url);
  auto [c1, ch] = h.post("/v1/endpoints", attack_for(vic.w, vic.before));
  BOOST_TEST_REQUIRE(c1 == 200, ch.dump());
  auto [c, now] = h.get("/v1/endpoints/victim");
  BOOST_TEST(now["ak_name"] != vic.before["ak_name"], now.dump());
  BOOST_TEST(now["mode"] == "pull");
  BOOST_TEST(now["agent_url"] == "http://127.0.0.1:9");
  BOOST_TEST(!now.contains("clock"), now.dump());  // the clock baseline is gone
}
