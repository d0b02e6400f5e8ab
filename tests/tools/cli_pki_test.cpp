// The issue-4 tools as a user runs them: pki init -> sign guest -> sign policy
// -> pki verify -> manifest show -> run with the policy and KERNEL:MANIFEST,
// then a revocation and an SVN counter, each refusing with its reason.
#define BOOST_TEST_MODULE cli_pki
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

std::string text(const fs::path& p) {
  Bytes b = read_file(p);
  return std::string(b.begin(), b.end());
}

struct Corp {
  TempDir d;
  fs::path pki = d / "pki", kernel = build_dir() / "guests" / "hello.bin";
  Corp() {
    CliResult r = run_redoubt({"pki", "init", pki.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  }
  std::string f(const char* name) const { return (pki / name).string(); }
  CliResult sign_guest(const std::string& out, const std::string& svn = "3") const {
    return run_redoubt({"sign", "guest", "--kernel", kernel.string(), "--key", f("leaf.key.pem"), "--cert",
                        f("leaf.crt.pem"), "--chain", f("intermediate.crt.pem"), "--name", "corp-hello", "--version",
                        "1.2", "--svn", svn, "--memory", "8", "--cmdline", "quiet", "--out", out, "--force"});
  }
  CliResult sign_policy(const std::string& out, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"sign", "policy", "--key", f("owner.key.pem"), "--anchor", f("root.crt.pem"),
                                  "--name", "corp-policy", "--serial", "4", "--out", out, "--force"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_redoubt(a);
  }
  CliResult run(const std::string& policy, const std::string& manifest, const std::string& out) const {
    return run_redoubt({"run", "--tpm", "inproc", "--state", (d / "state").string(), "--out", out, "--policy", policy,
                        "--owner", f("owner.pub.pem"), "--guest", kernel.string() + ":" + manifest});
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(pki_init_writes_the_documented_files) {
  Corp c;
  for (const char* n : {"root.key.pem", "root.crt.pem", "intermediate.key.pem", "intermediate.crt.pem", "leaf.key.pem",
                        "leaf.crt.pem", "owner.key.pem", "owner.pub.pem"})
    BOOST_TEST(fs::exists(c.pki / n), n);
  // The leaf carries the guest-signing EKU (checked with the openssl CLI, not our code).
  CliResult x = run_program({"openssl", "x509", "-in", c.f("leaf.crt.pem"), "-noout", "-ext", "extendedKeyUsage"});
  BOOST_TEST(x.out.find("1.3.6.1.4.1.32473.4242.1.1") != std::string::npos, x.out);
}

BOOST_AUTO_TEST_CASE(sign_verify_show_and_run_a_corporate_guest) {
  Corp c;
  const std::string m = (c.d / "hello.manifest").string(), p = (c.d / "launch.policy").string();
  BOOST_REQUIRE_EQUAL(c.sign_guest(m).exit_code, 0);
  BOOST_REQUIRE_EQUAL(c.sign_policy(p).exit_code, 0);

  CliResult v = run_redoubt({"pki", "verify", "--policy", p, "--owner", c.f("owner.pub.pem"), "--manifest", m,
                             "--kernel", c.kernel.string()});
  BOOST_TEST(v.exit_code == 0, v.out << v.err);

  CliResult show = run_redoubt({"manifest", "show", m});
  BOOST_TEST(show.exit_code == 0);
  json sj = json::parse(show.out);
  BOOST_TEST(sj.dump().find("corp-hello") != std::string::npos);
  CliResult showp = run_redoubt({"manifest", "show", p});
  BOOST_TEST(showp.exit_code == 0);
  BOOST_TEST(showp.out.find("corp-policy") != std::string::npos);

  const fs::path out = c.d / "out";
  CliResult r = c.run(p, m, out.string());
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("[signed corp-hello 1.2 SVN 3]") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("boot: svn 3, cmdline \"quiet\"") != std::string::npos);
  json j = json::parse(text(out / "run.json"));
  BOOST_TEST(j["guests"][0]["admission"] == "signed");
  BOOST_TEST(j["guests"][0]["signed"]["name"] == "corp-hello");
  BOOST_TEST(j["launch_policy"] == p);
  // run --out writes what launch writes, with the guest events and PCRs read after them.
  CliResult ev = run_redoubt({"eventlog", "show", (out / "eventlog.bin").string()});
  BOOST_TEST(ev.out.find("EV_REDOUBT_GUEST_CHAIN") != std::string::npos);
  BOOST_TEST(ev.out.find("EV_REDOUBT_GUEST_MANIFEST") != std::string::npos);
  BOOST_TEST(ev.out.find("EV_REDOUBT_LAUNCH_POLICY") != std::string::npos);
  json pcrs = json::parse(text(out / "pcrs.json"));
  BOOST_TEST(pcrs.dump().find("\"19\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(revoking_the_signer_refuses_the_guest) {
  Corp c;
  const std::string m = (c.d / "hello.manifest").string(), p = (c.d / "revoked.policy").string();
  BOOST_REQUIRE_EQUAL(c.sign_guest(m).exit_code, 0);
  BOOST_REQUIRE_EQUAL(c.sign_policy(p, {"--revoke-spki", c.f("leaf.crt.pem")}).exit_code, 0);
  CliResult v = run_redoubt({"pki", "verify", "--policy", p, "--owner", c.f("owner.pub.pem"), "--manifest", m,
                             "--kernel", c.kernel.string()});
  BOOST_TEST(v.exit_code == 1, v.out << v.err);
  BOOST_TEST((v.out + v.err).find("revoked_leaf") != std::string::npos);
  const fs::path out = c.d / "out";
  CliResult r = c.run(p, m, out.string());
  BOOST_TEST(r.out.find("guest hello: refused") != std::string::npos, r.out);
  json j = json::parse(text(out / "run.json"));
  BOOST_TEST(j["guests"][0]["refusal"] == "revoked_leaf");
  BOOST_TEST(text(out / "serial-hello.txt").empty());
}

BOOST_AUTO_TEST_CASE(guest_svn_counter_refuses_an_older_release) {
  Corp c;
  const std::string m = (c.d / "hello.manifest").string(), p = (c.d / "launch.policy").string();
  BOOST_REQUIRE_EQUAL(c.sign_guest(m, "3").exit_code, 0);
  BOOST_REQUIRE_EQUAL(c.sign_policy(p).exit_code, 0);
  CliResult a = run_redoubt({"svn", "advance", "--tpm", "inproc", "--state", (c.d / "state").string(), "--guest",
                             "corp-hello", "--to", "4", "--yes"});
  BOOST_TEST(a.exit_code == 0, a.out << a.err);
  BOOST_TEST(a.out.find("guest 'corp-hello' anti-rollback counter") != std::string::npos, a.out);
  BOOST_TEST(a.out.find(": 4") != std::string::npos, a.out);
  const fs::path out = c.d / "out";
  c.run(p, m, out.string());
  json j = json::parse(text(out / "run.json"));
  BOOST_TEST(j["guests"][0]["refusal"] == "rollback");
  // SVN 4 is accepted.
  BOOST_REQUIRE_EQUAL(c.sign_guest(m, "4").exit_code, 0);
  CliResult r = c.run(p, m, (c.d / "out2").string());
  BOOST_TEST(r.exit_code == 0, r.out);
  BOOST_TEST(json::parse(text(c.d / "out2" / "run.json"))["guests"][0]["status"] == "exited");
}

BOOST_AUTO_TEST_CASE(malformed_inputs_get_clear_errors) {
  Corp c;
  write_file(c.d / "garbage", Bytes{0xd2, 0x84, 0x40, 0xa0, 0xff});
  CliResult r = run_redoubt({"run", "--tpm", "inproc", "--state", (c.d / "state").string(), "--out",
                             (c.d / "out").string(), "--guest", c.kernel.string() + ":" + (c.d / "garbage").string()});
  json j = json::parse(text(c.d / "out" / "run.json"));
  BOOST_TEST(j["guests"][0]["status"] == "refused");
  BOOST_TEST(j["guests"][0]["refusal"] == "malformed", j.dump());
  CliResult bad = run_redoubt({"run", "--tpm", "inproc", "--state", (c.d / "state").string(), "--guest", "a:b:c:d"});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("KERNEL:MANIFEST[:INITRD]") != std::string::npos, bad.err);
  CliResult nopol = run_redoubt({"launch", "--tpm", "inproc", "--state", (c.d / "state").string(), "--out",
                                 (c.d / "o3").string(), "--policy", (c.d / "garbage").string()});
  BOOST_TEST(nopol.exit_code == 2, nopol.err);  // a policy without --owner to verify it
  BOOST_TEST(nopol.err.find("--owner") != std::string::npos, nopol.err);
}

// The issue's own command line: name and version default to the kernel's file name and the SVN.
BOOST_AUTO_TEST_CASE(sign_guest_with_the_minimal_options) {
  Corp c;
  const std::string m = (c.d / "min.manifest").string();
  CliResult r = run_redoubt({"sign", "guest", "--kernel", c.kernel.string(), "--key", c.f("leaf.key.pem"), "--cert",
                             c.f("leaf.crt.pem"), "--chain", c.f("intermediate.crt.pem"), "--svn", "5", "--out", m});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("signed guest hello 5 SVN 5") != std::string::npos, r.out);
  CliResult show = run_redoubt({"manifest", "show", m});
  BOOST_TEST(show.out.find("\"hello\"") != std::string::npos, show.out);
}
