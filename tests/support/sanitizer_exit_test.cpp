// Issue 16 item 12: in the sanitizer build a sanitizer report exits 86
// (REDOUBT_SANITIZER_EXITCODE, CMake's ctest environment), never 1 = "refused",
// and run_program turns it into a failure naming the report, so a test that
// expects a refusal cannot pass on a memory error. (The misbehaving modes run
// only in the sanitizer build: elsewhere they would be undefined behaviour.)
#define BOOST_TEST_MODULE sanitizer_exit
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>

#include "tests/attestation/child_process.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;

BOOST_AUTO_TEST_CASE(a_refusal_is_exit_1) {
  CliResult r = run_program({RD_SANITIZER_PROBE, "none"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err == "probe: refused\n");
}

#ifdef REDOUBT_SANITIZE_BUILD
BOOST_AUTO_TEST_CASE(a_sanitizer_report_is_exit_86_not_a_refusal) {
  for (const char* what : {"heap", "ub", "leak"}) {
    CliResult r = run_program_raw({RD_SANITIZER_PROBE, what});
    BOOST_TEST(r.exit_code == 86, what << ": exit " << r.exit_code << "\n" << r.err);
    const bool went_on = r.err.find("probe: refused") != std::string::npos;  // halt_on_error: no refusal after a report
    BOOST_TEST((!went_on || std::string(what) == "leak"), what);  // LSan reports at exit, after the "refusal"
    const bool report = r.err.find("Sanitizer") != std::string::npos || r.err.find("runtime error:") != std::string::npos;
    BOOST_TEST(report, what << ": " << r.err);  // ASan/LSan: "ERROR: ...Sanitizer"; UBSan: "runtime error:"
    BOOST_CHECK_THROW(run_program({RD_SANITIZER_PROBE, what}), SanitizerReport);
  }
}
#endif

// The attestation tests' background children (verifier, endpoint) are stopped by
// ChildProcess's destructor, whose exit code no test looks at: a report there (LSan's at
// the daemon's exit, or a request handler's) must still fail the test.
static std::filesystem::path probe_out(const char* what) {
  return std::filesystem::temp_directory_path() / ("sanitizer_probe_" + std::to_string(getpid()) + "_" + what);
}

BOOST_AUTO_TEST_CASE(a_clean_daemon_stops_with_exit_0) {
  ChildProcess d({RD_SANITIZER_PROBE, "daemon"}, probe_out("daemon"));
  BOOST_TEST(d.wait_for("probe: ready") == "probe: ready");
  BOOST_TEST(d.terminate() == 0, d.output());
  std::filesystem::remove(probe_out("daemon"));
}

#ifdef REDOUBT_SANITIZE_BUILD
static std::vector<std::string> g_reports;

BOOST_AUTO_TEST_CASE(a_daemons_report_at_its_stop_fails_the_test) {
  g_reports.clear();
  ChildProcess::on_sanitizer_report = [](const std::string& what) { g_reports.push_back(what); };
  {
    ChildProcess d({RD_SANITIZER_PROBE, "leak-daemon"}, probe_out("leak-daemon"));
    BOOST_TEST(d.wait_for("probe: ready") == "probe: ready");
  }  // ~ChildProcess: SIGTERM, exit 86 with LSan's report -> on_sanitizer_report (else BOOST_ERROR)
  ChildProcess::on_sanitizer_report = nullptr;
  std::filesystem::remove(probe_out("leak-daemon"));
  BOOST_TEST_REQUIRE(g_reports.size() == 1u);
  BOOST_TEST(g_reports[0].find("sanitizer report (exit 86)") != std::string::npos, g_reports[0]);
  BOOST_TEST(g_reports[0].find("LeakSanitizer") != std::string::npos, g_reports[0]);
}
#endif
