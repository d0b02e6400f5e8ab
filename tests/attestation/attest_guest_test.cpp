// Issue 5's appraisal of the guest PCRs (issue 4's events): end to end on
// loopback with `redoubt endpoint` booting guests under a launch policy, and
// the guest appraiser on crafted event logs. Every expected digest is computed
// here with OpenSSL / libcbor from the inputs the test made (PKI certificates,
// signed policies, guest images), never taken from the verifier's output.
#define BOOST_TEST_MODULE attest_guest
#include <boost/test/unit_test.hpp>
#include <cbor.h>
#include <chrono>
#include <fstream>
#include <thread>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/verifier/guest_appraiser.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_sign.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

const std::vector<std::string> kGuests = {"hello", "sha256", "mmu", "probe"};

X509* load_pem_cert(const fs::path& p) {
  FILE* f = fopen(p.c_str(), "r");
  BOOST_TEST_REQUIRE(f != nullptr, p.string());
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  BOOST_TEST_REQUIRE(c != nullptr, p.string());
  return c;
}

// SHA-256 of a certificate's DER (the PCR18 anchor event digest).
std::string cert_der_sha256(const fs::path& p) {
  X509* c = load_pem_cert(p);
  unsigned char* der = nullptr;
  const int n = i2d_X509(c, &der);
  std::string h = hex(sha("SHA256", Bytes(der, der + n)));
  OPENSSL_free(der);
  X509_free(c);
  return h;
}

// SHA-256 of a certificate's SubjectPublicKeyInfo DER (a guest signer id).
std::string spki_sha256(const fs::path& p) {
  X509* c = load_pem_cert(p);
  unsigned char* der = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c), &der);
  std::string h = hex(sha("SHA256", Bytes(der, der + n)));
  OPENSSL_free(der);
  X509_free(c);
  return h;
}

// The payload of a COSE_Sign1 file (RFC 9052 §4.2: [protected, unprotected, payload, signature]), via libcbor.
Bytes cose_payload(const fs::path& p) {
  Bytes b = read_file(p);
  if (!b.empty() && b[0] == 0xd2) b.erase(b.begin());  // tag 18 (one-byte head): libcbor 0.8's cbor_load refuses a top-level tag
  cbor_load_result res;
  cbor_item_t* item = cbor_load(b.data(), b.size(), &res);
  BOOST_TEST_REQUIRE(item != nullptr, "libcbor error " << res.error.code << " at " << res.error.position);
  cbor_item_t* arr = cbor_incref(item);
  BOOST_TEST_REQUIRE(cbor_isa_array(arr));
  BOOST_TEST_REQUIRE(cbor_array_size(arr) == 4u);
  cbor_item_t* payload = cbor_array_get(arr, 2);
  Bytes out(cbor_bytestring_handle(payload), cbor_bytestring_handle(payload) + cbor_bytestring_length(payload));
  cbor_decref(&payload);
  cbor_decref(&arr);
  cbor_decref(&item);
  return out;
}

void must(const CliResult& r, const std::string& what) { BOOST_TEST_REQUIRE(r.exit_code == 0, what + ": " + r.out + r.err); }

// The world: manufacturer CA, hypervisor owner, authority (ServiceWorld); two guest PKIs; three launch
// policies signed by PKI 1's owner: `pol` (anchor root1), `polu` (root1, unsigned guests allowed), `pol2`
// (anchor root2); reference values allowing pol + polu, root1, leaf1 and the four demo guests at SVN >= 1.
struct GuestWorld {
  ServiceWorld w;
  fs::path p1, p2, pol, polu, pol2;
  json expected;  // what the test computed: policy digests, anchor, signer, kernel digests
  std::unique_ptr<VerifierProcess> v;

  GuestWorld() {
    p1 = w.dir / "pki1";
    p2 = w.dir / "pki2";
    must(run_redoubt({"pki", "init", p1.string()}), "pki init 1");
    must(run_redoubt({"pki", "init", p2.string()}), "pki init 2");
    pol = w.dir / "pol.cose";
    polu = w.dir / "polu.cose";
    pol2 = w.dir / "pol2.cose";
    const std::string owner = (p1 / "owner.key.pem").string();
    must(run_redoubt({"sign", "policy", "--key", owner, "--anchor", (p1 / "root.crt.pem").string(), "--out", pol.string()}), "policy");
    must(run_redoubt({"sign", "policy", "--key", owner, "--anchor", (p1 / "root.crt.pem").string(), "--allow-unsigned", "--out", polu.string()}), "policy u");
    must(run_redoubt({"sign", "policy", "--key", owner, "--anchor", (p2 / "root.crt.pem").string(), "--out", pol2.string()}), "policy 2");

    expected["pol"] = hex(sha("SHA256", cose_payload(pol)));
    expected["polu"] = hex(sha("SHA256", cose_payload(polu)));
    expected["pol2"] = hex(sha("SHA256", cose_payload(pol2)));
    expected["root1"] = cert_der_sha256(p1 / "root.crt.pem");
    expected["root2"] = cert_der_sha256(p2 / "root.crt.pem");
    expected["leaf1"] = spki_sha256(p1 / "leaf.crt.pem");
    expected["leaf2"] = spki_sha256(p2 / "leaf.crt.pem");
    json rules = json::object();
    for (const std::string& g : kGuests) {
      expected["kernel"][g] = hex(sha("SHA256", read_file(build_dir() / "guests" / (g + ".bin"))));
      rules[g] = {{"min_svn", 1}, {"kernel_sha256", {expected["kernel"][g]}}};
    }
    policy::EvpKey hv_owner = policy::load_public_key((w.dir / "owner.pub.pem").string());
    json ref = {{"type", "redoubt.reference-values/1"},
                {"id", "guest-reference-1"},
                {"hypervisor", {{"signers", {policy::key_id_hex(hv_owner)}}, {"min_svn", 2}}},
                {"launch_policy", {{"sha256", {expected["pol"], expected["polu"]}}}},
                {"guests", {{"anchors", {expected["root1"]}}, {"signers", {expected["leaf1"]}}, {"rules", rules}}}};
    policy::EvpKey auth = policy::load_private_key((w.dir / "authority.key.pem").string());
    write_file(w.dir / "guest-reference.cose", attest::sign_reference_values(ref, auth));
    v = std::make_unique<VerifierProcess>(std::vector<std::string>{"--manufacturer-ca", w.ca_cert, "--reference", (w.dir / "guest-reference.cose").string(),
                                                                   "--authority", w.authority_pub, "--token-issuer", w.issuer_pub, "--db", (w.dir / "verifier.db").string(),
                                                                   "--poll-interval-ms", "150", "--agent-allow", "127.0.0.1"},
                                          w.dir / "verifier.out");
  }

  // Runs an endpoint (push, one attestation) and returns the verdict's claims (the submodule).
  json attest(const std::string& id, const std::vector<std::string>& extra, int want_exit) {
    CliResult r = w.endpoint(v->url, id, extra);
    BOOST_TEST_REQUIRE(r.exit_code == want_exit, r.out + r.err);
    Http h(v->url);
    auto [code, st] = h.get("/v1/endpoints/" + id);
    BOOST_TEST_REQUIRE(code == 200, st.dump());
    const std::string jws = st["ear_jws"];
    const size_t a = jws.find('.'), b = jws.find('.', a + 1);
    const Bytes claims = attest::from_base64url(jws.substr(a + 1, b - a - 1));
    json ear = json::parse(claims.begin(), claims.end());
    BOOST_TEST(ear["status"] == st["status"]);
    return ear["submods"]["redoubt-drtm"];
  }
};

GuestWorld& gw() {
  static GuestWorld g;
  return g;
}

const json* finding(const json& list, const std::string& code) {
  for (const json& f : list)
    if (f["code"] == code) return &f;
  return nullptr;
}

std::string codes(const json& list) {
  std::string s;
  for (const json& f : list) s += f["code"].get<std::string>() + " ";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(end_to_end)

BOOST_AUTO_TEST_CASE(good_endpoint_with_four_signed_guests_is_affirming) {
  GuestWorld& g = gw();
  json s = g.attest("good", {"--pki", g.p1.string(), "--policy", g.pol.string()}, 0);
  BOOST_TEST(s["ear.status"] == "affirming", s.dump());
  BOOST_TEST(s["redoubt.failures"].empty());
  BOOST_TEST(s["redoubt.warnings"].empty());
  BOOST_TEST(s["ear.trustworthiness-vector"]["executables"] == 2);
  BOOST_TEST(s["ear.appraisal-policy-id"] == "guest-reference-1");
  const json& lp = s["redoubt.launch"]["launch_policy"];
  BOOST_TEST(lp["sha256"] == g.expected["pol"]);
  BOOST_TEST(lp["event"] == 4);  // after SLB, HV manifest, HV image, HV signer (docs/pcr-map.md)
  BOOST_TEST(lp["anchors"].size() == 1u);
  BOOST_TEST(lp["anchors"][0]["sha256"] == g.expected["root1"]);
  const json& guests = s["redoubt.guests"];
  BOOST_TEST_REQUIRE(guests.size() == kGuests.size(), guests.dump());
  for (size_t i = 0; i < kGuests.size(); ++i) {
    BOOST_TEST_CONTEXT(kGuests[i]) {
      BOOST_TEST(guests[i]["name"] == kGuests[i]);
      BOOST_TEST(guests[i]["admission"] == "signed");
      BOOST_TEST(guests[i]["svn"] == 1);
      BOOST_TEST(guests[i]["kernel"]["digest"] == g.expected["kernel"][kGuests[i]]);
      BOOST_TEST(guests[i]["signer"] == g.expected["leaf1"]);
      // SL: 8 events (4 hypervisor, policy, 1 anchor, 2 separators); then chain/manifest per guest.
      BOOST_TEST(guests[i]["events"] == json({8 + 2 * i, 9 + 2 * i}));
    }
  }
}

BOOST_AUTO_TEST_CASE(guest_below_reference_min_svn_is_contraindicated_naming_the_pcr20_event) {
  GuestWorld& g = gw();
  json s = g.attest("old-guest", {"--pki", g.p1.string(), "--policy", g.pol.string(), "--guest", "hello", "--guest-svn", "0"}, 1);
  BOOST_TEST(s["ear.status"] == "contraindicated");
  BOOST_TEST(s["redoubt.failures"].size() == 1u, codes(s["redoubt.failures"]));
  const json* f = finding(s["redoubt.failures"], "guest_svn_below_minimum");
  BOOST_TEST_REQUIRE(f != nullptr, s["redoubt.failures"].dump());
  BOOST_TEST((*f)["detail"]["guest"] == "hello");
  BOOST_TEST((*f)["detail"]["svn"] == 0);
  BOOST_TEST((*f)["detail"]["min_svn"] == 1);
  BOOST_TEST((*f)["detail"]["event"]["pcr"] == 20);
  BOOST_TEST((*f)["detail"]["event"]["index"] == 9);
  BOOST_TEST((*f)["detail"]["event"]["type"] == "EV_REDOUBT_GUEST_MANIFEST");
  const std::string msg = (*f)["message"];
  BOOST_TEST(msg.find("PCR20") != std::string::npos, msg);
  BOOST_TEST(msg.find("guest hello") != std::string::npos, msg);
  BOOST_TEST(s["ear.trustworthiness-vector"]["executables"] == 96);
}

BOOST_AUTO_TEST_CASE(guest_under_a_foreign_anchor_and_signer_is_contraindicated) {
  GuestWorld& g = gw();
  // PKI 2's root is trusted by pol2 (so the hypervisor admits the guest), but neither pol2, root2 nor leaf2
  // is in the reference values.
  json s = g.attest("foreign", {"--pki", g.p2.string(), "--policy", g.pol2.string(), "--owner", (g.p1 / "owner.pub.pem").string(), "--guest", "hello"}, 1);
  BOOST_TEST(s["ear.status"] == "contraindicated");
  const json& fl = s["redoubt.failures"];
  BOOST_TEST(fl.size() == 3u, codes(fl));
  const json* lp = finding(fl, "launch_policy_not_allowed");
  const json* an = finding(fl, "guest_anchor_not_allowed");
  const json* sg = finding(fl, "guest_signer_not_allowed");
  BOOST_TEST_REQUIRE((lp && an && sg), fl.dump());
  BOOST_TEST((*lp)["detail"]["sha256"] == g.expected["pol2"]);
  BOOST_TEST((*lp)["detail"]["event"]["pcr"] == 17);
  BOOST_TEST((*an)["detail"]["sha256"] == g.expected["root2"]);
  BOOST_TEST((*an)["detail"]["event"]["pcr"] == 18);
  BOOST_TEST((*an)["detail"]["event"]["type"] == "EV_REDOUBT_GUEST_ANCHOR");
  BOOST_TEST((*sg)["detail"]["signer"] == g.expected["leaf2"]);
  BOOST_TEST((*sg)["detail"]["guest"] == "hello");
  BOOST_TEST((*sg)["detail"]["event"]["pcr"] == 19);
  BOOST_TEST((*sg)["detail"]["event"]["index"] == 8);
  BOOST_TEST((*sg)["detail"]["event"]["type"] == "EV_REDOUBT_GUEST_CHAIN");
}

BOOST_AUTO_TEST_CASE(allowed_unsigned_guest_is_a_warning_naming_it) {
  GuestWorld& g = gw();
  json s = g.attest("unsigned", {"--pki", g.p1.string(), "--policy", g.polu.string(), "--unsigned-guests", "--guest", "hello"}, 4);  // exit 4: warning
  BOOST_TEST(s["ear.status"] == "warning", s.dump());
  BOOST_TEST(s["redoubt.failures"].empty(), codes(s["redoubt.failures"]));
  BOOST_TEST_REQUIRE(s["redoubt.warnings"].size() == 1u);
  const json& w = s["redoubt.warnings"][0];
  BOOST_TEST(w["code"] == "guest_unsigned");
  BOOST_TEST(w["detail"]["guest"] == "hello");
  BOOST_TEST(w["detail"]["event"]["pcr"] == 19);
  BOOST_TEST(w["detail"]["event"]["type"] == "EV_REDOUBT_GUEST_UNSIGNED");
  BOOST_TEST(s["ear.trustworthiness-vector"]["executables"] == 32);
  // PCR20 EV_REDOUBT_GUEST_IMAGE: digest = H(kernel) (docs/pcr-map.md), attached to the guest.
  BOOST_TEST_REQUIRE(s["redoubt.guests"].size() == 1u);
  BOOST_TEST(s["redoubt.guests"][0]["admission"] == "unsigned");
  BOOST_TEST(s["redoubt.guests"][0]["images"] == json({g.expected["kernel"]["hello"]}));
  // The relying party's exit code tells a warning (4) from a contraindicated verdict (1).
  CliResult rp = run_redoubt({"attest", "--token", g.w.rp_token, "--verifier", g.v->url, "--verifier-key", (g.w.dir / "verifier.db.pub.pem").string(), "unsigned"});
  BOOST_TEST(rp.exit_code == 4, rp.out << rp.err);
  BOOST_TEST(rp.out.find("unsigned: warning (signed verdict") == 0, rp.out);
}

BOOST_AUTO_TEST_CASE(refused_guest_is_a_warning_naming_it_and_the_refusal) {
  GuestWorld& g = gw();
  json s = g.attest("refused", {"--pki", g.p1.string(), "--policy", g.pol.string(), "--unsigned-guests", "--guest", "hello"}, 4);
  BOOST_TEST(s["ear.status"] == "warning", s.dump());
  BOOST_TEST(s["redoubt.failures"].empty(), codes(s["redoubt.failures"]));
  BOOST_TEST_REQUIRE(s["redoubt.warnings"].size() == 1u, codes(s["redoubt.warnings"]));
  const json& w = s["redoubt.warnings"][0];
  BOOST_TEST(w["code"] == "guest_refused");
  BOOST_TEST(w["detail"]["guest"] == "hello");
  BOOST_TEST(w["detail"]["refusal"] == "unsigned_guest");
  BOOST_TEST(w["detail"]["event"]["pcr"] == 19);
  BOOST_TEST(w["detail"]["event"]["index"] == 8);
  BOOST_TEST(s["redoubt.guests"][0]["admission"] == "refused");
}

BOOST_AUTO_TEST_CASE(pull_mode_appraises_the_guests_too) {
  GuestWorld& g = gw();
  ChildProcess good(g.w.endpoint_argv(g.v->url, "pull-good", {"--mode", "pull", "--serve-seconds", "60", "--pki", g.p1.string(), "--policy", g.pol.string()}),
                    g.w.dir / "pull-good.out");
  ChildProcess old(g.w.endpoint_argv(g.v->url, "pull-old", {"--mode", "pull", "--serve-seconds", "60", "--pki", g.p1.string(), "--policy", g.pol.string(),
                                                            "--guest", "mmu", "--tamper", "guest-svn-low"}),
                   g.w.dir / "pull-old.out");
  good.wait_for("enrolled pull-good");
  old.wait_for("enrolled pull-old");
  Http h(g.v->url);
  auto verdict = [&](const std::string& id) {
    json st;
    for (int i = 0; i < 300; ++i) {  // bounded: 15 s
      auto [code, j] = h.get("/v1/endpoints/" + id);
      st = j;
      if (code == 200 && !j["history"].empty()) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_FAIL("no verdict for " + id + ": " + st.dump());
    return st;
  };
  json a = verdict("pull-good");
  BOOST_TEST(a["mode"] == "pull");
  BOOST_TEST(a["history"][0]["status"] == "affirming", a.dump());
  json b = verdict("pull-old");
  BOOST_TEST(b["history"][0]["status"] == "contraindicated");
  const json& fl = b["history"][0]["reasons"]["failures"];
  BOOST_TEST_REQUIRE(fl.size() == 1u, fl.dump());
  BOOST_TEST(fl[0]["code"] == "guest_svn_below_minimum");
  BOOST_TEST(fl[0]["message"].get<std::string>().find("guest mmu") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sign_reference_derives_the_guest_values_from_run_inputs) {
  GuestWorld& g = gw();
  const fs::path d = g.w.dir.path();
  must(run_redoubt({"sign", "guest", "--kernel", (build_dir() / "guests" / "hello.bin").string(), "--key", (g.p1 / "leaf.key.pem").string(), "--cert",
                    (g.p1 / "leaf.crt.pem").string(), "--chain", (g.p1 / "intermediate.crt.pem").string(), "--svn", "3", "--name", "hello", "--version",
                    "3.0", "--memory", "8", "--out", (d / "hello3.manifest").string()}),
       "sign guest");
  std::ofstream(d / "base.json") << json{{"type", "redoubt.reference-values/1"}, {"id", "derived"}, {"hypervisor", {{"signers", {std::string(64, 'a')}}}}}.dump();
  must(run_redoubt({"verifier", "sign-reference", "--in", (d / "base.json").string(), "--key", (d / "authority.key.pem").string(), "--out",
                    (d / "derived.cose").string(), "--launch-policy", g.pol.string(), "--guest-anchor", (g.p1 / "root.crt.pem").string(), "--guest-manifest",
                    (d / "hello3.manifest").string(), "--disallow-unsigned-guests"}),
       "sign-reference");
  const Bytes cose = read_file(d / "derived.cose");
  attest::ReferenceValues r = attest::verify_reference_values(cose, policy::load_public_key(g.w.authority_pub));
  BOOST_TEST(r.launch_policy_sha256 == std::set<std::string>({g.expected["pol"].get<std::string>()}));
  BOOST_TEST(r.launch_policy_required);
  BOOST_TEST(r.guest_anchors == std::set<std::string>({g.expected["root1"].get<std::string>()}));
  BOOST_TEST(r.guest_signers == std::set<std::string>({g.expected["leaf1"].get<std::string>()}));  // the manifest's kid = leaf SPKI digest
  BOOST_TEST(!r.allow_unsigned_guests);
  BOOST_TEST_REQUIRE(r.guest_rules.count("hello") == 1u);
  BOOST_TEST(r.guest_rules["hello"].min_svn == 3u);
  BOOST_TEST(r.guest_rules["hello"].kernel_sha256 == std::set<std::string>({g.expected["kernel"]["hello"].get<std::string>()}));
}

BOOST_AUTO_TEST_SUITE_END()

// The guest appraiser on crafted logs (no TPM): the rules a real hypervisor never breaks.
BOOST_AUTO_TEST_SUITE(crafted_logs)

namespace {

policy::LogEvent ev(size_t index, uint32_t pcr, uint32_t type, const Bytes& data, const Bytes* digest_over = nullptr) {
  return {index, 0, pcr, type, {{HashAlg::sha256, sha("SHA256", digest_over ? *digest_over : data)}}, data};
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// An x5chain item: [bstr leaf] (RFC 9360), the CBOR heads written by hand (RFC 8949 §3).
Bytes x5chain_of(const fs::path& pem) {
  X509* c = load_pem_cert(pem);
  unsigned char* der = nullptr;
  const int n = i2d_X509(c, &der);
  Bytes out(4 + static_cast<size_t>(n));
  out[0] = 0x81;  // array(1)
  out[1] = 0x59;  // bstr, 2-byte length
  out[2] = static_cast<uint8_t>(n >> 8);
  out[3] = static_cast<uint8_t>(n);
  std::copy(der, der + n, out.begin() + 4);
  OPENSSL_free(der);
  X509_free(c);
  return out;
}

Bytes manifest_payload(const std::string& name, uint64_t svn, const Bytes& kernel) {
  policy::GuestManifestInput in;
  in.name = name;
  in.version = "9.9";
  in.svn = svn;
  in.memory_mib = 8;
  return policy::build_guest_manifest_payload(kernel, nullptr, in);
}

attest::ReferenceValues ref_of(json guests, json launch_policy = nullptr) {
  return attest::parse_reference_values({{"type", "redoubt.reference-values/1"},
                                         {"id", "crafted"},
                                         {"hypervisor", {{"signers", {std::string(64, 'b')}}}},
                                         {"launch_policy", launch_policy},
                                         {"guests", guests}});
}

struct Crafted {
  fs::path pki;
  Crafted() {
    static TempDir dir;
    pki = dir / "pki";
    if (!fs::exists(pki / "leaf.crt.pem")) must(run_redoubt({"pki", "init", pki.string()}), "pki init");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(undecodable_manifest_is_contraindicated_naming_the_event) {
  Crafted c;
  policy::EventLog log;
  log.events = {ev(0, 19, policy::kEvGuestChain, x5chain_of(c.pki / "leaf.crt.pem")), ev(1, 20, policy::kEvGuestManifest, {0xa1, 0x01}),
                ev(2, 19, policy::kEvSeparator, {0, 0, 0, 0}), ev(3, 20, policy::kEvSeparator, {0, 0, 0, 0})};
  attest::Findings f;
  attest::GuestClaims g = attest::appraise_guest_events(log, nullptr, f);
  BOOST_TEST_REQUIRE(f.failures.size() == 1u);
  BOOST_TEST(f.failures[0].code == "guest_manifest_malformed");
  BOOST_TEST(f.failures[0].detail["event"]["index"] == 1);
  BOOST_TEST(f.failures[0].detail["event"]["pcr"] == 20);
  BOOST_TEST(f.failures[0].message.find("EV_REDOUBT_GUEST_MANIFEST") != std::string::npos, f.failures[0].message);
  BOOST_TEST(g.guests.empty());
}

BOOST_AUTO_TEST_CASE(kernel_name_and_svn_rules) {
  Crafted c;
  const Bytes kernel = text("crafted kernel bytes");
  const std::string kernel_hex = hex(sha("SHA256", kernel));
  policy::EventLog log;
  const Bytes chain = x5chain_of(c.pki / "leaf.crt.pem");
  log.events = {ev(0, 19, policy::kEvGuestChain, chain), ev(1, 20, policy::kEvGuestManifest, manifest_payload("alpha", 4, kernel)),
                ev(2, 19, policy::kEvGuestChain, chain), ev(3, 20, policy::kEvGuestManifest, manifest_payload("beta", 1, kernel)),
                ev(4, 19, policy::kEvSeparator, {0, 0, 0, 0}), ev(5, 20, policy::kEvSeparator, {0, 0, 0, 0})};
  const std::string leaf = spki_sha256(c.pki / "leaf.crt.pem");
  // alpha: right signer, SVN 4 >= 4, but its kernel is not the allowed one; beta: no rule.
  attest::ReferenceValues r = ref_of({{"signers", {leaf}}, {"rules", {{"alpha", {{"min_svn", 4}, {"kernel_sha256", {std::string(64, 'c')}}}}}}});
  attest::Findings f;
  attest::GuestClaims g = attest::appraise_guest_events(log, &r, f);
  BOOST_TEST_REQUIRE(f.failures.size() == 2u);
  BOOST_TEST(f.failures[0].code == "guest_kernel_not_allowed");
  BOOST_TEST(f.failures[0].detail["kernel"] == kernel_hex);
  BOOST_TEST(f.failures[0].detail["event"]["index"] == 1);
  BOOST_TEST(f.failures[1].code == "guest_not_allowed");
  BOOST_TEST(f.failures[1].detail["guest"] == "beta");
  BOOST_TEST(f.failures[1].detail["event"]["index"] == 3);
  BOOST_TEST_REQUIRE(g.guests.size() == 2u);
  BOOST_TEST(g.guests[0]["signer"] == leaf);
  BOOST_TEST(g.guests[0]["kernel"]["digest"] == kernel_hex);

  // The same log with the reference minimum above alpha's SVN and its kernel allowed.
  attest::ReferenceValues r2 = ref_of({{"rules", {{"alpha", {{"min_svn", 5}, {"kernel_sha256", {kernel_hex}}}}, {"beta", json::object()}}}});
  attest::Findings f2;
  attest::appraise_guest_events(log, &r2, f2);
  BOOST_TEST_REQUIRE(f2.failures.size() == 1u);
  BOOST_TEST(f2.failures[0].code == "guest_svn_below_minimum");
  BOOST_TEST(f2.failures[0].detail["svn"] == 4);
  BOOST_TEST(f2.failures[0].detail["min_svn"] == 5);
}

BOOST_AUTO_TEST_CASE(unsigned_guests_warn_by_default_and_fail_when_disallowed) {
  const Bytes kernel = text("unsigned kernel");
  policy::EventLog log;
  log.events = {ev(0, 19, policy::kEvGuestUnsigned, text("unsigned guest lab")),
                ev(1, 20, policy::kEvGuestImage, text("unsigned guest lab kernel (15 bytes)"), &kernel),
                ev(2, 19, policy::kEvSeparator, {0, 0, 0, 0})};
  attest::Findings f;
  attest::GuestClaims g = attest::appraise_guest_events(log, nullptr, f);
  BOOST_TEST(f.failures.empty());
  BOOST_TEST_REQUIRE(f.warnings.size() == 1u);
  BOOST_TEST(f.warnings[0].code == "guest_unsigned");
  BOOST_TEST(f.warnings[0].detail["guest"] == "lab");
  BOOST_TEST(g.guests[0]["images"] == json({hex(sha("SHA256", kernel))}));

  attest::ReferenceValues r = ref_of({{"allow_unsigned", false}});
  attest::Findings f2;
  attest::appraise_guest_events(log, &r, f2);
  BOOST_TEST(f2.warnings.empty());
  BOOST_TEST_REQUIRE(f2.failures.size() == 1u);
  BOOST_TEST(f2.failures[0].code == "guest_unsigned_not_allowed");
  BOOST_TEST(f2.failures[0].detail["event"]["type"] == "EV_REDOUBT_GUEST_UNSIGNED");
}

BOOST_AUTO_TEST_CASE(refusal_text_is_parsed_and_counted_once) {
  const Bytes why = text("guest web refused: rollback: guest-manifest: SVN 2 is below the floor 3");
  policy::EventLog log;
  log.events = {ev(0, 19, policy::kEvGuestRefused, why), ev(1, 20, policy::kEvGuestRefused, why)};
  attest::Findings f;
  attest::GuestClaims g = attest::appraise_guest_events(log, nullptr, f);
  BOOST_TEST(f.failures.empty());
  BOOST_TEST_REQUIRE(f.warnings.size() == 1u);
  BOOST_TEST(f.warnings[0].detail["guest"] == "web");
  BOOST_TEST(f.warnings[0].detail["refusal"] == "rollback");
  BOOST_TEST(f.warnings[0].detail["reason"] == "guest-manifest: SVN 2 is below the floor 3");
  BOOST_TEST(g.guests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(structural_problems_are_named) {
  Crafted c;
  const Bytes chain = x5chain_of(c.pki / "leaf.crt.pem");
  policy::EventLog log;
  log.events = {ev(0, 20, policy::kEvGuestChain, chain),           // wrong PCR
                ev(1, 19, policy::kEvGuestChain, {0x81, 0x41, 0x00}),  // a 1-byte "certificate"
                ev(2, 19, policy::kEvGuestChain, chain)};          // no manifest follows; no separator
  attest::ReferenceValues r = ref_of({{"rules", {{"x", json::object()}}}}, {{"sha256", {std::string(64, 'd')}}});
  attest::Findings f;
  attest::appraise_guest_events(log, &r, f);
  std::vector<std::string> got;
  for (const auto& x : f.failures) got.push_back(x.code);
  const std::vector<std::string> want = {"event_wrong_pcr", "guest_chain_malformed", "guest_chain_without_manifest", "guest_chain_without_manifest",
                                         "launch_policy_missing", "guests_not_measured"};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(f.failures[0].detail["expected_pcr"] == 19);
  BOOST_TEST(f.failures[4].detail["expected"]["pcr"] == 17);
}

BOOST_AUTO_TEST_CASE(launch_policy_serial_and_orphan_events) {
  Crafted c;
  const fs::path pol = c.pki.parent_path() / "serial3.policy";
  if (!fs::exists(pol))
    must(run_redoubt({"sign", "policy", "--key", (c.pki / "owner.key.pem").string(), "--anchor", (c.pki / "root.crt.pem").string(), "--serial", "3",
                      "--name", "corp-3", "--out", pol.string()}),
         "sign policy");
  const Bytes payload = cose_payload(pol);
  policy::EventLog log;
  log.events = {ev(0, 17, policy::kEvLaunchPolicy, payload), ev(1, 20, policy::kEvGuestManifest, manifest_payload("a", 1, text("k"))),
                ev(2, 20, policy::kEvGuestImage, text("unsigned guest x kernel"), &payload)};
  attest::ReferenceValues r4 = ref_of(nullptr, {{"sha256", {hex(sha("SHA256", payload))}}, {"min_serial", 4}});
  attest::Findings f;
  attest::GuestClaims g = attest::appraise_guest_events(log, &r4, f);
  std::vector<std::string> got;
  for (const auto& x : f.failures) got.push_back(x.code);
  const std::vector<std::string> want = {"launch_policy_serial_below_minimum", "guest_manifest_without_chain", "guest_image_without_guest"};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(g.launch_policy["serial"] == 3);
  BOOST_TEST(g.launch_policy["name"] == "corp-3");
  BOOST_TEST(g.launch_policy["sha256"] == hex(sha("SHA256", payload)));

  attest::ReferenceValues r3 = ref_of(nullptr, {{"min_serial", 3}});
  attest::Findings f3;
  log.events.resize(1);
  attest::appraise_guest_events(log, &r3, f3);
  BOOST_TEST(f3.failures.empty());

  // A payload that does not decode: a note, and a failure only when a serial is required.
  log.events = {ev(0, 17, policy::kEvLaunchPolicy, text("not CBOR"))};
  attest::Findings f4;
  attest::appraise_guest_events(log, &r3, f4);
  BOOST_TEST_REQUIRE(f4.notes.size() == 1u);
  BOOST_TEST(f4.notes[0].code == "launch_policy_undecodable");
  BOOST_TEST_REQUIRE(f4.failures.size() == 1u);
  BOOST_TEST(f4.failures[0].code == "launch_policy_serial_below_minimum");
}

BOOST_AUTO_TEST_CASE(garbage_event_data_is_named_never_a_crash) {
  Crafted c;
  const Bytes chain = x5chain_of(c.pki / "leaf.crt.pem");
  const Bytes manifest = manifest_payload("alpha", 1, text("k"));
  const uint32_t types[] = {policy::kEvLaunchPolicy, policy::kEvGuestAnchor, policy::kEvGuestChain, policy::kEvGuestManifest,
                            policy::kEvGuestUnsigned, policy::kEvGuestRefused, policy::kEvGuestImage};
  const uint32_t pcrs[] = {17, 18, 19, 20, 19, 19, 20};
  attest::ReferenceValues r = ref_of({{"signers", {std::string(64, 'f')}}, {"rules", {{"alpha", {{"min_svn", 2}}}}}}, {{"sha256", {std::string(64, 'a')}}});
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  size_t failures = 0;
  for (int round = 0; round < 3000; ++round) {
    const size_t k = next() % 7;
    // Valid items truncated or with flipped bytes, or plain random bytes.
    Bytes d = k == 2 ? chain : k == 3 ? manifest : Bytes(next() % 64);
    for (auto& b : d)
      if (k != 2 && k != 3) b = static_cast<uint8_t>(next() >> 16);
    if (!d.empty() && (k == 2 || k == 3)) {
      d.resize(next() % (d.size() + 1));
      if (!d.empty()) d[next() % d.size()] ^= static_cast<uint8_t>(1u << (next() % 8));
    }
    policy::EventLog log;
    log.events = {ev(0, 19, policy::kEvGuestChain, chain), ev(1, pcrs[k], types[k], d)};
    attest::Findings f;
    attest::appraise_guest_events(log, &r, f);
    failures += f.failures.size();
    for (const auto& x : f.failures) BOOST_TEST_REQUIRE(!x.message.empty());
  }
  BOOST_TEST(failures > 3000u);  // at least the missing policy on every round
}

BOOST_AUTO_TEST_CASE(reference_value_errors_are_named) {
  auto bad = [](json guests, json lp) {
    try {
      ref_of(std::move(guests), std::move(lp));
    } catch (const attest::AttestError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  BOOST_TEST(bad({{"rules", {1, 2}}}, nullptr).find("guests.rules must be an object") != std::string::npos);
  BOOST_TEST(bad({{"rules", {{"a", {{"min_svn", -1}}}}}}, nullptr).find("min_svn must be an unsigned integer") != std::string::npos);
  BOOST_TEST(bad({{"signers", {"abcd"}}}, nullptr).find("is not 32 bytes") != std::string::npos);
  BOOST_TEST(bad(nullptr, {{"sha256", {std::string(64, 'e')}}, {"required", false}}).find("required cannot be false") != std::string::npos);
  BOOST_TEST(bad({{"allow_unsigned", "yes"}}, nullptr).find("allow_unsigned must be true or false") != std::string::npos);
  BOOST_TEST(bad(nullptr, nullptr) == "accepted");
}

BOOST_AUTO_TEST_SUITE_END()
