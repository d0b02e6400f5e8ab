// Issue 12 end to end: `redoubt endpoint --platform intel` (GETSEC[SENTER] with a SINIT ACM on the
// simulator, sl.bin continuing SINIT's log, hv.bin and its guests on the inproc TPM) pushes its
// evidence to a verifier process whose reference values name that ACM, its signer and the
// hypervisor signer: affirming, with the TXT claims in the signed EAR; the same endpoint against
// reference values naming another ACM: contraindicated, txt_acm_not_allowed.
#define BOOST_TEST_MODULE attest_txt_endpoint_test
#include <boost/test/unit_test.hpp>

#include "attestation/common/encoding.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "tests/attestation/child_process.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  const auto b = read_file(p);
  return std::string(b.begin(), b.end());
}

// A verifier process with reference values that allow `acm` (by digest and signer) and the owner's
// hypervisor signer.
std::unique_ptr<VerifierProcess> verifier(const ServiceWorld& w, const fs::path& acm, const std::string& name) {
  const std::string in = json{{"type", "redoubt.reference-values/1"}, {"id", name}, {"hypervisor", {{"min_svn", 1}}}, {"launch_policy", nullptr}}.dump();
  write_file(w.dir / (name + ".json"), std::vector<uint8_t>(in.begin(), in.end()));
  CliResult r = run_redoubt({"verifier", "sign-reference", "--in", (w.dir / (name + ".json")).string(), "--key", (w.dir / "authority.key.pem").string(),
                             "--out", (w.dir / (name + ".cose")).string(), "--hypervisor-signer", (w.dir / "owner.pub.pem").string(),
                             "--sinit-acm", acm.string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  std::vector<std::string> args = {"--manufacturer-ca", w.ca_cert, "--reference", (w.dir / (name + ".cose")).string(), "--authority",
                                   w.authority_pub, "--token-issuer", w.issuer_pub};
  const auto store = w.store_args(name);
  args.insert(args.end(), store.begin(), store.end());
  return std::make_unique<VerifierProcess>(args, w.dir / (name + ".out"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_intel_endpoint_is_affirming_and_another_acm_is_not) {
  ServiceWorld w;
  BOOST_TEST_REQUIRE(run_program({"openssl", "genrsa", "-out", (w.dir / "chipset.pem").string(), "2048"}).exit_code == 0);
  for (const char* svn : {"3", "4"})
    BOOST_TEST_REQUIRE(run_redoubt({"sign", "acm", "--key", (w.dir / "chipset.pem").string(), "--svn", svn, "--out",
                                    (w.dir / (std::string("sinit") + svn + ".acm")).string()})
                           .exit_code == 0);
  const std::vector<std::string> intel = {"--platform", "intel", "--acm", (w.dir / "sinit3.acm").string(), "--chipset-key",
                                          (w.dir / "chipset.pem").string()};

  auto good = verifier(w, w.dir / "sinit3.acm", "ref-sinit3");
  const auto t0 = std::chrono::steady_clock::now();
  CliResult r = w.endpoint(good->url, "intel-1", intel);
  BOOST_TEST_MESSAGE("redoubt endpoint --platform intel: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(r.out.find("intel-1: affirming") != std::string::npos, r.out + r.err);
  const json launch = json::parse(slurp(w.dir / "ep-intel-1" / "endpoint-launch" / "launch.json"));
  BOOST_TEST(launch["platform"] == "intel");
  BOOST_TEST(launch["drtm"] == "senter");
  // The relying party's signed verdict carries the TXT claims.
  CliResult a = run_redoubt({"attest", "--token", w.rp_token, "--verifier", good->url, "--verifier-key", (w.dir / "ref-sinit3.db.pub.pem").string(),
                             "intel-1", "--json"});
  BOOST_TEST_REQUIRE(a.exit_code == 0, a.out + a.err);
  const json j = json::parse(a.out);
  BOOST_TEST(j["status"] == "affirming");
  const std::string acm_sha = attest::to_hex(policy::sha256(read_file(w.dir / "sinit3.acm")));
  BOOST_TEST(j.dump().find(acm_sha) != std::string::npos, j.dump(2));
  BOOST_TEST(j.dump().find("\"senter\"") != std::string::npos, j.dump(2));

  // The same endpoint (SVN 3 ACM) against reference values that allow only the SVN 4 release.
  auto newer = verifier(w, w.dir / "sinit4.acm", "ref-sinit4");
  r = w.endpoint(newer->url, "intel-2", intel);
  BOOST_TEST(r.exit_code != 0, r.out + r.err);
  BOOST_TEST(r.out.find("intel-2: contraindicated") != std::string::npos, r.out + r.err);
  BOOST_TEST((r.out + r.err).find("txt_acm_not_allowed") != std::string::npos, r.out + r.err);
}
