// Issue 13, standard AKs and EKs: endpoints whose keys are made by tpm2-tools
// on swtpm, not by Redoubt's agent. Each endpoint's swtpm first gets a real
// measured launch (`redoubt quote --tpm swtpm:host=..,port=..`, which leaves
// PCR17-20 and the DRTM event log); then `tpm2_createek` (ECC P-256 or
// RSA-2048) and `tpm2_createak` (the AK a child of the EK) or, as
// go-attestation does, an AK under an owner-hierarchy SRK; the verifier's
// enrolment challenge is answered with `tpm2_activatecredential` and the
// nonce quoted with `tpm2_quote`. Good boot (hypervisor SVN 5): affirming;
// bad boot (SVN 1 below the minimum 2): contraindicated naming it.
#define BOOST_TEST_MODULE attest_tpm2tools_ak_test
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "attestation/agent/sim_manufacturer_ca.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "tests/attestation/service_world.hpp"
#include "tpm/swtpm_process.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string text(const fs::path& p) {
  const auto b = read_file(p);
  return std::string(b.begin(), b.end());
}

struct World {
  ServiceWorld w;
  std::unique_ptr<VerifierProcess> v;
  fs::path demo_key;  // one hypervisor-signing key for every endpoint's launch (the SLB seals it)
  World() {
    policy::generate_key_files("P-256", (w.dir / "hv-signing").string());
    demo_key = w.dir / "hv-signing";
    // Reference values: that signer, minimum SVN 2 (`verifier sign-reference`, as an operator would).
    const std::string ref = json{{"type", "redoubt.reference-values/1"}, {"id", "tpm2-tools-ref"}, {"hypervisor", {{"min_svn", 2}}}, {"launch_policy", nullptr}}.dump();
    write_file(w.dir / "ref.json", std::vector<uint8_t>(ref.begin(), ref.end()));
    CliResult r = run_redoubt({"verifier", "sign-reference", "--in", (w.dir / "ref.json").string(), "--key", (w.dir / "authority.key.pem").string(),
                               "--out", (w.dir / "ref.cose").string(), "--hypervisor-signer", demo_key.string() + ".pub.pem"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    v = std::make_unique<VerifierProcess>(std::vector<std::string>{"--manufacturer-ca", w.ca_cert, "--reference", (w.dir / "ref.cose").string(),
                                                                   "--authority", w.authority_pub, "--token-issuer", w.issuer_pub, "--db",
                                                                   (w.dir / "v.db").string()},
                                          w.dir / "v.out");
  }
};

// One endpoint: its own swtpm, launched with a hypervisor of `svn`, keys from tpm2-tools.
struct ToolsEndpoint {
  const World& W;
  std::string id;
  fs::path s;  // its files
  tpm::SwtpmProcess tpm{""};
  std::string tcti;
  ToolsEndpoint(const World& world, const std::string& id_, uint64_t svn) : W(world), id(id_), s(world.w.dir / id_) {
    fs::create_directories(s / "state" / "demo");
    fs::copy_file(W.demo_key.string() + ".key.pem", s / "state" / "demo" / "hv-signing.key.pem");
    fs::copy_file(W.demo_key.string() + ".pub.pem", s / "state" / "demo" / "hv-signing.pub.pem");
    tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(tpm.port());
    CliResult r = run_redoubt({"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key", W.demo_key.string() + ".key.pem",
                               "--version", "0.1." + std::to_string(svn), "--svn", std::to_string(svn), "--out", (s / "hv.manifest").string()});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    // The measured launch on this TPM: PCR17-20 and the event log (the quote it also makes is not used).
    r = run_redoubt({"quote", "--tpm", tcti, "--state", (s / "state").string(), "--nonce", "00112233445566778899aabbccddeeff",
                     "--out", (s / "launch").string(), "--manifest", (s / "hv.manifest").string()});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  }
  CliResult tool(std::vector<std::string> argv) const {
    argv.insert(argv.begin() + 1, "--tcti=" + tcti);
    CliResult r = run_program(argv);
    BOOST_TEST_REQUIRE(r.exit_code == 0, argv[0] << ": " << r.out << r.err);
    run_program({"tpm2_flushcontext", "--tcti=" + tcti, "-t"});  // no resource manager: free the transient slots
    return r;
  }
  std::string f(const char* name) const { return (s / name).string(); }
  std::string b64(const char* name) const { return attest::to_base64(read_file(s / name)); }

  // tpm2_createek + tpm2_createak (a child of the EK), or an AK under the SRK (go-attestation).
  void make_keys(const std::string& ek_alg, bool under_srk) {
    tool({"tpm2_createek", "-c", f("ek.ctx"), "-G", ek_alg, "-u", f("ek.pub")});
    if (!under_srk) {
      tool({"tpm2_createak", "-C", f("ek.ctx"), "-c", f("ak.ctx"), "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-u", f("ak.pub"), "-n", f("ak.name")});
      return;
    }
    tool({"tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", f("srk.ctx")});
    tool({"tpm2_readpublic", "-c", f("srk.ctx"), "-o", f("srk.pub")});
    tool({"tpm2_create", "-C", f("srk.ctx"), "-G", "ecc:ecdsa-sha256:null", "-u", f("ak.pub"), "-r", f("ak.priv"), "-a",
          "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"});
    tool({"tpm2_load", "-C", f("srk.ctx"), "-u", f("ak.pub"), "-r", f("ak.priv"), "-c", f("ak.ctx")});
  }

  // Enrolment: EK certificate from the test's manufacturer CA, the challenge answered by the TPM.
  void enrol() {
    const TPM2B_PUBLIC ek = attest::unmarshal_public(read_file(s / "ek.pub"), "ek.pub");
    const auto ca = attest::ensure_sim_manufacturer_ca(W.w.dir / "ca");
    const attest::Bytes cert = attest::issue_ek_certificate(ca, ek.publicArea, id);
    Http admin(W.v->url, W.w.admin_bearer);
    auto [c, ch] = admin.post("/v1/endpoints", json{{"id", id}, {"ek_certificate", attest::to_base64(cert)}, {"ek_public", b64("ek.pub")},
                                                    {"ak_public", b64("ak.pub")}, {"mode", "push"}});
    BOOST_TEST_REQUIRE(c == 200, ch.dump());
    // tpm2-tools' credential file: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
    attest::Bytes file = {0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 1};
    for (const char* k : {"credential_blob", "encrypted_secret"}) {
      const attest::Bytes b = attest::from_base64(ch[k].get<std::string>(), k);
      file.insert(file.end(), b.begin(), b.end());
    }
    write_file(s / "cred.bin", file);
    tool({"tpm2_startauthsession", "--policy-session", "-S", f("sess.ctx")});
    // The EK's policy (TCG EK Credential Profile: PolicySecret(endorsement)) in that session.
    CliResult r = run_program({"sh", "-c", "tpm2_policysecret --tcti=" + tcti + " -S " + f("sess.ctx") + " -c e >/dev/null && tpm2_activatecredential --tcti=" + tcti +
                                               " -c " + f("ak.ctx") + " -C " + f("ek.ctx") + " -i " + f("cred.bin") + " -o " + f("secret.bin") +
                                               " -P session:" + f("sess.ctx") + "; rc=$?; tpm2_flushcontext --tcti=" + tcti + " " + f("sess.ctx") + "; exit $rc"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    run_program({"tpm2_flushcontext", "--tcti=" + tcti, "-t"});
    auto [ca2, act] = admin.post("/v1/endpoints/" + id + "/activate", json{{"secret", b64("secret.bin")}});
    BOOST_TEST_REQUIRE(ca2 == 200, act.dump());
  }

  // A fresh nonce quoted by tpm2_quote; the verifier's answer.
  json attest_once(bool send_parent) {
    Http ep(W.v->url, text(W.w.token_file("endpoint", id)));
    auto [cn, n] = ep.post("/v1/endpoints/" + id + "/nonce", json::object());
    BOOST_TEST_REQUIRE(cn == 200, n.dump());
    tool({"tpm2_quote", "-c", f("ak.ctx"), "-l", "sha256:17,18,19,20+sha384:17,18,19,20", "-q", n["nonce"].get<std::string>(), "-m", f("q.msg"),
          "-s", f("q.sig"), "-o", f("q.pcrs"), "-g", "sha256"});
    json ev = {{"quote", b64("q.msg")}, {"signature", b64("q.sig")}, {"pcrs", b64("q.pcrs")}, {"eventlog", attest::to_base64(read_file(s / "launch" / "eventlog.bin"))},
               {"ak_public", b64("ak.pub")}};
    if (send_parent) ev["ak_parent"] = b64("srk.pub");
    auto [ce, res] = ep.post("/v1/endpoints/" + id + "/evidence", ev);
    BOOST_TEST_REQUIRE(ce == 200, res.dump());
    return res;
  }
};

std::string codes(const json& ear, const char* list) {
  std::string s;
  for (const json& f : ear["submods"]["redoubt-drtm"][list]) s += f["code"].get<std::string>() + " ";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tpm2_createak_aks_good_boot_affirming_bad_boot_contraindicated) {
  World W;
  {
    ToolsEndpoint good(W, "tools-good", 5);
    good.make_keys("ecc", false);
    good.enrol();
    const json a = good.attest_once(false);
    BOOST_TEST(a["status"] == "affirming", codes(a["ear"], "redoubt.failures") << codes(a["ear"], "redoubt.warnings"));
    BOOST_TEST(a["ear"]["submods"]["redoubt-drtm"]["redoubt.ak"]["position"] == "ek-child");
    BOOST_TEST(a["ear"]["submods"]["redoubt-drtm"]["redoubt.ak"]["binding"] == "enrolled");
    const json b = good.attest_once(false);  // the clock moved on within the same boot
    BOOST_TEST(b["status"] == "affirming", codes(b["ear"], "redoubt.failures"));
  }
  {
    ToolsEndpoint bad(W, "tools-bad-rsa-ek", 1);
    bad.make_keys("rsa", false);  // an RSA-2048 EK: the challenge's seed is RSA-OAEP-encrypted
    bad.enrol();
    const json a = bad.attest_once(false);
    BOOST_TEST(a["status"] == "contraindicated");
    BOOST_TEST(codes(a["ear"], "redoubt.failures").find("hv_svn_below_minimum") != std::string::npos, codes(a["ear"], "redoubt.failures"));
    BOOST_TEST(codes(a["ear"], "redoubt.failures").find("qualified_signer") == std::string::npos);
    BOOST_TEST(a["ear"]["submods"]["redoubt-drtm"]["redoubt.ak"]["position"] == "ek-child");
  }
}

BOOST_AUTO_TEST_CASE(an_ak_under_the_srk_with_obfuscated_clock_counters) {
  World W;
  ToolsEndpoint ep(W, "tools-srk", 5);
  ep.make_keys("ecc", true);
  ep.enrol();
  // Without its parent's public area the qualifiedSigner cannot be placed: contraindicated.
  const json no_parent = ep.attest_once(false);
  BOOST_TEST(no_parent["status"] == "contraindicated");
  BOOST_TEST(codes(no_parent["ear"], "redoubt.failures").find("qualified_signer_mismatch") != std::string::npos);
  const json a = ep.attest_once(true);
  BOOST_TEST(a["status"] == "affirming", codes(a["ear"], "redoubt.failures") << codes(a["ear"], "redoubt.warnings"));
  BOOST_TEST(a["ear"]["submods"]["redoubt-drtm"]["redoubt.ak"]["position"] == "srk-child");
  // resetCount/restartCount are obfuscated for this AK (not the TPM's small counters) but stay
  // consistent: the next quote in the same boot is neither a reboot nor a regression.
  const json b = ep.attest_once(true);
  BOOST_TEST(b["status"] == "affirming", codes(b["ear"], "redoubt.failures"));
  BOOST_TEST(codes(b["ear"], "redoubt.notes").find("endpoint_rebooted") == std::string::npos, codes(b["ear"], "redoubt.notes"));
  BOOST_TEST_MESSAGE("srk-child clockInfo as quoted: " << b["ear"]["submods"]["redoubt-drtm"]["redoubt.clock"].dump());
}
