// The main job's steps (scripts/demo_job.sh, what scripts/demo.sh runs after
// set-up and build) end to end: PKI + launch policy, the measured launch with
// signed guests, and an attestation verdict of "affirming" from a real verifier.
#define BOOST_TEST_MODULE cli_demo
#include <cstdlib>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;

BOOST_AUTO_TEST_CASE(main_job_ends_with_an_affirming_verdict) {
  TempDir d;
  setenv("REDOUBT", (build_dir() / "redoubt").c_str(), 1);
  setenv("DEMO_OUT", (d / "demo").c_str(), 1);
  CliResult r = run_program({"bash", (source_dir() / "scripts" / "demo_job.sh").string()});
  BOOST_TEST_MESSAGE(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("guest hello: exited (exit code 0) [signed hello 1.0.0 SVN 1]") != std::string::npos);
  BOOST_TEST(r.out.find("[endpoint] guest probe: signed probe 1.0.0 SVN 1, exited") != std::string::npos);
  // The last line is the relying party's answer.
  BOOST_TEST(r.out.rfind("demo-endpoint: affirming") != std::string::npos);
  BOOST_TEST(r.out.rfind("demo-endpoint: affirming") > r.out.rfind("Relying party"));
  const Bytes run = read_file(d / "demo" / "run" / "run.json");
  const auto j = nlohmann::json::parse(run.begin(), run.end());
  BOOST_TEST(j["guests"].size() == 4u);
  for (const auto& g : j["guests"]) BOOST_TEST(g["admission"] == "signed");
}
