// tpm2-tools as oracles on a QEMU run (--platform qemu: the real images under QEMU TCG, SKINIT's
// measurement made by the harness on the bridge's private swtpm, docs/qemu-tpm-bridge.md), and a
// QEMU endpoint against a real verifier:
//  - tpm2_pcrread, reading the swtpm of the run through the bridge's TCP server (tcti-swtpm), sees
//    exactly pcrs.json for PCR17-20 in every bank;
//  - tpm2_eventlog replays eventlog.bin to pcrs.json for PCR18-20 and, for PCR17, to what it
//    computes with the emulated-DRTM marker's zero digest extended (tpm2-tools < 5.6, #3224) or to
//    pcrs.json (>= 5.6); the log without the marker replays PCR17 to pcrs.json exactly;
//  - tpm2_checkquote accepts `redoubt quote --platform qemu` with the nonce and the PCR values;
//  - `redoubt endpoint --platform qemu`: contraindicated (drtm_emulated) under default reference
//    values, affirming with ones signed with allow_emulated, the EAR saying harness-emulated.
// Expected values are computed here with OpenSSL (test::extend) from the log's digests.
#define BOOST_TEST_MODULE qemu_oracle
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attestation/verifier/ear_result.hpp"
#include "platform/qemu/host/qemu_machine.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/service_world.hpp"
#include "tests/platform/qemu/qemu_test_support.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"
#include "tools/cmd_run_job.hpp"
#include "tools/tpm_session.hpp"
#include "tpm/swtpm_bridge_tcp.hpp"
#include "tpm/swtpm_bridge_tpm.hpp"

namespace utf = boost::unit_test;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace redoubt;
using namespace redoubt::test;

namespace {

bool have(const char* tool) { return have_tool(tool); }
const auto qemu_present = qemu_and_swtpm_present;
boost::test_tools::assertion_result tools_present(utf::test_unit_id id) {
  boost::test_tools::assertion_result q = qemu_present(id);
  if (!q) return q;
  boost::test_tools::assertion_result r(have("tpm2_pcrread") && have("tpm2_eventlog") && have("tpm2_checkquote"));
  if (!r) r.message() << "tpm2-tools (tpm2_pcrread, tpm2_eventlog, tpm2_checkquote) not installed: skipped";
  return r;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

const std::vector<std::string> kPcrs = {"17", "18", "19", "20"};

const char* openssl_name(HashAlg a) {
  switch (a) {
    case HashAlg::sha1: return "SHA1";
    case HashAlg::sha256: return "SHA256";
    case HashAlg::sha384: return "SHA384";
    case HashAlg::sha512: return "SHA512";
  }
  return "";
}
std::string bank_name(HashAlg a) { return lower(openssl_name(a)); }

// tpm2-tools' YAML PCR listing: "  <bank>:\n    <pcr> : 0x<hex>" (tpm2_eventlog: "17 : 0x..",
// tpm2_pcrread: "17: 0x.."), from `from` on. bank -> pcr -> lowercase hex.
std::map<std::string, std::map<std::string, std::string>> yaml_pcrs(const std::string& text, size_t from = 0) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream in(text.substr(from));
  std::string bank;
  const std::regex bank_re("^\\s{1,4}(sha1|sha256|sha384|sha512|sm3_256):\\s*$");
  const std::regex pcr_re("^\\s+([0-9]{1,2})\\s*:\\s*0x([0-9a-fA-F]+)\\s*$");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, bank_re)) bank = m[1].str();
    else if (!bank.empty() && std::regex_match(line, m, pcr_re)) out[bank][m[1].str()] = lower(m[2].str());
  }
  return out;
}

// The in-process QEMU run (through the library, as `redoubt run --platform qemu` does:
// tools/cmd_run.cpp), its bridge kept alive and served on loopback TCP for tpm2-tools.
struct World {
  TempDir dir;
  fs::path out = dir / "run";
  std::unique_ptr<tpm::TpmDevice> tpm;
  std::unique_ptr<tpm::SwtpmBridgeTcpServer> server;
  tools::RunResult result;
  json pcrs;
  std::string said;
  double seconds = 0;
  World() {
    const auto t0 = std::chrono::steady_clock::now();
    auto say = [this](const std::string& l) { said += l + "\n"; };
    tools::TpmStateCheck check;
    tpm = tools::open_tpm_session(tools::kQemuTpmSpec, dir / "state", false, &check, say);
    tools::RunOptions ro;
    ro.launch.platform = "qemu";
    ro.launch.state = (dir / "state").string();
    ro.launch.out = out.string();
    ro.launch.tpm_state = check.to_json();
    result = tools::run_guests_job(ro, *tpm, say);
    auto* bridge_tpm = dynamic_cast<tpm::SwtpmBridgeTpm*>(tpm.get());
    BOOST_TEST_REQUIRE(bridge_tpm != nullptr, tpm->describe());
    server = std::make_unique<tpm::SwtpmBridgeTcpServer>(bridge_tpm->shared_bridge());
    pcrs = json::parse(slurp(out / "pcrs.json"));
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST_MESSAGE("in-process QEMU run: " << seconds << " s; TPM served at " << server->tcti());
  }
};

World& world() {
  static World w;
  return w;
}

std::pair<int, int> tools_version(const char* tool) {
  CliResult v = run_program({tool, "--version"});
  std::smatch m;
  if (!std::regex_search(v.out, m, std::regex("version=\"([0-9]+)\\.([0-9]+)"))) return {0, 0};
  return {std::stoi(m[1].str()), std::stoi(m[2].str())};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oracles, *utf::precondition(tools_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(the_qemu_run_ran) {
  World& w = world();
  BOOST_TEST(w.result.launch.report.launched, w.said);
  BOOST_TEST(w.result.ran, w.said);
  const json launch = json::parse(slurp(w.out / "launch.json"));
  BOOST_TEST(launch.value("platform", "") == "qemu");
  BOOST_TEST(launch.value("drtm", "") == "harness-emulated");
  BOOST_TEST(w.pcrs["sha256"]["19"].get<std::string>() != std::string(64, '0'));
}

// tpm2_pcrread on the run's swtpm (alive: the bridge lives in this process) through tcti-swtpm.
BOOST_AUTO_TEST_CASE(tpm2_pcrread_on_the_swtpm_equals_pcrs_json) {
  World& w = world();
  std::string sel;
  for (const auto& [bank, v] : w.pcrs.items()) {
    if (!v.is_object()) continue;
    sel += (sel.empty() ? "" : "+") + bank + ":17,18,19,20";
  }
  BOOST_TEST_REQUIRE(!sel.empty(), w.pcrs.dump());
  CliResult r = run_program({"tpm2_pcrread", "-T", w.server->tcti(), sel});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  const auto got = yaml_pcrs(r.out);
  size_t compared = 0;
  for (const auto& [bank, v] : w.pcrs.items()) {
    if (!v.is_object()) continue;
    BOOST_TEST_CONTEXT("bank " << bank) {
      BOOST_TEST(got.count(bank) == 1u, r.out);
      for (const std::string& p : kPcrs) {
        BOOST_TEST_CONTEXT("PCR" << p) {
          const auto b = got.find(bank);
          const std::string g = b == got.end() || !b->second.count(p) ? "" : b->second.at(p);
          BOOST_TEST(g == lower(v.value(p, "")));
          ++compared;
        }
      }
    }
  }
  BOOST_TEST(compared >= 8u);  // at least two banks
  BOOST_TEST(w.server->tpm_commands() > 0u);
  BOOST_TEST_MESSAGE("tpm2_pcrread compared " << compared << " PCR values; " << w.server->tpm_commands() << " TPM commands, "
                                              << w.server->ctrl_commands() << " control commands served");
  // Not vacuous: a bank tpm2_pcrread reads is what pcrs.json says, and PCR17 is a launched value.
  BOOST_TEST(got.at("sha256").at("17") != std::string(64, '0'));
  BOOST_TEST(got.at("sha256").at("17") != std::string(64, 'f'));
}

// The served control channel refuses CMD_INIT (tcti-swtpm's Tss2_Tcti_Swtpm_Reset), which would
// wipe the PCRs of the run: TPM_FAIL, and the PCRs are still pcrs.json's.
BOOST_AUTO_TEST_CASE(the_served_tpm_refuses_a_reset) {
  World& w = world();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_TEST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(w.server->port() + 1));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const uint8_t init[8] = {0, 0, 0, 2, 0, 0, 0, 1};  // CMD_INIT, PTM_INIT_FLAG_DELETE_VOLATILE
  BOOST_TEST_REQUIRE(::send(fd, init, sizeof init, MSG_NOSIGNAL) == 8);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint8_t res[4] = {0xff, 0xff, 0xff, 0xff};
  size_t got = 0;
  while (got < 4) {
    const ssize_t n = ::recv(fd, res + got, 4 - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  BOOST_TEST_REQUIRE(got == 4u);
  BOOST_TEST((Bytes(res, res + 4) == Bytes{0, 0, 0, 9}));  // TPM_FAIL
  CliResult r = run_program({"tpm2_pcrread", "-T", w.server->tcti(), "sha256:17,19"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  const auto pcrs = yaml_pcrs(r.out);
  BOOST_TEST(pcrs.at("sha256").at("17") == lower(w.pcrs["sha256"]["17"].get<std::string>()));
  BOOST_TEST(pcrs.at("sha256").at("19") == lower(w.pcrs["sha256"]["19"].get<std::string>()));
}

// tpm2_eventlog replays the QEMU run's log (with its emulated-DRTM marker first) and the same log
// without the marker.
BOOST_AUTO_TEST_CASE(tpm2_eventlog_replays_the_qemu_log) {
  World& w = world();
  const Bytes log = read_file(w.out / "eventlog.bin");
  const policy::EventLog parsed = policy::parse_event_log(log);
  BOOST_TEST_REQUIRE(!parsed.events.empty());
  const policy::LogEvent& marker = parsed.events.front();
  BOOST_TEST_REQUIRE(marker.pcr == 17u);
  BOOST_TEST_REQUIRE(marker.type == 3u);  // EV_NO_ACTION
  BOOST_TEST_REQUIRE(policy::find_emulated_drtm_marker(parsed).has_value());
  // The log without the marker: the first record after the Spec ID header cut out.
  const size_t cut_from = marker.offset, cut_to = parsed.events.size() > 1 ? parsed.events[1].offset : log.size();
  Bytes unmarked(log.begin(), log.begin() + static_cast<long>(cut_from));
  unmarked.insert(unmarked.end(), log.begin() + static_cast<long>(cut_to), log.end());
  write_file(w.dir / "unmarked.bin", unmarked);
  BOOST_TEST(!policy::find_emulated_drtm_marker(policy::parse_event_log(unmarked)).has_value());

  const auto [major, minor] = tools_version("tpm2_eventlog");
  const bool extends_no_action = major < 5 || (major == 5 && minor < 6);
  BOOST_TEST_MESSAGE("tpm2_eventlog " << major << "." << minor << (extends_no_action ? ": extends EV_NO_ACTION (tpm2-tools#3224)" : ""));

  // PCR17 as tpm2-tools 5.4/5.5 compute it, per bank: zero, the marker's (all-zero) digest, then
  // every PCR17 event's digest; and as the TPM did (EV_NO_ACTION not extended).
  std::map<std::string, std::string> buggy17, right17;
  for (const auto& [alg, size] : parsed.banks) {
    const char* o = openssl_name(alg);
    Bytes b = zeros(size), r = zeros(size);
    for (const policy::LogEvent& e : parsed.events) {
      if (e.pcr != 17) continue;
      for (const auto& [a, d] : e.digests) {
        if (a != alg) continue;
        if (&e == &marker) BOOST_TEST(d == zeros(size), "the marker's digest is zero: " << bank_name(alg));
        b = extend(o, b, d);
        if (e.type != 3) r = extend(o, r, d);
      }
    }
    buggy17[bank_name(alg)] = hex(b);
    right17[bank_name(alg)] = hex(r);
  }

  for (const char* file : {"eventlog.bin", "unmarked.bin"}) {
    BOOST_TEST_CONTEXT(file) {
      const fs::path path = std::string(file) == "eventlog.bin" ? w.out / file : w.dir / file;
      CliResult r = run_program({"tpm2_eventlog", path.string()});
      BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
      const size_t at = r.out.find("\npcrs:");
      BOOST_TEST_REQUIRE(at != std::string::npos, r.out);
      const auto got = yaml_pcrs(r.out, at);
      const bool marked = std::string(file) == "eventlog.bin";
      size_t banks = 0;
      for (const auto& [alg, size] : parsed.banks) {
        const std::string bank = bank_name(alg);
        if (!w.pcrs.contains(bank)) continue;
        ++banks;
        BOOST_TEST_CONTEXT("bank " << bank) {
          BOOST_TEST_REQUIRE(got.count(bank) == 1u, r.out);
          const auto& g = got.at(bank);
          for (const char* p : {"18", "19", "20"}) {
            const std::string want = lower(w.pcrs[bank].value(p, ""));
            // tpm2_eventlog lists only PCRs the log extends; an absent one is still zero.
            const std::string have = g.count(p) ? g.at(p) : hex(zeros(size));
            BOOST_TEST(have == want, "PCR" << p);
          }
          const std::string want17 = lower(w.pcrs[bank].value("17", ""));
          BOOST_TEST(right17[bank] == want17, "the log's own PCR17 replay (EV_NO_ACTION skipped)");
          BOOST_TEST_REQUIRE(g.count("17") == 1u, r.out);
          if (marked && extends_no_action) {
            BOOST_TEST(g.at("17") == buggy17[bank], "PCR17 as tpm2-tools < 5.6 replays a marked log");
            BOOST_TEST(g.at("17") != want17);
          } else {
            BOOST_TEST(g.at("17") == want17, "PCR17");
          }
        }
      }
      BOOST_TEST(banks >= 2u);
    }
  }
}

// `redoubt quote --platform qemu` (a QEMU launch and guests on its own swtpm, then TPM2_Quote)
// is accepted by tpm2_checkquote with the nonce and the quoted PCR values, which are pcrs.json's.
BOOST_AUTO_TEST_CASE(tpm2_checkquote_accepts_a_qemu_quote) {
  World& w = world();
  const std::string nonce = "5eed0ace00112233445566778899aabbccddeeff00112233445566778899aabb";
  const fs::path q = w.dir / "quote";
  const auto t0 = std::chrono::steady_clock::now();
  CliResult r = run_redoubt({"quote", "--platform", "qemu", "--nonce", nonce, "--state", (w.dir / "quote-state").string(), "--out", q.string()});
  BOOST_TEST_MESSAGE("redoubt quote --platform qemu: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
  const json launch = json::parse(slurp(q / "launch.json"));
  BOOST_TEST(launch.value("platform", "") == "qemu");
  auto check = [&](const std::string& n) {
    return run_program({"tpm2_checkquote", "-u", (q / "ak.pub.pem").string(), "-m", (q / "quote.msg").string(), "-s",
                        (q / "quote.sig").string(), "-f", (q / "quote.pcrs").string(), "-g", "sha256", "-q", n});
  };
  CliResult c = check(nonce);
  BOOST_TEST_REQUIRE(c.exit_code == 0, c.out + c.err);
  // The PCR values tpm2_checkquote checked against the quote's digest are those of pcrs.json.
  const json qp = json::parse(slurp(q / "pcrs.json"));
  const size_t at = c.out.find("pcrs:");
  BOOST_TEST_REQUIRE(at != std::string::npos, c.out);
  const auto got = yaml_pcrs(c.out, at);
  BOOST_TEST_REQUIRE(got.count("sha256") == 1u, c.out);
  for (const std::string& p : kPcrs) BOOST_TEST((got.at("sha256").count(p) == 1u && got.at("sha256").at(p) == lower(qp["sha256"].value(p, ""))), "PCR" << p);
  // The marker is in the quoted log, and another nonce is refused.
  BOOST_TEST(policy::find_emulated_drtm_marker(policy::parse_event_log(read_file(q / "eventlog.bin"))).has_value());
  BOOST_TEST(check("00").exit_code != 0);
}

// `redoubt run --platform qemu --serve-tpm 0` (a CLI run, its own process): once the run is
// over the process keeps its swtpm and serves it for tpm2-tools until SIGTERM; tpm2_pcrread then
// reads exactly the run's pcrs.json, and the process ends in order (exit 0) on the signal.
BOOST_AUTO_TEST_CASE(serve_tpm_keeps_a_cli_runs_tpm_for_tpm2_tools) {
  TempDir d;
  const fs::path out = d / "run", log = d / "stdout.txt";
  const std::string exe = (build_dir() / "redoubt").string();
  const std::vector<std::string> args = {exe, "run", "--platform", "qemu", "--guest", "hello", "--state", (d / "state").string(),
                                         "--out", out.string(), "--serve-tpm", "0", "--serve-tpm-seconds", "60"};
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> av;
    for (const std::string& a : args) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    execv(exe.c_str(), av.data());
    _exit(127);
  }
  // The tcti the process prints once it serves (a free port pair: --serve-tpm 0).
  std::smatch m;
  std::string said;
  const std::regex served(R"(-T (swtpm:host=127\.0\.0\.1,port=[0-9]+))");
  for (int i = 0; i < 600 && !std::regex_search(said, m, served); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    said = slurp(log);
  }
  BOOST_TEST_REQUIRE(std::regex_search(said, m, served), said);
  const std::string tcti = m[1];
  const double ready = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CliResult r = run_program({"tpm2_pcrread", "-T", tcti, "sha256:17,18,19,20"});
  kill(pid, SIGTERM);
  int status = -1;
  waitpid(pid, &status, 0);
  said = slurp(log);
  BOOST_TEST_MESSAGE("--serve-tpm: serving after " << ready << " s at " << tcti);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err + said);
  const json pcrs = json::parse(slurp(out / "pcrs.json"));
  const auto got = yaml_pcrs(r.out);
  for (const std::string& p : kPcrs) BOOST_TEST(got.at("sha256").at(p) == lower(pcrs["sha256"].value(p, "")), p);
  BOOST_TEST(got.at("sha256").at("17") != std::string(64, '0'));
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, said);
  BOOST_TEST(said.find("[tpm] SIGTERM") != std::string::npos, said);
  BOOST_TEST(said.find("stopped serving") != std::string::npos, said);
  BOOST_TEST(std::regex_search(said, std::regex("served [1-9][0-9]* TPM command")), said);
  // Only with the QEMU platform: the simulator's TPM is not the bridge's.
  CliResult bad = run_redoubt({"run", "--serve-tpm", "0", "--state", (d / "state2").string(), "--out", (d / "o2").string()});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST((bad.out + bad.err).find("needs --platform qemu") != std::string::npos, bad.out + bad.err);
}

BOOST_AUTO_TEST_SUITE_END()

// `redoubt endpoint --platform qemu` enrolling with and pushing to a real verifier process: default
// reference values, then the same ones signed by `redoubt verifier sign-reference --allow-emulated-drtm`.
BOOST_AUTO_TEST_SUITE(endpoint, *utf::precondition(qemu_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(qemu_endpoint_is_refused_by_default_and_affirming_when_allowed) {
  for (bool allow : {false, true}) {
    BOOST_TEST_CONTEXT((allow ? "allow_emulated" : "default reference values")) {
      ServiceWorld sw;  // default reference values: no "drtm" (tests/attestation/service_world.cpp)
      if (allow) {
        // The same reference values signed by the CLI with --allow-emulated-drtm.
        const policy::EvpKey owner = policy::load_public_key((sw.dir / "owner.pub.pem").string());
        const json ref = {{"type", "redoubt.reference-values/1"},
                          {"id", "test-reference-qemu"},
                          {"hypervisor", {{"signers", {policy::key_id_hex(owner)}}, {"min_svn", 2}}},
                          {"launch_policy", nullptr}};
        const std::string text = ref.dump();
        write_file(sw.dir / "reference-qemu.json", Bytes(text.begin(), text.end()));
        CliResult s = run_redoubt({"verifier", "sign-reference", "--in", (sw.dir / "reference-qemu.json").string(), "--key",
                                   (sw.dir / "authority.key.pem").string(), "--out", (sw.dir / "reference-qemu.cose").string(),
                                   "--allow-emulated-drtm"});
        BOOST_TEST_REQUIRE(s.exit_code == 0, s.out + s.err);
        sw.reference = (sw.dir / "reference-qemu.cose").string();
      }
      auto args = sw.verifier_args();
      args.insert(args.end(), {"--db", (sw.dir / "v.db").string()});
      VerifierProcess v(args, sw.dir / "verifier.out");
      const auto t0 = std::chrono::steady_clock::now();
      CliResult r = sw.endpoint(v.url, "qemu-ep", {"--platform", "qemu"});
      BOOST_TEST_MESSAGE("redoubt endpoint --platform qemu (" << (allow ? "allowed" : "default") << "): "
                         << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
      BOOST_TEST(r.err.find("EK certificate from NV") != std::string::npos, r.err);
      BOOST_TEST(r.err.find("[endpoint] launch succeeded") != std::string::npos, r.err);
      if (allow) {
        BOOST_TEST(r.exit_code == 0, r.out + r.err);
        BOOST_TEST(r.out.find("qemu-ep: affirming") != std::string::npos, r.out + r.err);
        BOOST_TEST(r.out.find("note drtm_emulated") != std::string::npos, r.out);
      } else {
        BOOST_TEST(r.exit_code != 0, r.out + r.err);
        BOOST_TEST(r.out.find("qemu-ep: contraindicated") != std::string::npos, r.out + r.err);
        BOOST_TEST(r.out.find("drtm_emulated") != std::string::npos, r.out);
      }
      // The verifier's signed EAR says how the DRTM was made.
      Http h(v.url);
      auto [code, st] = h.get("/v1/endpoints/qemu-ep");
      BOOST_TEST_REQUIRE(code == 200, st.dump());
      BOOST_TEST_REQUIRE(st.contains("ear_jws"), st.dump());
      const policy::EvpKey ear_key = policy::load_public_key((sw.dir / "v.db.pub.pem").string());
      const json sub = attest::jws_verify_es256(st["ear_jws"], ear_key)["submods"]["redoubt-drtm"];
      BOOST_TEST(sub["redoubt.drtm"]["method"] == "harness-emulated", sub.dump());
      BOOST_TEST(sub["redoubt.drtm"]["allowed"] == allow, sub.dump());
      BOOST_TEST(sub["redoubt.drtm"]["marker"]["text"].get<std::string>().rfind("qemu:", 0) == 0u, sub.dump());
      BOOST_TEST((sub["redoubt.failures"].dump().find("\"drtm_emulated\"") != std::string::npos) == !allow, sub.dump());
      BOOST_TEST(sub["ear.appraisal-policy-id"] == (allow ? "test-reference-qemu" : "test-reference-1"), sub.dump());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
