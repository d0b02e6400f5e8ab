// The smaller `redoubt` subcommands: keys, signing, inspection, exit codes.
#define BOOST_TEST_MODULE cli_commands
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

BOOST_AUTO_TEST_CASE(key_sign_show_and_launch_with_own_key) {
  TempDir t;
  CliResult k = run_redoubt({"key", "gen", "--curve", "P-384", "--out", (t / "owner").string()});
  BOOST_REQUIRE_EQUAL(k.exit_code, 0);
  BOOST_TEST(fs::exists(t / "owner.key.pem"));
  BOOST_TEST(((fs::status(t / "owner.key.pem").permissions() & fs::perms::others_read) == fs::perms::none));
  CliResult s = run_redoubt({"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key",
                             (t / "owner.key.pem").string(), "--version", "2.0.0", "--svn", "7", "--digest", "sha384",
                             "--out", (t / "hv.manifest").string()});
  BOOST_REQUIRE_EQUAL(s.exit_code, 0);
  CliResult show = run_redoubt({"manifest", "show", (t / "hv.manifest").string()});
  BOOST_REQUIRE_EQUAL(show.exit_code, 0);
  json j = json::parse(show.out);
  std::string dump = j.dump();
  BOOST_TEST(dump.find("\"2.0.0\"") != std::string::npos);
  BOOST_TEST(dump.find("ES384") != std::string::npos);
  BOOST_TEST(dump.find(hex(sha("SHA384", read_file(build_dir() / "hv.bin")))) != std::string::npos);

  // Seal the owner's key into an SLB, then launch it with the owner's manifest.
  CliResult seal = run_redoubt({"slb", "seal", "--sl", (build_dir() / "sl.bin").string(), "--hv-key",
                                (t / "owner.pub.pem").string(), "--out", (t / "sl-owner.bin").string()});
  BOOST_REQUIRE_EQUAL(seal.exit_code, 0);
  CliResult l = run_redoubt({"launch", "--state", (t / "state").string(), "--out", (t / "out").string(), "--sl",
                             (t / "sl-owner.bin").string(), "--manifest", (t / "hv.manifest").string()});
  BOOST_TEST_INFO(l.out << l.err);
  BOOST_TEST(l.exit_code == 0);
  BOOST_TEST(l.out.find("svn 7") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exit_codes_mean_something) {
  TempDir t;
  BOOST_TEST(run_redoubt({}).exit_code == 2);                          // no subcommand
  BOOST_TEST(run_redoubt({"launch", "--bogus"}).exit_code == 2);       // unknown flag
  BOOST_TEST(run_redoubt({"launch", "--platform", "arm", "--state", (t / "s").string()}).exit_code == 2);  // no such platform (intel exists: docs/intel.md)
  BOOST_TEST(run_redoubt({"launch", "--tpm", "tpm-of-doom", "--state", (t / "s").string(), "--out",
                          (t / "o").string()}).exit_code == 2);
  CliResult missing = run_redoubt({"launch", "--sl", (t / "nope.bin").string(), "--state", (t / "s").string(),
                                   "--out", (t / "o").string()});
  BOOST_TEST(missing.exit_code == 3);
  BOOST_TEST(missing.err.find("nope.bin") != std::string::npos);
  BOOST_TEST(run_redoubt({"--help"}).exit_code == 0);
  BOOST_TEST(run_redoubt({"launch", "--help"}).out.find("--tpm") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(inspecting_garbage_fails_cleanly) {
  TempDir t;
  write_file(t / "junk", Bytes(100, 0x42));
  // A file that does not parse is an input error, exit 3, for every viewer (docs/running.md).
  CliResult m = run_redoubt({"manifest", "show", (t / "junk").string()});
  BOOST_TEST(m.exit_code == 3);
  BOOST_TEST(!m.err.empty());
  CliResult e = run_redoubt({"eventlog", "show", (t / "junk").string()});
  BOOST_TEST(e.exit_code == 3);
  BOOST_TEST(e.err.find("eventlog") != std::string::npos);
  CliResult s = run_redoubt({"slb", "show", (t / "junk").string()});
  BOOST_TEST(s.exit_code == 3);
  BOOST_TEST(s.err.find("not a Redoubt SL image") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(launch_json_mode) {
  TempDir t;
  CliResult r = run_redoubt({"launch", "--json", "--state", (t / "s").string(), "--out", (t / "o").string()});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  json j = json::parse(r.out);  // stdout is only the JSON document
  BOOST_TEST(j["status"] == "launched");
  BOOST_TEST(r.err.find("[sl]") != std::string::npos);
}
