// `redoubt run` as a user runs it: streamed, prefixed serial output, the
// artefacts in --out, the --stats table, exit codes.
#define BOOST_TEST_MODULE cli_run
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;

BOOST_AUTO_TEST_CASE(run_default_guests_with_stats) {
  TempDir d;
  CliResult r = run_redoubt({"run", "--platform", "amd", "--tpm", "inproc", "--state", (d / "state").string(), "--out",
                             (d / "out").string(), "--stats"});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("[hello] Hello, world!\n") != std::string::npos);
  BOOST_TEST(r.out.find("[sha256] sha256(1048576)=") != std::string::npos);
  BOOST_TEST(r.out.find("[mmu] mmu: all checks passed\n") != std::string::npos);
  BOOST_TEST(r.out.find("[probe] probe: 6/6 attempts stopped\n") != std::string::npos);
  BOOST_TEST(r.out.find("guest hello: exited (exit code 0)") != std::string::npos);
  BOOST_TEST(r.out.find("guest      status") != std::string::npos);  // the --stats table header
  for (const char* f : {"run.json", "stats.json", "serial-hello.txt", "serial-sha256.txt", "serial-mmu.txt",
                        "serial-probe.txt", "launch.json", "pcrs.json", "eventlog.bin", "slb.bin"})
    BOOST_TEST(fs::exists(d / "out" / f), f);
  auto j = nlohmann::json::parse(read_file(d / "out" / "run.json"));
  BOOST_TEST(j["guests"].size() == 4u);
  BOOST_TEST(j["guests"][3]["name"] == "probe");
  BOOST_TEST(j["guests"][3]["violations"].size() == 6u);
}

BOOST_AUTO_TEST_CASE(run_one_guest_by_file_and_kill_policy) {
  TempDir d;
  CliResult r = run_redoubt({"run", "--tpm", "inproc", "--state", (d / "state").string(), "--out",
                             (d / "out").string(), "--guest", "hello", "--guest",
                             (build_dir() / "guests" / "probe.bin").string(), "--npf", "kill"});
  BOOST_TEST(r.exit_code == 0);
  auto j = nlohmann::json::parse(read_file(d / "out" / "run.json"));
  BOOST_REQUIRE_EQUAL(j["guests"].size(), 2u);
  BOOST_TEST(j["guests"][1]["status"] == "killed");
  BOOST_TEST(j["guests"][1]["fault_address"] == "0x4000000");
  BOOST_TEST(r.out.find("[hv] guest probe killed: #NPF: read of guest-physical 0x4000000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_rejects_bad_arguments) {
  TempDir d;
  CliResult a = run_redoubt({"run", "--state", (d / "state").string(), "--out", (d / "o").string(), "--npf", "maybe"});
  BOOST_TEST(a.exit_code == 2);
  CliResult b = run_redoubt({"run", "--state", (d / "state").string(), "--out", (d / "o").string(), "--guest",
                             "no-such-guest"});
  BOOST_TEST(b.exit_code == 3);
  BOOST_TEST(b.err.find("no-such-guest") != std::string::npos);
}

// Issue 16 (item 11): an empty guest file reached memcpy with a null pointer in the
// loader (platform/sim/memory.cpp, UBSan in the sanitizer pass). Now the launch is
// refused by the secure loader, by name, and nothing crashes (run_program also
// fails the test on a sanitizer report, exit 86).
BOOST_AUTO_TEST_CASE(run_with_an_empty_guest_image_is_refused_by_name) {
  TempDir d;
  const fs::path empty = d / "EMPTY";
  write_file(empty, std::vector<uint8_t>{});
  CliResult r = run_redoubt({"run", "--tpm", "inproc", "--state", (d / "state").string(), "--out", (d / "out").string(),
                             "--guest", empty.string()});
  BOOST_TEST(r.exit_code == 1, r.out + r.err);
  const std::string all = r.out + r.err;
  BOOST_TEST(all.find("REFUSED at sl: malformed: boot params: guest EMPTY image region is empty") != std::string::npos, all);
}
