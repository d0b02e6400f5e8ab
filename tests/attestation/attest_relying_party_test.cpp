// The relying party's side of the service: one-shot /v1/verify with signed reference values,
// evidence no TPM made (issue 16 item 2), and `redoubt attest` trusting only the signed EAR
// (issue 16 item 3) behind a man in the middle.
#define BOOST_TEST_MODULE attest_relying_party
#include <boost/test/unit_test.hpp>

#include "tests/attestation/service_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
using namespace redoubt::test::svc;
using nlohmann::json;

namespace {

// Evidence no TPM made: the PCR values `log` replays to, "quoted" over `nonce` by an OpenSSL key
// that claims the AK template (fixedTPM, restricted, ...) in its public area.
json software_evidence(const attest::Bytes& log, const attest::Bytes& nonce, const policy::EvpKey& key) {
  TPM2B_PUBLIC ak = attest::ak_template_ecc_p256();
  BIGNUM *x = nullptr, *y = nullptr;
  BOOST_TEST_REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1);
  BOOST_TEST_REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1);
  ak.publicArea.unique.ecc.x.size = ak.publicArea.unique.ecc.y.size = 32;
  BN_bn2binpad(x, ak.publicArea.unique.ecc.x.buffer, 32);
  BN_bn2binpad(y, ak.publicArea.unique.ecc.y.buffer, 32);
  BN_free(x);
  BN_free(y);

  attest::QuotedPcrs pcrs;
  pcrs.selection = attest::make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
  auto replayed = policy::replay_event_log(policy::parse_event_log(log));
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384})
    for (uint32_t pcr = 17; pcr <= 20; ++pcr) pcrs.values.push_back(replayed.at(bank).at(pcr));

  TPMS_ATTEST a{};
  a.magic = TPM2_GENERATED_VALUE;
  a.type = TPM2_ST_ATTEST_QUOTE;
  const attest::Bytes qn = attest::tpm_primary_qualified_name(TPM2_RH_ENDORSEMENT, ak.publicArea);
  a.qualifiedSigner.size = static_cast<uint16_t>(qn.size());
  std::memcpy(a.qualifiedSigner.name, qn.data(), qn.size());
  a.extraData.size = static_cast<uint16_t>(nonce.size());
  std::memcpy(a.extraData.buffer, nonce.data(), nonce.size());
  a.clockInfo = {5000, 1, 0, TPM2_YES};
  a.attested.quote.pcrSelect = pcrs.selection;
  const attest::Bytes pd = pcrs.digest(TPM2_ALG_SHA256);
  a.attested.quote.pcrDigest.size = static_cast<uint16_t>(pd.size());
  std::memcpy(a.attested.quote.pcrDigest.buffer, pd.data(), pd.size());
  const attest::Bytes msg = attest::marshal_attest(a);

  // ECDSA-SHA256 over the TPMS_ATTEST bytes, as TPM2_Quote signs (Part 3 §18.4).
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  BOOST_TEST_REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1);
  BOOST_TEST_REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) == 1);
  attest::Bytes der(len);
  BOOST_TEST_REQUIRE(EVP_DigestSign(ctx.get(), der.data(), &len, msg.data(), msg.size()) == 1);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  BOOST_TEST_REQUIRE(sig != nullptr);
  TPMT_SIGNATURE s{};
  s.sigAlg = TPM2_ALG_ECDSA;
  s.signature.ecdsa.hash = TPM2_ALG_SHA256;
  s.signature.ecdsa.signatureR.size = s.signature.ecdsa.signatureS.size = 32;
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), s.signature.ecdsa.signatureR.buffer, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), s.signature.ecdsa.signatureS.buffer, 32);
  ECDSA_SIG_free(sig);
  return attest::evidence_to_json({msg, attest::marshal_signature(s), attest::write_pcr_file(pcrs), log, attest::marshal_public(ak)});
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_shot_verify_with_signed_reference_values) {
  Fixture& f = fx();
  Http h(f.v->url);
  const std::string nonce = "0102030405060708";
  json ev = f.w.quote(nonce, "oneshot-tpm", "q-oneshot");
  auto [c, res] = h.post("/v1/verify", json{{"evidence", ev}, {"nonce", nonce}});
  BOOST_TEST(c == 200, res.dump());
  // `redoubt quote` signs with its own demo key, which the reference values do not allow.
  BOOST_TEST(res["status"] == "contraindicated");
  BOOST_TEST(res["ear"]["submods"]["redoubt-drtm"]["redoubt.failures"].dump().find("hv_signer_not_allowed") != std::string::npos);
  BOOST_TEST(res["ear_jws"].get<std::string>().size() > 100u);
  auto [c2, v] = h.get("/v1/verdicts/" + std::to_string(res["seq"].get<int64_t>()));
  BOOST_TEST(c2 == 200);
  BOOST_TEST(v["status"] == "contraindicated");
  // Wrong nonce.
  auto [c3, res3] = h.post("/v1/verify", json{{"evidence", ev}, {"nonce", "ff"}});
  BOOST_TEST(res3["ear"]["submods"]["redoubt-drtm"]["redoubt.failures"].dump().find("nonce_mismatch") != std::string::npos);
  // Reference values not signed by the authority are refused.
  auto [c4, res4] = h.post("/v1/verify", json{{"evidence", ev}, {"nonce", nonce}, {"reference_values", attest::to_base64(attest::Bytes(40, 0x42))}});
  BOOST_TEST(c4 == 400);
  BOOST_TEST(res4["error"] == "bad_reference_values");
  (void)c3;

  // The emulated-DRTM marker (docs/attestation.md "Emulated DRTM (QEMU)") inserted into the same
  // evidence's log, as a QEMU harness does: the signed verdict says how the DRTM was made, and the
  // verifier's own reference values refuse it while signed ones with drtm.allow_emulated accept it.
  const policy::EvpKey ear_key = policy::load_public_key((f.w.dir / "verifier.db.pub.pem").string());
  auto signed_drtm = [&](const json& r) { return attest::jws_verify_es256(r["ear_jws"], ear_key)["submods"]["redoubt-drtm"]; };
  BOOST_TEST(signed_drtm(res)["redoubt.drtm"] == json({{"method", "skinit"}}));
  const std::string text = "qemu: SKINIT emulated by the host harness (swtpm control channel HASH_START/DATA/END)";
  json marked = ev;
  marked["eventlog"] = attest::to_base64(policy::insert_emulated_drtm_marker(attest::from_base64(ev["eventlog"].get<std::string>()), text));
  auto [c5, res5] = h.post("/v1/verify", json{{"evidence", marked}, {"nonce", nonce}});
  BOOST_TEST_REQUIRE(c5 == 200, res5.dump());
  json s5 = signed_drtm(res5);
  BOOST_TEST(s5["redoubt.drtm"]["method"] == "harness-emulated");
  BOOST_TEST(s5["redoubt.drtm"]["allowed"] == false);
  BOOST_TEST(s5["redoubt.drtm"]["marker"]["text"] == text);
  BOOST_TEST(s5["redoubt.failures"].dump().find("\"drtm_emulated\"") != std::string::npos, s5.dump());
  json allow_doc = {{"type", "redoubt.reference-values/1"}, {"id", "test-qemu"},
                    {"hypervisor", {{"signers", {std::string(64, 'a')}}}}, {"drtm", {{"allow_emulated", true}}}};
  const attest::Bytes allow_cose = attest::sign_reference_values(allow_doc, policy::load_private_key((f.w.dir / "authority.key.pem").string()));
  auto [c6, res6] = h.post("/v1/verify", json{{"evidence", marked}, {"nonce", nonce}, {"reference_values", attest::to_base64(allow_cose)}});
  BOOST_TEST_REQUIRE(c6 == 200, res6.dump());
  json s6 = signed_drtm(res6);
  BOOST_TEST(s6["ear.appraisal-policy-id"] == "test-qemu");
  BOOST_TEST(s6["redoubt.drtm"]["allowed"] == true);
  BOOST_TEST(s6["redoubt.failures"].dump().find("\"drtm_emulated\"") == std::string::npos, s6.dump());
  BOOST_TEST(s6["redoubt.notes"].dump().find("\"drtm_emulated\"") != std::string::npos, s6.dump());
}

// Issue 16 item 2: one-shot /v1/verify without an enrolled endpoint took the AK in the evidence on
// trust, so a software key signing a good boot's PCRs over a fresh nonce was affirming.
BOOST_AUTO_TEST_CASE(one_shot_evidence_signed_by_a_software_key_is_not_affirming) {
  Fixture& f = fx();
  Http h(f.v->url);
  const policy::EvpKey ear_key = policy::load_public_key((f.w.dir / "verifier.db.pub.pem").string());
  attest::Bytes nonce(32);
  BOOST_TEST_REQUIRE(RAND_bytes(nonce.data(), 32) == 1);
  const json ev = software_evidence(good_boot_log(f), nonce, policy::generate_key("P-256"));
  auto [c, res] = h.post("/v1/verify", json{{"evidence", ev}, {"nonce", attest::to_hex(nonce)}});
  BOOST_TEST_REQUIRE(c == 200, res.dump());
  const json ear = attest::jws_verify_es256(res["ear_jws"], ear_key);
  const json& sub = ear["submods"]["redoubt-drtm"];
  BOOST_TEST(ear["status"] == "contraindicated", sub.dump());
  BOOST_TEST(res["status"] == "contraindicated");
  // Everything else about the evidence is right: the only failure is the unproven AK, labelled as such.
  BOOST_TEST_REQUIRE(sub["redoubt.failures"].size() == 1u, sub["redoubt.failures"].dump());
  BOOST_TEST(sub["redoubt.failures"][0]["code"] == "ak_not_enrolled");
  BOOST_TEST(sub["redoubt.failures"][0]["message"].get<std::string>().find("nothing proves it is a TPM key") != std::string::npos,
             sub["redoubt.failures"][0].dump());
  BOOST_TEST(sub["redoubt.ak"] == json({{"binding", "none"}, {"name", sub["redoubt.ak"]["name"]}, {"position", "endorsement-primary"}}),
             sub["redoubt.ak"].dump());
  BOOST_TEST(sub["ear.trustworthiness-vector"]["instance-identity"] == 97);
  BOOST_TEST(sub["redoubt.launch"]["hypervisor"]["svn"] == 2);  // the good boot's claims, for diagnosis only

  // The same software evidence against an enrolled endpoint's AK (a TPM key, proven at enrolment): the signature fails.
  auto [c2, res2] = h.post("/v1/verify", json{{"evidence", ev}, {"nonce", attest::to_hex(nonce)}, {"endpoint", "log-donor"}});
  BOOST_TEST_REQUIRE(c2 == 200, res2.dump());
  const json sub2 = attest::jws_verify_es256(res2["ear_jws"], ear_key)["submods"]["redoubt-drtm"];
  BOOST_TEST(sub2["ear.status"] == "contraindicated");
  BOOST_TEST(sub2["redoubt.failures"].dump().find("bad_signature") != std::string::npos, sub2.dump());
  BOOST_TEST(sub2["redoubt.ak"]["binding"] == "enrolled");
}

namespace {

// A man in the middle between `redoubt attest` and the verifier: forwards each GET and lets the
// test rewrite the JSON answer.
struct Proxy {
  httplib::Server srv;
  int port = 0;
  std::thread t;
  std::function<void(json&)> edit;
  Proxy(const std::string& upstream, std::function<void(json&)> e) : edit(std::move(e)) {
    srv.Get(".*", [this, upstream](const httplib::Request& req, httplib::Response& res) {
      Http up(upstream);
      auto [code, j] = up.get(req.target);
      edit(j);
      res.status = code;
      res.set_content(j.dump(), "application/json");
    });
    port = srv.bind_to_any_port("127.0.0.1");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~Proxy() {
    srv.stop();
    t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// The JWS with its payload rewritten by `edit` (header and signature kept).
std::string forge_payload(const std::string& jws, const std::function<void(json&)>& edit) {
  const size_t a = jws.find('.'), b = jws.rfind('.');
  const attest::Bytes p = attest::from_base64url(jws.substr(a + 1, b - a - 1));
  json claims = json::parse(p.begin(), p.end());
  edit(claims);
  const std::string d = claims.dump();
  return jws.substr(0, a + 1) + attest::to_base64url(attest::Bytes(d.begin(), d.end())) + jws.substr(b);
}

void flip_to_affirming(json& claims) {
  claims["status"] = "affirming";
  claims["submods"]["redoubt-drtm"]["ear.status"] = "affirming";
  claims["submods"]["redoubt-drtm"]["redoubt.failures"] = json::array();
}

}  // namespace

// Issue 16 item 3: `redoubt attest` read the unsigned `status` and never checked `ear_jws`, so a
// proxy turning contraindicated into affirming made it exit 0. It now verifies the EAR with the
// verifier's pinned key (--verifier-key) and uses only the signed claims.
BOOST_AUTO_TEST_CASE(attest_uses_only_the_signed_verdict) {
  Fixture& f = fx();
  const std::string key = (f.w.dir / "verifier.db.pub.pem").string();
  CliResult r = f.w.endpoint(f.v->url, "rp-bad", {"--tamper", "svn-low"});
  BOOST_TEST_REQUIRE(r.exit_code == 1, r.out + r.err);
  good_boot_log(f);  // "log-donor" is affirming
  auto attest = [&](const std::string& url, const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"attest", "--token", f.w.rp_token, "--verifier", url, "--verifier-key", key, name};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_redoubt(a);
  };

  // Straight to the verifier: the signed verdicts.
  CliResult a = attest(f.v->url, "rp-bad");
  BOOST_TEST(a.exit_code == 1, a.out + a.err);
  BOOST_TEST(a.out.rfind("rp-bad: contraindicated (signed verdict", 0) == 0, a.out);
  BOOST_TEST(a.out.find("hv_svn_below_minimum: event #1 (PCR17, EV_REDOUBT_HV_MANIFEST") != std::string::npos, a.out);
  a = attest(f.v->url, "log-donor");
  BOOST_TEST(a.exit_code == 0, a.out + a.err);
  BOOST_TEST(a.out.rfind("log-donor: affirming (signed verdict", 0) == 0, a.out);

  // 1. The unsigned fields flipped: ignored, the signed status stands.
  {
    Proxy p(f.v->url, [](json& j) {
      j["status"] = "affirming";
      for (auto& v : j["history"]) v["status"] = "affirming", v["reasons"]["failures"] = json::array();
    });
    a = attest(p.url(), "rp-bad");
    BOOST_TEST(a.exit_code == 1, a.out + a.err);
    BOOST_TEST(a.out.rfind("rp-bad: contraindicated", 0) == 0, a.out);
  }
  // 2. The signed payload flipped too: the signature no longer verifies.
  {
    Proxy p(f.v->url, [](json& j) {
      j["status"] = "affirming";
      j["ear_jws"] = forge_payload(j["ear_jws"], flip_to_affirming);
    });
    a = attest(p.url(), "rp-bad");
    BOOST_TEST(a.exit_code == 3, a.out + a.err);
    BOOST_TEST(a.out == "rp-bad: no trustworthy verdict (bad_ear_signature: the JWS signature does not verify with the verifier key " + 
                            policy::key_id_hex(policy::load_public_key(key)).substr(0, 16) + "… (--verifier-key))\n", a.out);
  }
  // 3. Another endpoint's genuine affirming verdict put in its place.
  {
    Http v(f.v->url);
    const std::string donor_jws = v.get("/v1/endpoints/log-donor").second["ear_jws"];
    Proxy p(f.v->url, [donor_jws](json& j) {
      j["status"] = "affirming";
      j["ear_jws"] = donor_jws;
    });
    a = attest(p.url(), "rp-bad");
    BOOST_TEST(a.exit_code == 3, a.out + a.err);
    BOOST_TEST(a.out == "rp-bad: no trustworthy verdict (ear_wrong_endpoint: the signed verdict is about endpoint \"log-donor\", not \"rp-bad\")\n", a.out);
  }
  // 4. No signed verdict at all.
  {
    Proxy p(f.v->url, [](json& j) {
      j["status"] = "affirming";
      j.erase("ear_jws");
    });
    a = attest(p.url(), "rp-bad");
    BOOST_TEST(a.exit_code == 3, a.out + a.err);
    BOOST_TEST(a.out.find("rp-bad: no trustworthy verdict (no_signed_verdict: ") == 0, a.out);
  }
  // 5. A key that is not the verifier's: nothing it is shown verifies.
  a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", f.v->url, "--verifier-key", f.w.authority_pub, "rp-bad"});
  BOOST_TEST(a.exit_code == 3, a.out + a.err);
  BOOST_TEST(a.out.find("bad_ear_signature") != std::string::npos, a.out);
  // 6. An older genuine verdict replayed: caught by --max-age.
  {
    Http v(f.v->url);
    const int64_t first_seq = v.get("/v1/endpoints/log-donor?history=100").second["history"].back()["seq"];
    const std::string old_jws = v.get("/v1/verdicts/" + std::to_string(first_seq)).second["ear_jws"];
    const int64_t iat = attest::jws_verify_es256(old_jws, policy::load_public_key(key))["iat"];
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    Proxy p(f.v->url, [old_jws](json& j) { j["ear_jws"] = old_jws; });
    a = attest(p.url(), "log-donor", {"--max-age", "1"});
    BOOST_TEST(a.exit_code == 5, a.out + a.err);  // stale: no current answer
    BOOST_TEST(a.out.find("log-donor: stale verdict (signed at " + std::to_string(iat) + ", ") == 0, a.out);
  }
  // 7. Nobody at the verifier's address: exit 5 (no current answer), saying what failed and what to check.
  {
    const int port = [] {  // a loopback port nobody listens on: bound, read, closed
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof sa;
      BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
      BOOST_TEST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
      ::close(fd);
      return int(ntohs(sa.sin_port));
    }();
    a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", "http://127.0.0.1:" + std::to_string(port), "--verifier-key", key, "rp-bad"});
    BOOST_TEST(a.exit_code == 5, a.out + a.err);
    BOOST_TEST(a.out.find("verifier_unreachable: GET http://127.0.0.1:" + std::to_string(port) +
                          "/v1/endpoints/rp-bad?history=10: cannot connect (nothing listens there, or no route to it); check the "
                          "--verifier URL and that `redoubt verifier serve` runs there") != std::string::npos, a.out);
  }
  // 8. Without --verifier-key there is no verdict to trust: a usage error naming the option.
  a = run_redoubt({"attest", "--token", f.w.rp_token, "--verifier", f.v->url, "rp-bad"});
  BOOST_TEST(a.exit_code == 2, a.out + a.err);
  BOOST_TEST(a.err.find("--verifier-key") != std::string::npos, a.err);
}
