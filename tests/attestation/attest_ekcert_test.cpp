// EK certificates in TPM NV (TCG EK Credential Profile 2.0 §2.2.1.5), both
// backends: the inproc TPM's certificate is issued by the simulator CA into NV
// 0x01c0000a; a spawned swtpm is manufactured by swtpm_setup + swtpm-localca
// (P-384 EK, certificate in NV 0x01c00016). The endpoint reads it from NV and
// the verifier enrols it only if it chains to a configured manufacturer CA.
// NV contents are read back independently (ESAPI with owner auth; tpm2_nvread).
#define BOOST_TEST_MODULE attest_ekcert
#include <tss2/tss2_esys.h>

#include <boost/test/unit_test.hpp>
#include <fstream>

#include "attestation/agent/ek_nv.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "tpm/swtpm_tpm.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

// A private swtpm-localca (never /var/lib/swtpm-localca) and an swtpm_setup config using it.
struct SwtpmLocalCa {
  std::filesystem::path dir, setup_conf;
  explicit SwtpmLocalCa(const std::filesystem::path& d) : dir(d), setup_conf(d / "swtpm_setup.conf") {
    std::filesystem::create_directories(dir / "state");
    std::ofstream(dir / "swtpm-localca.conf") << "statedir = " << (dir / "state").string() << "\n"
                                              << "signingkey = " << (dir / "state" / "signkey.pem").string() << "\n"
                                              << "issuercert = " << (dir / "state" / "issuercert.pem").string() << "\n"
                                              << "certserial = " << (dir / "state" / "certserial").string() << "\n";
    std::ofstream(setup_conf) << "create_certs_tool = /usr/bin/swtpm_localca\n"
                              << "create_certs_tool_config = " << (dir / "swtpm-localca.conf").string() << "\n"
                              << "create_certs_tool_options = /etc/swtpm-localca.options\n"
                              << "active_pcr_banks = sha256,sha384\n";
  }
  // swtpm_localca's root and intermediate (issuer) certificates, created by its first run.
  std::vector<std::string> ca_args() const {
    return {"--manufacturer-ca", (dir / "state" / "swtpm-localca-rootca-cert.pem").string(), "--manufacturer-ca",
            (dir / "state" / "issuercert.pem").string()};
  }
};

attest::Bytes ek_cert_of(Http& h, const std::string& id) {
  auto [code, j] = h.get("/v1/endpoints/" + id);
  BOOST_TEST_REQUIRE(code == 200, j.dump());
  return attest::from_base64(j["ek_certificate"].get<std::string>());
}

}  // namespace

BOOST_AUTO_TEST_CASE(inproc_ek_certificate_lives_in_nv_0x01c0000a) {
  ServiceWorld w;
  auto args = w.verifier_args();
  args.insert(args.end(), {"--db", (w.dir / "v.db").string()});
  VerifierProcess v(args, w.dir / "verifier.out");
  CliResult r = w.endpoint(v.url, "nv-in", {});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("nv-in: affirming") != std::string::npos, r.out);
  BOOST_TEST(r.err.find("EK certificate from NV 0x1c0000a") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists(w.dir / "ep-nv-in" / "ek"));  // no file copy any more
  Http h(v.url);
  const attest::Bytes presented = ek_cert_of(h, "nv-in");

  // The endpoint's TPM state, opened here (the endpoint has exited): read the index with
  // ESAPI directly, authorised by the OWNER (TPMA_NV_OWNERREAD), not by the agent's code path.
  auto tpm = tpm::open_tpm(tpm::TpmSpec::parse("inproc:state=" + (w.dir / "ep-nv-in" / "tpm-inproc").string()));
  ESYS_CONTEXT* e = tpm->esys();
  ESYS_TR nv = ESYS_TR_NONE;
  BOOST_TEST_REQUIRE(Esys_TR_FromTPMPublic(e, 0x01c0000a, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) == TSS2_RC_SUCCESS);
  TPM2B_NV_PUBLIC* pub = nullptr;
  BOOST_TEST_REQUIRE(Esys_NV_ReadPublic(e, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr) == TSS2_RC_SUCCESS);
  BOOST_TEST(pub->nvPublic.attributes == (attest::kEkCertNvAttributes | TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED));
  BOOST_TEST(pub->nvPublic.dataSize == presented.size());
  attest::Bytes in_nv;
  for (uint16_t off = 0; off < pub->nvPublic.dataSize;) {
    TPM2B_MAX_NV_BUFFER* d = nullptr;
    const uint16_t n = std::min<uint16_t>(256, pub->nvPublic.dataSize - off);
    BOOST_TEST_REQUIRE(Esys_NV_Read(e, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, off, &d) == TSS2_RC_SUCCESS);
    in_nv.insert(in_nv.end(), d->buffer, d->buffer + d->size);
    off += d->size;
    Esys_Free(d);
  }
  Esys_Free(pub);
  BOOST_TEST(in_nv == presented);

  // Write-locked for good: the platform cannot overwrite it in place.
  TPM2B_MAX_NV_BUFFER junk{};
  junk.size = 4;
  const TSS2_RC rc = Esys_NV_Write(e, ESYS_TR_RH_PLATFORM, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &junk, 0);
  BOOST_TEST((rc & 0xfff) == TPM2_RC_NV_LOCKED, std::hex << rc);
  Esys_TR_Close(e, &nv);

  // A second run (reboot) reads the same certificate back rather than issuing another.
  attest::orderly_shutdown(*tpm);  // so the endpoint's next quote still has clockInfo.safe = 1
  tpm.reset();
  r = w.endpoint(v.url, "nv-in", {});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("nv-in: affirming") != std::string::npos, r.out);
  BOOST_TEST(ek_cert_of(h, "nv-in") == presented);
}

BOOST_AUTO_TEST_CASE(swtpm_setup_option_of_the_tpm_spec) {
  const tpm::TpmSpec s = tpm::TpmSpec::parse("swtpm:state=/tmp/x,setup=/etc/s.conf");
  BOOST_TEST(s.setup_config == "/etc/s.conf");
  BOOST_TEST(s.describe() == "swtpm:state=/tmp/x,setup=/etc/s.conf");
  BOOST_TEST(tpm::TpmSpec::parse("swtpm:setup=a.conf").describe() == "swtpm:setup=a.conf");
  BOOST_CHECK_THROW(tpm::TpmSpec::parse("swtpm:port=2321,setup=a.conf"), std::invalid_argument);  // only for a spawned swtpm
  // A config swtpm_setup cannot use: the error names swtpm_setup and its log.
  TempDir d;
  std::ofstream(d / "bad.conf") << "create_certs_tool = /nonexistent/swtpm_localca\n";
  try {
    tpm::open_tpm(tpm::TpmSpec::parse("swtpm:state=" + (d / "st").string() + ",setup=" + (d / "bad.conf").string()));
    BOOST_FAIL("swtpm_setup with a missing certificate tool succeeded");
  } catch (const tpm::TpmError& e) {
    BOOST_TEST(std::string(e.what()).find("swtpm_setup --config " + (d / "bad.conf").string() + " failed") == 0, e.what());
  }
}

BOOST_AUTO_TEST_CASE(swtpm_endpoint_enrols_with_its_swtpm_localca_ek_certificate) {
  ServiceWorld w;
  SwtpmLocalCa ca(w.dir / "swtpm-localca");
  const std::string tpm_state = (w.dir / "ep-sw" / "tpm-swtpm").string();

  // Manufacture the TPM through the spawner's setup hook and read the ECC EK certificate
  // with tpm2-tools while it runs (tcti-swtpm: one connection per command).
  attest::Bytes in_nv;
  {
    auto tpm = tpm::open_tpm(tpm::TpmSpec::parse("swtpm:state=" + tpm_state + ",setup=" + ca.setup_conf.string()));
    auto* sw = dynamic_cast<tpm::SwtpmTpm*>(tpm.get());
    BOOST_TEST_REQUIRE(sw != nullptr);
    const std::string tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(sw->port());
    CliResult n = run_program({"tpm2_nvread", "-T", tcti, "-C", "o", "-o", (w.dir / "ek-nv.der").string(), "0x01c00016"});
    BOOST_TEST_REQUIRE(n.exit_code == 0, n.out + n.err);
    in_nv = read_file(w.dir / "ek-nv.der");
    // swtpm 0.7.1 writes no P-256 EK certificate: 0x01c0000a stays undefined.
    n = run_program({"tpm2_nvreadpublic", "-T", tcti, "0x01c0000a"});
    BOOST_TEST(n.exit_code != 0);
    attest::orderly_shutdown(*tpm);
  }
  BOOST_TEST_REQUIRE(in_nv.size() > 300u);

  auto args = ca.ca_args();
  args.insert(args.end(), {"--reference", w.reference, "--authority", w.authority_pub, "--token-issuer", w.issuer_pub, "--db", (w.dir / "v.db").string()});
  VerifierProcess v(args, w.dir / "verifier.out");
  const std::vector<std::string> sw = {"--tpm", "swtpm:setup=" + ca.setup_conf.string()};
  CliResult r = w.endpoint(v.url, "sw", sw);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("sw: affirming") != std::string::npos, r.out);
  BOOST_TEST(r.err.find("EK certificate from NV 0x1c00016") != std::string::npos, r.err);
  Http h(v.url);
  BOOST_TEST(ek_cert_of(h, "sw") == in_nv);

  // A verifier that trusts only the simulator CA refuses it, naming the chain failure.
  auto args2 = w.verifier_args();
  args2.insert(args2.end(), {"--db", (w.dir / "v2.db").string()});
  VerifierProcess v2(args2, w.dir / "verifier2.out");
  r = w.endpoint(v2.url, "sw", sw);
  BOOST_TEST(r.exit_code == 3, r.out + r.err);
  BOOST_TEST(r.err.find("ek_certificate_untrusted") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("does not chain to a configured manufacturer CA: unable to get local issuer certificate") != std::string::npos, r.err);
  Http h2(v2.url);
  BOOST_TEST(h2.get("/v1/endpoints/sw").first == 404);
}
