// Issue 16 item 12: in the sanitizer build a sanitizer report exits 86
// (REDOUBT_SANITIZER_EXITCODE, CMake's ctest environment), never 1 = "refused",
// and run_program turns it into a failure naming the report, so a test that
// expects a refusal cannot pass on a memory error. (The misbehaving modes run
// only in the sanitizer build: elsewhere they would be undefined behaviour.)
#define BOOST_TEST_MODULE sanitizer_exit
#include <boost/test/unit_test.hpp>

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
