// Issue 15 ("Docs that run, and a CLI that behaves the same everywhere"): the friction points
// a new user met following the docs, each reproduced here and shown gone.
#define BOOST_TEST_MODULE cli_friction
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  const Bytes b = read_file(p);
  return json::parse(std::string(b.begin(), b.end()));
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

// `key gen --out keys/hv-signing` made no directory, and a second run replaced the private key.
BOOST_AUTO_TEST_CASE(key_gen_makes_its_directory_and_never_replaces_a_key_silently) {
  TempDir t;
  const std::string prefix = (t / "keys/hv-signing").string();
  CliResult first = run_redoubt({"key", "gen", "--curve", "P-256", "--out", prefix});
  BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
  const Bytes key = read_file(prefix + ".key.pem");
  CliResult again = run_redoubt({"key", "gen", "--curve", "P-256", "--out", prefix});
  BOOST_TEST(again.exit_code == 3);
  BOOST_TEST(has(again.err, "hv-signing.key.pem exists: not replacing a signing key (--force replaces it)"), again.err);
  BOOST_TEST(read_file(prefix + ".key.pem") == key, boost::test_tools::per_element());
  CliResult forced = run_redoubt({"key", "gen", "--curve", "P-256", "--out", prefix, "--force"});
  BOOST_TEST(forced.exit_code == 0, forced.err);
  BOOST_TEST(read_file(prefix + ".key.pem") != key);
}

// The PKI, launch policies and manifests are owner artefacts too: refused when present, --force replaces.
BOOST_AUTO_TEST_CASE(pki_policy_and_manifests_are_not_replaced_silently) {
  TempDir t;
  const std::string pki = (t / "pki").string();
  BOOST_TEST_REQUIRE(run_redoubt({"pki", "init", pki}).exit_code == 0);
  const Bytes root_key = read_file(t / "pki/root.key.pem");
  CliResult again = run_redoubt({"pki", "init", pki});
  BOOST_TEST(again.exit_code == 3);
  BOOST_TEST(has(again.err, "root.key.pem exists: not replacing a PKI's keys (--force replaces it)"), again.err);
  BOOST_TEST(read_file(t / "pki/root.key.pem") == root_key, boost::test_tools::per_element());

  const std::vector<std::string> policy = {"sign", "policy", "--key", pki + "/owner.key.pem", "--anchor", pki + "/root.crt.pem",
                                           "--out", (t / "launch.policy").string()};
  BOOST_TEST_REQUIRE(run_redoubt(policy).exit_code == 0);
  const Bytes signed_policy = read_file(t / "launch.policy");
  CliResult p2 = run_redoubt(policy);
  BOOST_TEST(p2.exit_code == 3);
  BOOST_TEST(has(p2.err, "launch.policy exists: not replacing a launch policy"), p2.err);
  BOOST_TEST(read_file(t / "launch.policy") == signed_policy, boost::test_tools::per_element());
  std::vector<std::string> forced = policy;
  forced.push_back("--force");
  BOOST_TEST(run_redoubt(forced).exit_code == 0);

  BOOST_TEST_REQUIRE(run_redoubt({"key", "gen", "--out", (t / "hv").string()}).exit_code == 0);
  const std::vector<std::string> hv = {"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key",
                                       (t / "hv.key.pem").string(), "--version", "1.0", "--svn", "1", "--out",
                                       (t / "hv.manifest").string()};
  BOOST_TEST_REQUIRE(run_redoubt(hv).exit_code == 0);
  CliResult h2 = run_redoubt(hv);
  BOOST_TEST(h2.exit_code == 3);
  BOOST_TEST(has(h2.err, "hv.manifest exists: not replacing a manifest"), h2.err);
}

// `quote` said exit 0 for a refused launch, and a non-hex nonce was exit 3 where a long one was 2.
BOOST_AUTO_TEST_CASE(quote_exit_codes_mean_what_they_mean_elsewhere) {
  TempDir t;
  const std::string st = (t / "state").string();
  CliResult bad_hex = run_redoubt({"quote", "--nonce", "xyz", "--state", st, "--out", (t / "q0").string()});
  BOOST_TEST(bad_hex.exit_code == 2, bad_hex.err);
  CliResult too_long = run_redoubt({"quote", "--nonce", std::string(130, 'a'), "--state", st, "--out", (t / "q1").string()});
  BOOST_TEST(too_long.exit_code == 2, too_long.err);
  // A hypervisor image the demo-signed manifest does not describe: the SL refuses, the quote is
  // still written (the evidence of the refusal), the exit code says refused.
  Bytes hv = read_file(build_dir() / "hv.bin");
  hv[hv.size() / 2] ^= 0x01;
  write_file(t / "other-hv.bin", hv);
  BOOST_TEST_REQUIRE(run_redoubt({"launch", "--state", st, "--out", (t / "seed").string()}).exit_code == 0);
  CliResult refused = run_redoubt({"quote", "--nonce", "00112233", "--state", st, "--out", (t / "q2").string(), "--manifest",
                                   (t / "seed/hv.manifest").string(), "--hypervisor", (t / "other-hv.bin").string(), "--guest", "hello"});
  BOOST_TEST(refused.exit_code == 1, refused.out << refused.err);
  BOOST_TEST(has(refused.out, "launch REFUSED"), refused.out);
  BOOST_TEST(fs::exists(t / "q2/quote.msg"));
}

// A refused unsigned guest's reason said "unsigned_guest: unsigned_guest: guest-manifest: …".
BOOST_AUTO_TEST_CASE(a_refusal_is_named_once) {
  TempDir t;
  CliResult r = run_redoubt({"run", "--state", (t / "state").string(), "--out", (t / "out").string(), "--guest", "hello",
                             "--unsigned-guests"});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);  // the hypervisor ran; it refused the guest
  const json run = read_json(t / "out/run.json");
  const std::string reason = run["guests"][0]["reason"].get<std::string>();
  BOOST_TEST(run["guests"][0]["admission"] == "refused");
  BOOST_TEST(count(reason, "unsigned_guest") == 1u, reason);
  BOOST_TEST(has(reason, "unsigned_guest: guest-manifest: the guest has no signed manifest"), reason);
}

// Three first runs on one --state at once failed with TPM_RC_FAILURE and no hint. Now the TPM
// state is locked (tools/state_lock.hpp): they run one after the other, the waiting ones say
// who holds it, and every one launches with the same PCR17.
BOOST_AUTO_TEST_CASE(commands_on_one_state_directory_take_turns) {
  TempDir t;
  const std::string st = (t / "state").string();
  std::vector<std::future<CliResult>> runs;
  for (int i = 0; i < 3; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      return run_redoubt({"launch", "--state", st, "--out", (t / ("out" + std::to_string(i))).string()});
    }));
  std::string waited, pcr17;
  for (int i = 0; i < 3; ++i) {
    CliResult r = runs[i].get();
    BOOST_TEST(r.exit_code == 0, "run " << i << ": " << r.out << r.err);
    if (has(r.out + r.err, "is in use by pid ")) waited += std::to_string(i);
    const std::string p17 = read_json(t / ("out" + std::to_string(i)) / "pcrs.json")["sha256"]["17"];
    if (pcr17.empty()) pcr17 = p17;
    BOOST_TEST(p17 == pcr17);
  }
  BOOST_TEST(!waited.empty(), "no run said it waited for the lock");
}

// A lock held for longer than the command waits: exit 3, naming the holder and what to do.
BOOST_AUTO_TEST_CASE(a_busy_state_directory_is_named_with_its_holder) {
  TempDir t;
  const std::string st = (t / "state").string();
  BOOST_TEST_REQUIRE(run_redoubt({"svn", "show", "--state", st}).exit_code == 0);  // the TPM exists
  const std::string lock = st + "/tpm-inproc.lock";
  const int fd = ::open(lock.c_str(), O_RDWR);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  const std::string me = "pid 4242 (redoubt endpoint --mode pull)\n";
  BOOST_TEST_REQUIRE(::ftruncate(fd, 0) == 0);
  BOOST_TEST_REQUIRE(::pwrite(fd, me.data(), me.size(), 0) == ssize_t(me.size()));
  ::setenv("REDOUBT_STATE_LOCK_WAIT_S", "1", 1);
  CliResult r = run_redoubt({"svn", "show", "--state", st});
  ::unsetenv("REDOUBT_STATE_LOCK_WAIT_S");
  ::close(fd);
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(has(r.err, "tpm-inproc is in use by pid 4242 (redoubt endpoint --mode pull): wait for it to finish, or give this "
                        "command another --state"), r.err);
  BOOST_TEST(run_redoubt({"svn", "show", "--state", st}).exit_code == 0);  // released: it runs
}

// --json existed on launch, eventlog show and attest only. Now on every command that reports
// something; stdout is exactly one JSON document (progress goes to stderr).
BOOST_AUTO_TEST_CASE(reporting_commands_speak_json) {
  TempDir t;
  CliResult k = run_redoubt({"key", "gen", "--out", (t / "keys/a").string(), "--json"});
  BOOST_TEST_REQUIRE(k.exit_code == 0, k.err);
  const json kj = json::parse(k.out);
  BOOST_TEST(kj["curve"] == "P-256");
  BOOST_TEST(kj["private_key"] == (t / "keys/a").string() + ".key.pem");
  BOOST_TEST(kj["key_id"].get<std::string>().size() == 64u);

  const std::string st = (t / "state").string();
  CliResult r = run_redoubt({"run", "--state", st, "--out", (t / "run").string(), "--guest", "hello", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const json rj = json::parse(r.out);
  BOOST_TEST(rj == read_json(t / "run/run.json"));
  BOOST_TEST(rj["guests"][0]["status"] == "exited");
  BOOST_TEST(has(r.err, "[hello] Hello, world!"), r.err);  // the console, on stderr

  CliResult s = run_redoubt({"slb", "show", (t / "run/slb.bin").string(), "--json"});
  BOOST_TEST_REQUIRE(s.exit_code == 0, s.err);
  const json sj = json::parse(s.out);
  const Bytes slb = read_file(t / "run/slb.bin");
  BOOST_TEST(sj["length"] == (slb[2] | (slb[3] << 8)));
  BOOST_TEST(sj["measured_sha256"] == hex(sha("SHA256", Bytes(slb.begin(), slb.begin() + (slb[2] | (slb[3] << 8))))));
  BOOST_TEST(!sj["sealed_key"].is_null());

  // pki verify: a revoked signer, the refusal named once, in text and JSON.
  const std::string pki = (t / "pki").string();
  BOOST_TEST_REQUIRE(run_redoubt({"pki", "init", pki}).exit_code == 0);
  const std::string kernel = (build_dir() / "guests/hello.bin").string();
  BOOST_TEST_REQUIRE(run_redoubt({"sign", "guest", "--kernel", kernel, "--key", pki + "/leaf.key.pem", "--cert", pki + "/leaf.crt.pem",
                                  "--chain", pki + "/intermediate.crt.pem", "--svn", "1", "--memory", "8", "--out",
                                  (t / "hello.manifest").string()})
                         .exit_code == 0);
  BOOST_TEST_REQUIRE(run_redoubt({"sign", "policy", "--key", pki + "/owner.key.pem", "--anchor", pki + "/root.crt.pem", "--revoke-spki",
                                  pki + "/leaf.crt.pem", "--out", (t / "p").string()})
                         .exit_code == 0);
  const std::vector<std::string> verify = {"pki", "verify", "--policy", (t / "p").string(), "--owner", pki + "/owner.pub.pem", "--manifest",
                                           (t / "hello.manifest").string(), "--kernel", kernel};
  CliResult v = run_redoubt(verify);
  BOOST_TEST(v.exit_code == 1);
  BOOST_TEST(count(v.out, "revoked_leaf") == 1u, v.out);
  std::vector<std::string> vj_args = verify;
  vj_args.push_back("--json");
  CliResult vj = run_redoubt(vj_args);
  BOOST_TEST(vj.exit_code == 1);
  const json vjj = json::parse(vj.out);
  BOOST_TEST(vjj["verdict"] == "refused");
  BOOST_TEST(vjj["refusal"] == "revoked_leaf");
  BOOST_TEST(count(vjj["message"].get<std::string>(), "revoked_leaf") == 0u, vjj["message"]);
}
