// Issue 13, results: every EAR carries eat_nonce (RFC 9711 §4.1) and exp
// (RFC 7519 §4.1.4), and the verifier publishes its result key as a JWK Set
// at /.well-known/jwks.json (RFC 7517 §5, no token). The EAR is checked with
// that JWKS by python3-jwcrypto (tests/attestation/verify_ear_jwks.py), not
// by our own JWS code; a changed payload and another verifier's JWKS fail.
#define BOOST_TEST_MODULE attest_ear_jwks_test
#include <boost/test/unit_test.hpp>

#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

// python3 verify_ear_jwks.py JWKS EAR: {exit code, the header and claims it printed (or null)}.
std::pair<int, json> jwcrypto_verify(const ServiceWorld& w, const json& jwks, const std::string& jws, const std::string& name) {
  const auto jwks_file = w.dir / (name + ".jwks.json"), jws_file = w.dir / (name + ".jws");
  const std::string j = jwks.dump();
  write_file(jwks_file, std::vector<uint8_t>(j.begin(), j.end()));
  write_file(jws_file, std::vector<uint8_t>(jws.begin(), jws.end()));
  // Debian's interpreter: python3-jwcrypto is a Debian package (a python3 earlier on PATH may not see it).
  const std::string py = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  CliResult r = run_program({py, (source_dir() / "tests/attestation/verify_ear_jwks.py").string(), jwks_file.string(), jws_file.string()});
  BOOST_TEST_MESSAGE(name << ": exit " << r.exit_code << " " << r.err);
  return {r.exit_code, r.exit_code == 0 ? json::parse(r.out) : json(nullptr)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_ear_verifies_with_the_published_jwks_and_carries_eat_nonce_and_exp) {
  ServiceWorld w;
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "ear.db").string(), "--ear-ttl", "900"});
  VerifierProcess v(args, w.dir / "ear.out");
  CliResult r = w.endpoint(v.url, "lab-ear");
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);

  auto [cj, jwks] = Http(v.url, "").get("/.well-known/jwks.json");  // public: no token
  BOOST_TEST_REQUIRE(cj == 200, jwks.dump());
  BOOST_TEST_REQUIRE(jwks["keys"].size() == 1u, jwks.dump());
  const json& k = jwks["keys"][0];
  BOOST_TEST(k["kty"] == "EC");
  BOOST_TEST(k["crv"] == "P-256");
  BOOST_TEST(k["alg"] == "ES256");
  BOOST_TEST(k["use"] == "sig");
  BOOST_TEST(k["x"].get<std::string>().size() == 43u);  // 32 bytes, base64url without padding
  BOOST_TEST(k["y"].get<std::string>().size() == 43u);
  auto [ci, info] = Http(v.url).get("/v1/info");
  BOOST_TEST(k["kid"] == info["ear_signing_key"]["kid"], info.dump());

  // The push endpoint's last EAR.
  auto [ce, st] = Http(v.url, w.rp_bearer).get("/v1/endpoints/lab-ear");
  BOOST_TEST_REQUIRE(ce == 200, st.dump());
  const std::string ear = st["ear_jws"];
  auto [rc, out] = jwcrypto_verify(w, jwks, ear, "push");
  BOOST_TEST_REQUIRE(rc == 0);
  const json& c = out["claims"];
  BOOST_TEST(out["header"]["alg"] == "ES256");
  BOOST_TEST(c["status"] == "affirming", c.dump());
  BOOST_TEST(c["endpoint"] == "lab-ear");
  BOOST_TEST(c["exp"].get<int64_t>() == c["iat"].get<int64_t>() + 900, c.dump());
  BOOST_TEST(c["eat_nonce"].get<std::string>().size() == 43u, c.dump());  // the 32-byte nonce the verifier issued

  // One-shot with our own nonce: eat_nonce is exactly it, base64url (RFC 4648 §5).
  const std::string nonce = "0102030405060708090a0b0c0d0e0f10";
  json ev = w.quote(nonce, "oneshot-tpm", "q-oneshot");
  auto [co, one] = Http(v.url, w.rp_bearer).post("/v1/verify", json{{"evidence", ev}, {"nonce", nonce}});
  BOOST_TEST_REQUIRE(co == 200, one.dump());
  auto [rc1, out1] = jwcrypto_verify(w, jwks, one["ear_jws"], "oneshot");
  BOOST_TEST_REQUIRE(rc1 == 0);
  BOOST_TEST(out1["claims"]["eat_nonce"] == "AQIDBAUGBwgJCgsMDQ4PEA", out1.dump());
  BOOST_TEST(out1["claims"]["exp"].get<int64_t>() == out1["claims"]["iat"].get<int64_t>() + 900);

  // It can fail: a changed payload, and the JWKS of another verifier (another key).
  std::string forged = ear;
  const size_t dot = forged.find('.');
  forged[dot + 5] = forged[dot + 5] == 'A' ? 'B' : 'A';
  BOOST_TEST(jwcrypto_verify(w, jwks, forged, "forged").first == 1);
  auto args2 = w.verifier_args();
  args2.insert(args2.end(), {"--db", (w.dir / "other.db").string()});
  VerifierProcess other(args2, w.dir / "other.out");
  json other_jwks = Http(other.url, "").get("/.well-known/jwks.json").second;
  other_jwks["keys"][0]["kid"] = k["kid"];  // even under the right kid
  BOOST_TEST(jwcrypto_verify(w, other_jwks, ear, "other-key").first == 1);
}
