// `redoubt attack` in CI (issue 11): for one category (RD_ATTACK_CATEGORY, one ctest
// each: attack_<category>), every scenario is blocked with nothing leaked, and every
// scenario with a test-only switch shows the attack succeeding with the protection off
// (so each check is proven able to fail). Without RD_ATTACK_CATEGORY (the base test):
// the catalogue itself — enough scenarios, every category covered by a ctest, the CLI's
// usage errors and exit codes.
#define BOOST_TEST_MODULE attack_cli
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

std::set<std::string> ctest_categories() {
  std::set<std::string> s;
  std::istringstream in(RD_ATTACK_CATEGORIES);  // ","-separated, from tests/attacks/CMakeLists.txt
  for (std::string c; std::getline(in, c, ',');)
    if (!c.empty()) s.insert(c);
  return s;
}

json parse(const CliResult& r) {
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    BOOST_FAIL("not JSON (" << e.what() << "): " << r.out.substr(0, 400) << "\nstderr: " << r.err.substr(0, 2000));
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(catalogue) {
  if (getenv("RD_ATTACK_CATEGORY")) return;  // the per-category ctests run the scenarios only
  auto r = run_redoubt({"attack", "list", "--json"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  const json list = parse(r);
  BOOST_TEST(list.size() >= 20u);
  std::set<std::string> names, cats, with_switch;
  for (const auto& s : list) {
    names.insert(s["name"].get<std::string>());
    cats.insert(s["category"].get<std::string>());
    BOOST_TEST(!s["attack"].get<std::string>().empty());
    BOOST_TEST(!s["stopped_by"].get<std::string>().empty());
    if (!s["protection_off_switch"].is_null()) with_switch.insert(s["category"].get<std::string>());
  }
  BOOST_TEST(names.size() == list.size());  // unique names
  // Every category has a ctest (else its scenarios would never run in CI) and a protection-off scenario.
  const auto tested = ctest_categories();
  for (const auto& c : cats) {
    BOOST_TEST_INFO("category " << c);
    BOOST_TEST(tested.count(c) == 1u);
    BOOST_TEST(with_switch.count(c) == 1u);
  }
  // The table lists them too.
  auto t = run_redoubt({"attack", "list"});
  BOOST_TEST(t.exit_code == 0);
  BOOST_TEST(t.out.find("cross-guest.read-victim-ram") != std::string::npos);
  // Usage errors: exit code 2.
  BOOST_TEST(run_redoubt({"attack", "run", "no-such-scenario"}).exit_code == 2);
  BOOST_TEST(run_redoubt({"attack", "run"}).exit_code == 2);
  BOOST_TEST(run_redoubt({"attack", "run", "cross-guest.sweep-beyond-ram", "--protection-off"}).exit_code == 2);
  BOOST_TEST(run_redoubt({"attack", "run", "--all", "cross-guest.sweep-beyond-ram"}).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(category) {
  const char* cat = getenv("RD_ATTACK_CATEGORY");
  if (!cat) return;
  // Protected: every scenario blocked, nothing leaked, exit code 0.
  auto r = run_redoubt({"attack", "run", "--all", "--category", cat, "--json"});
  BOOST_TEST_MESSAGE(r.err);
  const json j = parse(r);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(j["protection"] == "on");
  BOOST_REQUIRE(!j["results"].empty());
  for (const auto& s : j["results"]) {
    BOOST_TEST_INFO(s["name"].get<std::string>() << ": " << s["detail"].get<std::string>());
    BOOST_TEST(s["category"] == cat);
    BOOST_TEST(!s.contains("error"));
    BOOST_TEST(s["blocked"] == true);
    BOOST_TEST(s["leaked"] == false);
  }
  BOOST_TEST_MESSAGE(cat << ": " << j["results"].size() << " scenarios in " << j["summary"]["seconds"] << " s");

  // Protection off: every scenario with a switch shows the attack getting through; exit code 1.
  auto off = run_redoubt({"attack", "run", "--all", "--category", cat, "--protection-off", "--json"});
  BOOST_TEST_MESSAGE(off.err);
  const json o = parse(off);
  BOOST_TEST(off.exit_code == 1);
  BOOST_TEST(o["protection"] == "off");
  BOOST_REQUIRE(!o["results"].empty());
  for (const auto& s : o["results"]) {
    BOOST_TEST_INFO(s["name"].get<std::string>() << " (protection off): " << s["detail"].get<std::string>());
    BOOST_TEST(!s.contains("error"));
    BOOST_TEST(s["protection"] == "off");
    BOOST_TEST((s["blocked"] == false || s["leaked"] == true));  // the attack got through
  }
  BOOST_TEST_MESSAGE(cat << " (protection off): " << o["results"].size() << " scenarios in " << o["summary"]["seconds"] << " s");
}
