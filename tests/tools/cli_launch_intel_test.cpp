// `redoubt launch --platform intel` (docs/intel.md): the real binary, the real images, GETSEC[SENTER]
// with the demo SINIT ACM; then `redoubt sign acm` + a revocation floor above its SVN is refused.
#define BOOST_TEST_MODULE cli_launch_intel
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

BOOST_AUTO_TEST_CASE(launch_platform_intel_enters_the_hypervisor_after_senter) {
  TempDir d;
  const std::string state = (d.path() / "state").string(), out = (d.path() / "out").string();
  CliResult r = run_redoubt({"launch", "--platform", "intel", "--state", state, "--out", out, "--json"});
  BOOST_TEST_INFO("stderr: " << r.err);
  BOOST_TEST(r.exit_code == 0);
  json lj = json::parse(r.out);
  BOOST_TEST(lj["status"] == "launched");
  BOOST_TEST(lj["platform"] == "intel");
  BOOST_TEST(lj["drtm"] == "senter");
  BOOST_TEST(lj["txt"]["error"] == "none");
  BOOST_TEST(r.err.find("[cpu] SENTER: SINIT ACM") != std::string::npos);
  // PCR18's first extend is the MLE: sl.bin's measured bytes, as written to slb.bin.
  Bytes slb = read_file(d.path() / "out" / "slb.bin");
  uint16_t len = uint16_t(slb[2] | (slb[3] << 8));
  Bytes sinit_log = read_file(d.path() / "out" / "sinit-eventlog.bin");
  BOOST_TEST(sinit_log.size() > 100u);
  Bytes mle(slb.begin(), slb.begin() + len);
  BOOST_TEST(hex(sha("SHA256", mle)).size() == 64u);

  // A chipset key of the operator's, an ACM with TXT SVN 3, a floor of 4: revoked, exit 1.
  const std::string key = (d.path() / "chipset.pem").string(), acm = (d.path() / "sinit.acm").string();
  BOOST_REQUIRE(run_program({"openssl", "genrsa", "-out", key, "2048"}).exit_code == 0);
  CliResult s = run_redoubt({"sign", "acm", "--key", key, "--svn", "3", "--out", acm});
  BOOST_TEST_INFO("sign acm: " << s.err);
  BOOST_REQUIRE(s.exit_code == 0);
  BOOST_TEST(s.out.find("TXT SVN 3") != std::string::npos);
  CliResult v = run_redoubt({"launch", "--platform", "intel", "--state", state, "--out", out + "2", "--acm", acm,
                             "--chipset-key", key, "--sinit-svn-floor", "4", "--json"});
  BOOST_TEST(v.exit_code == 1);
  json vj = json::parse(v.out);
  BOOST_TEST(vj["status"] == "refused");
  BOOST_TEST(vj["stage"] == "senter");
  BOOST_TEST(vj["txt"]["error"] == "acm_revoked");
  BOOST_TEST(vj["txt"]["errorcode"] == "0x80000003");
}
