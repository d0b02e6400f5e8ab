// Issue 16 item 13: deleting the inproc TPM's state file used to reset the
// anti-rollback counter silently, so an SVN-1 hypervisor the owner had revoked
// (svn advance --to 2) launched again. Now the state directory's journal
// (<state>/tpm-inproc.journal.json) remembers that a TPM was made there: with its
// NV gone the TPM is not opened (exit 3, nothing launched) unless the owner
// passes --new-tpm, and that new TPM shows in launch.json (docs/tpm-state.md).
#define BOOST_TEST_MODULE cli_tpm_state
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

// The document, or null when the file is missing (so a failed check does not end the test).
json json_file(const fs::path& p) {
  if (!fs::exists(p)) return json();
  const Bytes b = read_file(p);
  return json::parse(b.begin(), b.end());
}

// j[key], or null when j is not an object or has no such key.
json field(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : json(); }

// launch.json's tpm_state (null if absent).
json tpm_state(const fs::path& launch_json) { return field(json_file(launch_json), "tpm_state"); }

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(deleted_tpm_state_does_not_bring_back_a_revoked_hypervisor) {
  TempDir t;
  const std::string state = (t / "state").string();
  const fs::path nv = t / "state" / "tpm-inproc" / "tpm2-00.permall", journal = t / "state" / "tpm-inproc.journal.json";
  auto launch = [&](const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"launch", "--state", state, "--out", (t / out).string()};  // the demo hypervisor: SVN 1
    a.insert(a.end(), extra.begin(), extra.end());
    return run_redoubt(a);
  };

  // The first launch manufactures the TPM and says so.
  CliResult first = launch("o1");
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.out << first.err);
  BOOST_TEST(has(first.out, "[tpm] manufactured a new TPM in"));
  json ts = tpm_state(t / "o1" / "launch.json");
  BOOST_TEST(field(ts, "status") == "manufactured");
  BOOST_TEST(field(ts, "generation") == 1);
  BOOST_TEST(field(json_file(journal), "generation") == 1);

  // The owner revokes SVN 1: the SVN-1 hypervisor is refused from now on.
  CliResult adv = run_redoubt({"svn", "advance", "--to", "2", "--yes", "--state", state});
  BOOST_REQUIRE_MESSAGE(adv.exit_code == 0, adv.out << adv.err);
  CliResult refused = launch("o2");
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(field(tpm_state(t / "o2" / "launch.json"), "status") == "existing");

  // The attack: delete the TPM's state file.
  fs::remove(nv);
  CliResult lost = launch("o3");
  BOOST_TEST_INFO(lost.out << lost.err);
  BOOST_TEST(lost.exit_code == 3);
  BOOST_TEST(has(lost.err, "the TPM state is gone: " + nv.string() + " is missing"));
  BOOST_TEST(has(lost.err, "records TPM generation 1"));
  BOOST_TEST(has(lost.err, "--new-tpm"));
  BOOST_TEST(!has(lost.out, "LAUNCHED"));
  BOOST_TEST(!fs::exists(t / "o3" / "launch.json"));  // nothing launched
  BOOST_TEST(!fs::exists(nv));                         // and no new TPM made behind the owner's back
  // Every command that opens the TPM refuses alike (svn show would otherwise provision a counter at 1).
  CliResult show = run_redoubt({"svn", "show", "--state", state});
  BOOST_TEST(show.exit_code == 3);
  BOOST_TEST(has(show.err, "the TPM state is gone"));
  BOOST_TEST(!fs::exists(nv));

  // The owner's explicit choice: a new TPM, visible in launch.json and the journal.
  CliResult renewed = launch("o4", {"--new-tpm"});
  BOOST_TEST_INFO(renewed.out << renewed.err);
  BOOST_TEST(renewed.exit_code == 0);  // a new TPM's counter starts at 1: the reset is the owner's, and on record
  BOOST_TEST(has(renewed.out, "[tpm] WARNING: --new-tpm: manufactured a new TPM (generation 2)"));
  ts = tpm_state(t / "o4" / "launch.json");
  BOOST_TEST(field(ts, "status") == "remanufactured");
  BOOST_TEST(field(ts, "generation") == 2);
  BOOST_TEST(field(ts, "manufactured_at").is_string());
  const json j = json_file(journal);
  BOOST_TEST(field(j, "generation") == 2);
  BOOST_REQUIRE(field(j, "history").size() == 2u);
  BOOST_TEST(j["history"][0]["event"] == "manufactured");
  BOOST_TEST(j["history"][1]["event"] == "remanufactured");

  // From then on it is this TPM's state, as usual.
  CliResult again = launch("o5");
  BOOST_TEST(again.exit_code == 0);
  ts = tpm_state(t / "o5" / "launch.json");
  BOOST_TEST(field(ts, "status") == "existing");
  BOOST_TEST(field(ts, "generation") == 2);
}

// State made before journals existed is adopted (generation 1, manufacture time
// unknown), and a journal that is not one stops the TPM from opening.
BOOST_AUTO_TEST_CASE(old_state_is_adopted_and_a_broken_journal_is_refused) {
  TempDir t;
  const std::string state = (t / "state").string();
  const fs::path journal = t / "state" / "tpm-inproc.journal.json";
  BOOST_REQUIRE(run_redoubt({"svn", "show", "--state", state}).exit_code == 0);
  fs::remove(journal);  // as a state directory from before this change
  CliResult r = run_redoubt({"launch", "--state", state, "--out", (t / "o").string()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(has(r.out, "[tpm] journal started for the existing TPM state"));
  const json ts = tpm_state(t / "o" / "launch.json");
  BOOST_TEST(field(ts, "status") == "adopted");
  BOOST_TEST((ts.is_object() && ts.contains("manufactured_at") && ts["manufactured_at"].is_null()));
  BOOST_TEST(field(json_file(journal), "generation") == 1);

  write_file(journal, Bytes{'{', '}'});
  CliResult bad = run_redoubt({"svn", "show", "--state", state});
  BOOST_TEST(bad.exit_code == 3);
  BOOST_TEST(has(bad.err, "is not a Redoubt TPM journal"), bad.err);
}
