// The differential test, simulator vs QEMU (docs/qemu.md): the same sl.bin,
// sl2.bin, hv.bin, hypervisor manifest, launch policy and guests, once on the
// full-system simulator (inproc libtpms, SKINIT by the simulated CPU) and once
// under QEMU TCG (its own x86 + AMD-V + nested paging, swtpm, SKINIT's measurement
// made by the harness). QEMU is the oracle nobody here wrote: PCR17-20 must be equal
// in every bank, the DRTM logs equal (but for the emulated-DRTM marker), every
// guest's serial output and #VMEXIT sequence equal, and a guest refused for its
// signature refused on both with the same measured event. A deliberately different
// guest binary must make the comparison fail.
#define BOOST_TEST_MODULE qemu_differential
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "platform/qemu/host/qemu_machine.hpp"
#include "policy/host/drtm_marker.hpp"
#include "tools/launch_qemu.hpp"
#include "tests/platform/qemu/qemu_test_support.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

namespace utf = boost::unit_test;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace redoubt;
using namespace redoubt::test;

namespace {

const auto qemu_present = qemu_and_swtpm_present;

// The sha256 guest prints its TSC ticks: the one line of guest output that depends on
// the platform's speed (QEMU and the simulator count time differently).
std::string without_tsc_line(const std::string& s) {
  std::string out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);)
    if (line.find("TSC ticks") == std::string::npos) out += line + "\n";
  return out;
}

struct Run {
  fs::path out;
  CliResult cli;
  json pcrs, run, stats, launch;
};

Run run_on(const std::string& platform, const fs::path& state, const fs::path& out, const std::vector<std::string>& more) {
  std::vector<std::string> args = {"run", "--state", state.string(), "--out", out.string()};
  if (platform == "qemu") args.insert(args.end(), {"--platform", "qemu"});
  args.insert(args.end(), more.begin(), more.end());
  Run r;
  r.out = out;
  r.cli = run_redoubt(args);
  BOOST_TEST_MESSAGE(platform << " run: exit " << r.cli.exit_code);
  if (fs::exists(out / "pcrs.json")) r.pcrs = json::parse(slurp(out / "pcrs.json"));
  if (fs::exists(out / "run.json")) r.run = json::parse(slurp(out / "run.json"));
  if (fs::exists(out / "stats.json")) r.stats = json::parse(slurp(out / "stats.json"));
  if (fs::exists(out / "launch.json")) r.launch = json::parse(slurp(out / "launch.json"));
  return r;
}

// QEMU quirk (docs/qemu.md): TCG fills EXITINFO1 of an IOIO intercept with TYPE, STR, REP,
// SZ and the port only — never the address size (A16/A32/A64, bits 9:7) nor the segment
// (bits 12:10) the APM defines (vol. 2 §15.10.2); target/i386/tcg/translate.c gen_check_io.
constexpr uint64_t kIoioQemuBlind = 0x1F80;

uint64_t hexval(const json& j) { return std::stoull(j.get<std::string>(), nullptr, 16); }


// Everything that must agree between the two platforms; each difference named.
std::vector<std::string> differences(const Run& sim, const Run& q) {
  std::vector<std::string> d;
  for (const char* bank : {"sha1", "sha256", "sha384", "sha512"}) {
    if (!sim.pcrs.contains(bank) && !q.pcrs.contains(bank)) continue;
    for (const char* pcr : {"17", "18", "19", "20"})
      if (sim.pcrs.value(bank, json::object()).value(pcr, "") != q.pcrs.value(bank, json::object()).value(pcr, ""))
        d.push_back(std::string("PCR") + pcr + " " + bank);
  }
  const json& sg = sim.run.value("guests", json::array());
  const json& qg = q.run.value("guests", json::array());
  if (sg.size() != qg.size()) d.push_back("guest count");
  for (size_t i = 0; i < sg.size() && i < qg.size(); ++i) {
    const std::string name = sg[i].value("name", "");
    for (const char* k : {"name", "status", "admission", "refusal", "exit_code", "violation_count"})
      if (sg[i].value(k, json()) != qg[i].value(k, json())) d.push_back("guest " + name + " " + k);
    if (without_tsc_line(slurp(sim.out / ("serial-" + name + ".txt"))) !=
        without_tsc_line(slurp(q.out / ("serial-" + name + ".txt"))))
      d.push_back("guest " + name + " serial output");
    const json st = sim.stats["guests"].value(name, json::object()).value("exit_trace", json::array());
    const json qt = q.stats["guests"].value(name, json::object()).value("exit_trace", json::array());
    if (st.size() != qt.size()) d.push_back("guest " + name + " #VMEXIT count");
    // The whole non-INTR sequence, not only its first 128 exits (hypervisor/core/run_record.hpp
    // exit_digest: IOIO EXITINFO1 bits 12:7 normalised by the hypervisor, as kIoioQemuBlind here).
    const json sd = sim.stats["guests"].value(name, json::object()).value("exit_digest", json::object());
    const json qd = q.stats["guests"].value(name, json::object()).value("exit_digest", json::object());
    if (sd.value("count", -1) != qd.value("count", -1))
      d.push_back("guest " + name + " #VMEXIT digest count " + std::to_string(sd.value("count", -1)) + " vs " +
                  std::to_string(qd.value("count", -1)));
    else if (sd.value("sha256", "") != qd.value("sha256", ""))
      d.push_back("guest " + name + " #VMEXIT digest");
    for (size_t k = 0; k < st.size() && k < qt.size(); ++k) {
      const std::string code = st[k].value("code", "");
      uint64_t si = hexval(st[k]["info1"]), qi = hexval(qt[k]["info1"]);
      if (code == "IOIO") si &= ~kIoioQemuBlind, qi &= ~kIoioQemuBlind;
      const bool info_matters = code == "IOIO" || code == "NPF";
      if (code != qt[k].value("code", "") || (info_matters && si != qi)) {
        d.push_back("guest " + name + " #VMEXIT " + std::to_string(k) + ": " + code + " " + st[k]["info1"].get<std::string>() +
                    " vs " + qt[k].value("code", "") + " " + qt[k]["info1"].get<std::string>());
        break;
      }
    }
  }
  return d;
}

struct World {
  TempDir dir;
  fs::path state = dir / "state";
  std::vector<std::string> inputs;  // the same launch inputs for both platforms
  Run sim, qemu;
  World() {
    // A first simulator run makes the demo keys, PKI, launch policy, hypervisor manifest and
    // guest manifests; both runs then take exactly those files.
    Run seed = run_on("amd", state, dir / "seed", {});
    BOOST_TEST_REQUIRE(seed.cli.exit_code == 0, seed.cli.out + seed.cli.err);
    const fs::path g = build_dir() / "guests", m = dir / "seed/manifests";
    inputs = {"--policy", (dir / "seed/launch.policy").string(), "--owner", (state / "demo/pki/owner.pub.pem").string(),
              "--manifest", (dir / "seed/hv.manifest").string()};
    for (const char* n : {"hello", "sha256", "mmu", "probe"})
      inputs.insert(inputs.end(), {"--guest", (g / (std::string(n) + ".bin")).string() + ":" + (m / (std::string(n) + ".manifest")).string()});
    // Refused for its signature: hello's kernel under mmu's manifest (kernel digest mismatch).
    inputs.insert(inputs.end(), {"--guest", (g / "hello.bin").string() + ":" + (m / "mmu.manifest").string()});
    sim = run_on("amd", state, dir / "sim", inputs);
    qemu = run_on("qemu", state, dir / "qemu", inputs);
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(differential, *utf::precondition(qemu_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(both_platforms_run_the_same_launch) {
  World& w = world();
  BOOST_TEST(w.sim.cli.exit_code == 0, w.sim.cli.out + w.sim.cli.err);
  BOOST_TEST(w.qemu.cli.exit_code == 0, w.qemu.cli.out + w.qemu.cli.err);
  BOOST_TEST(w.qemu.launch.value("platform", "") == "qemu");
  BOOST_TEST(w.qemu.launch.value("drtm", "") == "harness-emulated");
  BOOST_TEST(w.sim.launch.value("drtm", "") == "skinit");
  BOOST_TEST(w.qemu.launch["qemu"].value("skinit_bytes_match_layout", false));
  BOOST_TEST(w.qemu.run.value("status", "") == "ran");
}

BOOST_AUTO_TEST_CASE(pcrs_serial_exits_and_refusals_agree) {
  World& w = world();
  const std::vector<std::string> d = differences(w.sim, w.qemu);
  for (const std::string& s : d) BOOST_TEST_MESSAGE("difference: " << s);
  BOOST_TEST(d.empty());
  // Not vacuous: PCR17-20 are set, every guest ran or was refused as expected, and traces exist.
  BOOST_TEST(w.qemu.pcrs["sha256"]["19"].get<std::string>() != std::string(64, '0'));
  const json& g = w.qemu.run["guests"];
  BOOST_TEST_REQUIRE(g.size() == 5u);
  for (size_t i = 0; i < 4; ++i) BOOST_TEST(g[i]["status"].get<std::string>() == "exited", g[i].dump());
  BOOST_TEST(g[4]["status"].get<std::string>() == "refused");
  BOOST_TEST(g[4]["admission"].get<std::string>() == "refused");
  BOOST_TEST(w.qemu.stats["guests"]["hello"]["exit_trace"].size() > 100u);
  // The digests cover more than the traces: every guest that ran has one, and the sha256 guest's
  // sequence is longer than its 128-exit trace.
  for (const char* n : {"hello", "sha256", "mmu", "probe"})
    BOOST_TEST(w.qemu.stats["guests"][n]["exit_digest"]["sha256"].get<std::string>().size() == 64u, n);
  BOOST_TEST(!w.qemu.stats["guests"]["hello-2"].contains("exit_digest"));
  BOOST_TEST(w.qemu.stats["guests"]["sha256"]["exit_digest"]["count"].get<uint64_t>() > 128u);
  // (qemu_dma_read_test recomputes a whole digest from a trace that holds every exit.)
}

BOOST_AUTO_TEST_CASE(the_event_logs_agree_but_for_the_emulated_drtm_marker) {
  World& w = world();
  const std::string s = slurp(w.sim.out / "eventlog.bin"), q = slurp(w.qemu.out / "eventlog.bin");
  BOOST_TEST_REQUIRE(!s.empty());
  // The QEMU log is the simulator's with the marker (docs/attestation.md "Emulated DRTM")
  // as its first event, byte for byte.
  const std::vector<uint8_t> sim_log(s.begin(), s.end());
  const std::vector<uint8_t> expected = policy::insert_emulated_drtm_marker(sim_log, std::string(tools::kQemuDrtmMarkerText));
  BOOST_TEST((std::vector<uint8_t>(q.begin(), q.end()) == expected));
  const auto marker = policy::find_emulated_drtm_marker(policy::parse_event_log(expected));
  BOOST_TEST_REQUIRE(marker.has_value());
  BOOST_TEST(marker->text.rfind("qemu:", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(a_different_guest_binary_fails_the_comparison) {
  World& w = world();
  // The hello guest with one byte of its greeting changed, signed on the fly by the same PKI.
  std::string hello = slurp(build_dir() / "guests/hello.bin");
  const size_t at = hello.find("Hello, world!");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  hello[at] = 'J';
  const fs::path tampered = w.dir / "hello.bin";
  std::ofstream(tampered, std::ios::binary) << hello;
  // Replace the first guest (hello) with the tampered binary, signed on the fly.
  std::vector<std::string> args;
  for (size_t i = 0; i < w.inputs.size(); ++i) {
    if (w.inputs[i] == "--guest" && w.inputs[i + 1].find("/hello.bin:") != std::string::npos &&
        w.inputs[i + 1].find("hello.manifest") != std::string::npos) {
      args.insert(args.end(), {"--guest", tampered.string()});
      ++i;
      continue;
    }
    args.push_back(w.inputs[i]);
  }
  Run bad = run_on("qemu", w.state, w.dir / "qemu-bad", args);
  BOOST_TEST(bad.cli.exit_code == 0, bad.cli.out + bad.cli.err);
  const std::vector<std::string> d = differences(w.sim, bad);
  for (const std::string& s : d) BOOST_TEST_MESSAGE("difference (expected): " << s);
  auto has = [&](const std::string& what) { return std::find(d.begin(), d.end(), what) != d.end(); };
  BOOST_TEST(has("guest hello serial output"));
  BOOST_TEST(has("PCR20 sha256"));
}

// DMA attacks under QEMU (docs/qemu.md "DMA attack"): the untrusted boot stub plays a malicious
// bus master with QEMU's edu device, armed before SKINIT to write a 2 KiB 0xEE pattern ~100 ms
// later, while the SL or the hypervisor runs behind the AMD-Vi configuration stage 1 made.
std::vector<std::string> attack_args(const World& w, const std::string& stub_args) {
  std::vector<std::string> a = w.inputs;
  a.insert(a.end(), {"--qemu-arg=-device", "--qemu-arg=edu", "--qemu-arg=-trace", "--qemu-arg=amdvi_translation_result",
                     "--qemu-stub-args", stub_args});
  return a;
}

// How many of edu's 4-byte DMA writes to [pa, pa + 2 KiB) QEMU's AMD-Vi translated (trace lines
// are emitted only while the IOMMU is enabled: hw/i386/amd_iommu.c amdvi_translate).
int translations(const fs::path& out, uint64_t pa) {
  std::istringstream in(slurp(out / "qemu-stderr.txt"));
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t g = line.find(" gpa 0x");
    if (line.rfind("amdvi_translation_result", 0) != 0 || g == std::string::npos) continue;
    const uint64_t a = std::stoull(line.substr(g + 5), nullptr, 16);
    if (a >= pa && a < pa + 2048) ++n;
  }
  return n;
}

BOOST_AUTO_TEST_CASE(control_an_unprotected_dma_write_lands) {
  World& w = world();
  // The same write, completed before SKINIT, over the launch policy the loader placed: nothing
  // protects memory yet, so the SL finds the policy destroyed and refuses the launch.
  Run r = run_on("qemu", w.state, w.dir / "attack-now", attack_args(w, "attack-now=0x1040000"));
  BOOST_TEST(r.cli.exit_code == 1, r.cli.out);
  BOOST_TEST(r.launch.value("status", "") == "refused");
  BOOST_TEST(r.launch.value("reason", "").find("policy") != std::string::npos, r.launch.value("reason", ""));
  BOOST_TEST(r.cli.out.find("attack-now: the pattern was written before SKINIT") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dma_writes_into_the_hypervisor_and_the_slb_are_blocked_by_amd_vi) {
  World& w = world();
  for (uint64_t target : {0x04000000ull /* the hypervisor's run record */, 0x01000000ull /* the SLB */}) {
    char arg[40];
    snprintf(arg, sizeof arg, "attack=0x%llx", static_cast<unsigned long long>(target));
    Run r = run_on("qemu", w.state, w.dir / arg, attack_args(w, arg));
    BOOST_TEST(r.cli.exit_code == 0, r.cli.out + r.cli.err);
    BOOST_TEST(r.cli.out.find("edu armed to write the pattern") != std::string::npos);
    // The DMA happened, through the enabled IOMMU: 512 four-byte writes were translated.
    BOOST_TEST(translations(r.out, target) == 512, arg);
    // ... and changed nothing: PCRs, logs, guests, serial, #VMEXITs as on the simulator, and the
    // run record (the first target) intact.
    const std::vector<std::string> d = differences(w.sim, r);
    for (const std::string& s : d) BOOST_TEST_MESSAGE(arg << " difference: " << s);
    BOOST_TEST(d.empty(), arg);
    BOOST_TEST(r.run["hypervisor"].value("status", "") == "ok");
    BOOST_TEST(slurp(r.out / "eventlog.bin") == slurp(w.qemu.out / "eventlog.bin"));
  }
}

BOOST_AUTO_TEST_SUITE_END()
