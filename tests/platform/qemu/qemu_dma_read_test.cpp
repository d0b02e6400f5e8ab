// The DMA read attack in the launched chain under QEMU (docs/qemu.md "DMA attacks"): the real
// sl.bin -> sl2.bin -> hv.bin under QEMU TCG + swtpm, QEMU's edu device assigned to the dmacopy
// guest (docs/dma.md "Device assignment": an AMD-Vi domain mapping IOVA = GPA over its RAM).
// The guest tells edu to read (a) the hypervisor's image, (b) the victim guest's secret page,
// (c) the SLB into edu's buffer, then to write the buffer into its own RAM, and prints what
// arrived in hex. The positive control copies a page of its own RAM the same way.
//
// What this test knows by itself: the hypervisor's bytes (build/hv.bin), the victim's secret
// (xorshift64 from the seed it gives, as guests/attack does), the SLB as the loader laid it out
// (slb.bin). Verdicts: SHA-256 computed here over what landed vs over the secret, a 32-byte
// chunk scan of the whole serial output, and QEMU's own AMD-Vi trace (amdvi_translation_result:
// a refused translation is reported with hpa 0x0). With the test image that does not confine
// the device (kHvTestDmaMapsHost, `--test-dma-maps-host`), every secret arrives byte for byte.
#define BOOST_TEST_MODULE qemu_dma_read
#include <boost/test/unit_test.hpp>

#include <openssl/sha.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "arch/svm/exit_codes.hpp"
#include "policy/host/eventlog_reader.hpp"
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

constexpr uint64_t kSeed = 0x5EC12E7D0A11ull;
constexpr size_t kXfer = 2048;            // guests/dmacopy: one edu transfer (QEMU 7.2's range check)
constexpr uint64_t kHvOffset = 0x2000;     // inside hv.bin's .text: bytes relocation never changes
constexpr uint64_t kSlbOffset = 0x1000;    // inside sl.bin's code
constexpr uint64_t kVictimSecretGpa = 0x300000;  // guests/attack victim mode
constexpr uint64_t kControlGpa = 0x200000;

using Bytes = std::vector<uint8_t>;

std::string sha256(const Bytes& b) {
  uint8_t d[32];
  SHA256(b.data(), b.size(), d);
  static const char* x = "0123456789abcdef";
  std::string s;
  for (uint8_t c : d) s += {x[c >> 4], x[c & 15]};
  return s;
}

// The victim's secret page (guests/attack/attack.c victim(): xorshift64, 8 bytes little-endian at a time).
Bytes victim_secret(uint64_t seed, size_t n) {
  Bytes out;
  uint64_t x = seed;
  while (out.size() < n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(x >> (8 * i)));
  }
  return out;
}

Bytes slice(const std::string& s, uint64_t off, size_t n) {
  BOOST_TEST_REQUIRE(off + n <= s.size());
  return Bytes(s.begin() + long(off), s.begin() + long(off + n));
}

bool contains_chunk(const std::string& hay, const Bytes& secret, size_t chunk = 32) {
  for (size_t i = 0; i + chunk <= secret.size(); i += chunk)
    if (hay.find(std::string(secret.begin() + long(i), secret.begin() + long(i + chunk))) != std::string::npos) return true;
  return false;
}

std::string lower_hex(const Bytes& b) {
  static const char* x = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) s += {x[c >> 4], x[c & 15]};
  return s;
}

struct Run {
  fs::path out;
  CliResult cli;
  json run, launch, pcrs;
  std::string serial, trace;
  std::map<uint64_t, Bytes> landed;  // target -> what arrived in dmacopy's RAM
};

// QEMU's AMD-Vi trace lines for [pa, pa + kXfer): (translations, of which refused = hpa 0x0).
std::pair<int, int> translations(const std::string& trace, uint64_t pa) {
  std::istringstream in(trace);
  int n = 0, refused = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t g = line.find(" gpa 0x"), h = line.find(" hpa 0x");
    if (line.rfind("amdvi_translation_result", 0) != 0 || g == std::string::npos || h == std::string::npos) continue;
    const uint64_t a = std::stoull(line.substr(g + 5), nullptr, 16);
    if (a < pa || a >= pa + kXfer) continue;
    ++n;
    refused += std::stoull(line.substr(h + 5), nullptr, 16) == 0;
  }
  return {n, refused};
}

struct World {
  TempDir dir;
  fs::path state = dir / "state";
  std::string hv = slurp(build_dir() / "hv.bin");
  Run on, off;
  uint64_t hv_image = 0, slb = 0, victim_ram = 0, dmacopy_ram = 0;

  Run run(const std::string& name, bool protection_off) {
    char seed[32];
    snprintf(seed, sizeof seed, "0x%llx", static_cast<unsigned long long>(kSeed));
    char hv_arg[96];
    snprintf(hv_arg, sizeof hv_arg, "dmacopy=2,hv-image+0x%llx,ram:attack+0x%llx,slb+0x%llx", (unsigned long long)kHvOffset,
             (unsigned long long)kVictimSecretGpa, (unsigned long long)kSlbOffset);
    // The victim first: the hypervisor checks each guest's RAM is DMA-protected when it loads it,
    // so with the test switch a victim loaded after the attacker's domain would be refused.
    std::vector<std::string> a = {"run", "--platform", "qemu", "--state", state.string(), "--out", (dir / name).string(),
                                  "--guest", "attack", "--guest", "dmacopy", "--assign-device", "dmacopy=00:02.0",
                                  "--guest-args", std::string("attack=1,") + seed, "--guest-args", hv_arg,
                                  "--qemu-arg=-device", "--qemu-arg=edu", "--qemu-arg=-trace",
                                  "--qemu-arg=amdvi_translation_result"};
    if (protection_off) a.push_back("--test-dma-maps-host");
    Run r;
    r.out = dir / name;
    r.cli = run_redoubt(a);
    BOOST_TEST_MESSAGE(name << ": exit " << r.cli.exit_code);
    if (fs::exists(r.out / "run.json")) r.run = json::parse(slurp(r.out / "run.json"));
    if (fs::exists(r.out / "launch.json")) r.launch = json::parse(slurp(r.out / "launch.json"));
    if (fs::exists(r.out / "pcrs.json")) r.pcrs = json::parse(slurp(r.out / "pcrs.json"));
    r.serial = slurp(r.out / "serial-dmacopy.txt");
    r.trace = slurp(r.out / "qemu-stderr.txt");
    static const std::regex line(R"(dmacopy-edu: landing for 0x([0-9a-f]+) hex ([0-9a-f]*)\n)");
    for (std::sregex_iterator it(r.serial.begin(), r.serial.end(), line), end; it != end; ++it) {
      const std::string h = (*it)[2];
      Bytes b;
      for (size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
      r.landed[std::stoull((*it)[1], nullptr, 16)] = b;
    }
    return r;
  }

  World() {
    on = run("protected", false);
    off = run("protection-off", true);
    const json& g = on.run["guests"];
    if (g.size() == 2) {
      victim_ram = std::stoull(g[0]["ram"]["base"].get<std::string>(), nullptr, 16);
      dmacopy_ram = std::stoull(g[1]["ram"]["base"].get<std::string>(), nullptr, 16);
    }
    hv_image = 0x01100000;  // platform/sim/loader.hpp LaunchLayout (checked against the console below)
    slb = 0x01000000;
  }

  // What each target holds, known here.
  std::vector<std::tuple<std::string, uint64_t, Bytes>> targets(const Run& r) const {
    return {{"the hypervisor image", hv_image + kHvOffset, slice(hv, kHvOffset, kXfer)},
            {"the victim guest's secret", victim_ram + kVictimSecretGpa, victim_secret(kSeed, kXfer)},
            {"the SLB", slb + kSlbOffset, slice(slurp(r.out / "slb.bin"), kSlbOffset, kXfer)}};
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dma_read, *utf::precondition(qemu_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(the_launch_runs_with_edu_assigned) {
  World& w = world();
  const Run& r = w.on;
  BOOST_TEST_REQUIRE(r.cli.exit_code == 0, r.cli.out + r.cli.err);
  BOOST_TEST(r.launch.value("platform", "") == "qemu");
  BOOST_TEST(!r.launch.contains("hv_test_image"));
  BOOST_TEST(r.run["hypervisor"].value("test_flags", "") == "0x0");
  BOOST_TEST(r.cli.out.find("bare-metal entry: image at 0x1100000") != std::string::npos);
  const json& g = r.run["guests"];
  BOOST_TEST_REQUIRE(g.size() == 2u);
  BOOST_TEST(g[0].value("name", "") == "attack");
  BOOST_TEST(g[1].value("name", "") == "dmacopy");
  BOOST_TEST(g[1].value("status", "") == "exited", g[1].dump());
  BOOST_TEST(g[1].value("exit_code", -1) == 0);
  // The assignment, as run.json shows it.
  BOOST_TEST_REQUIRE(g[1]["devices"].size() == 1u);
  BOOST_TEST(g[1]["devices"][0].value("device", "") == "00:02.0");
  BOOST_TEST(g[1]["devices"][0].value("bar0_gpa", "") == "0xfea00000");
  BOOST_TEST(g[1]["devices"][0].value("iova", "") == "GPA, this guest's RAM only");
  BOOST_TEST(g[0]["devices"].size() == 0u);
  BOOST_TEST(r.cli.out.find("[hv] guest dmacopy: device 00:02.0 assigned: I/O domain 2 maps its 8 MiB of RAM at IOVA = GPA 0, "
                            "BAR0 at GPA 0xfea00000") != std::string::npos);
  BOOST_TEST(r.cli.out.find("[hv] guest dmacopy: device 00:02.0 released: blocked, DTE and IOTLB invalidated, completion waited") !=
             std::string::npos);
  BOOST_TEST(r.serial.find("dmacopy: edu 00:02.0 at GPA 0xfea00000, ident 0x10000ed") != std::string::npos, r.serial);
}

BOOST_AUTO_TEST_CASE(positive_control_edu_copies_a_page_of_its_own_ram) {
  World& w = world();
  for (const Run* r : {&w.on, &w.off}) {
    BOOST_TEST(r->serial.find("dmacopy: edu COPY 4096 bytes GPA 0x200000 -> buffer -> 0x300000: done, the copy matches") !=
                   std::string::npos,
               r->serial);
    // Through AMD-Vi: edu's reads of GPA 0x200000.. were translated to dmacopy's own RAM (QEMU's
    // IOTLB keeps a translation that succeeded, so only the page's first access is traced).
    const auto [n, refused] = translations(r->trace, kControlGpa);
    BOOST_TEST(n >= 1);
    BOOST_TEST(refused == 0);
  }
  char want[96];
  snprintf(want, sizeof want, "gpa 0x200000 hpa 0x%llx", static_cast<unsigned long long>(w.dmacopy_ram + kControlGpa));
  BOOST_TEST(w.on.trace.find(want) != std::string::npos, want);
}

BOOST_AUTO_TEST_CASE(reads_of_the_hypervisor_another_guest_and_the_slb_are_blocked_and_nothing_leaked) {
  World& w = world();
  const Run& r = w.on;
  BOOST_TEST_REQUIRE(r.cli.exit_code == 0, r.cli.out + r.cli.err);
  BOOST_TEST_REQUIRE(w.victim_ram != 0u);
  for (const auto& [what, pa, secret] : w.targets(r)) {
    BOOST_TEST_CONTEXT(what << " at 0x" << std::hex << pa) {
      // Blocked: QEMU's AMD-Vi refused every one of edu's 512 four-byte reads (hpa 0x0; a refusal
      // is never cached, so each read is walked and traced) ...
      const auto [n, refused] = translations(r.trace, pa);
      BOOST_TEST(n == int(kXfer / 4));
      BOOST_TEST(refused == int(kXfer / 4));
      // ... edu's buffer held no byte of the secret: the guest's landing area got 2048 zeros
      // (QEMU completes a refused read with zeros; the canary the guest primed is gone).
      BOOST_TEST_REQUIRE(r.landed.count(pa) == 1u);
      const Bytes& got = r.landed.at(pa);
      BOOST_TEST(got.size() == kXfer);
      BOOST_TEST(sha256(got) == sha256(Bytes(kXfer, 0)));
      // Nothing leaked: the hashes differ, and no 32-byte chunk of the secret appears anywhere in
      // the guest's output (raw or as hex).
      BOOST_TEST(sha256(got) != sha256(secret));
      BOOST_TEST(!contains_chunk(r.serial, secret));
      BOOST_TEST(r.serial.find(lower_hex(Bytes(secret.begin(), secret.begin() + 32))) == std::string::npos);
    }
  }
  BOOST_TEST(r.serial.find("OTHER BYTES") == std::string::npos, r.serial);
  BOOST_TEST(slurp(r.out / "serial-attack.txt").find("victim: secret intact (0 words changed)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(with_the_test_image_that_does_not_confine_the_device_every_secret_leaks) {
  World& w = world();
  const Run& r = w.off;
  BOOST_TEST_REQUIRE(r.cli.exit_code == 0, r.cli.out + r.cli.err);
  // The switch is a test image: recorded in launch.json and the run record, and measured.
  BOOST_TEST(r.launch["hv_test_image"].value("flags", "") == "0x2000");
  BOOST_TEST(r.run["hypervisor"].value("test_flags", "") == "0x2000");
  BOOST_TEST(r.cli.out.find("[hv] TEST IMAGE: test switches 0x2000 built into this hv.bin") != std::string::npos);
  const std::string test_image = slurp(r.out / "hv-test.bin");
  BOOST_TEST(test_image.size() == w.hv.size());
  BOOST_TEST(test_image != w.hv);
  // PCR17 names the test image (its digest is in the log's hypervisor image event, the release
  // image's is not): a verifier with the release reference values says hv_digest_not_allowed.
  BOOST_TEST(r.pcrs["sha256"]["17"] != w.on.pcrs["sha256"]["17"]);
  BOOST_TEST(r.pcrs["sha256"]["18"] == w.on.pcrs["sha256"]["18"]);
  const std::string log = slurp(r.out / "eventlog.bin"), log_on = slurp(w.on.out / "eventlog.bin");
  auto digest = [](const std::string& s) {
    uint8_t d[32];
    SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), d);
    return std::string(reinterpret_cast<const char*>(d), 32);
  };
  BOOST_TEST(log.find(digest(test_image)) != std::string::npos);
  BOOST_TEST(log.find(digest(w.hv)) == std::string::npos);
  BOOST_TEST(log_on.find(digest(w.hv)) != std::string::npos);
  // Every secret arrived in the attacker's RAM, byte for byte.
  for (const auto& [what, pa, secret] : w.targets(r)) {
    BOOST_TEST_CONTEXT(what << " at 0x" << std::hex << pa) {
      const auto [n, refused] = translations(r.trace, pa);
      BOOST_TEST(n >= 1);  // translated once, then from QEMU's IOTLB
      BOOST_TEST(refused == 0);
      BOOST_TEST_REQUIRE(r.landed.count(pa) == 1u);
      BOOST_TEST(sha256(r.landed.at(pa)) == sha256(secret));
    }
  }
  BOOST_TEST(r.run["guests"][1]["devices"][0].value("iova", "").find("TEST ONLY") != std::string::npos);
}

// The exit digest (hypervisor/core/run_record.hpp) recomputed here: the victim's whole non-INTR
// exit sequence fits its 128-entry trace, so SHA-256 over (EXITCODE, EXITINFO1 with IOIO bits
// 12:7 cleared) as little-endian u64s must be the hypervisor's digest, for the count it gives.
BOOST_AUTO_TEST_CASE(the_exit_digest_is_the_sha256_of_the_whole_exit_sequence) {
  World& w = world();
  const json stats = json::parse(slurp(w.on.out / "stats.json"));
  int recomputed = 0;
  for (const auto& [name, g] : stats["guests"].items()) {
    BOOST_TEST_REQUIRE(g.contains("exit_digest"), name);
    const size_t count = g["exit_digest"]["count"].get<size_t>();
    if (count != g["exit_trace"].size()) {
      BOOST_TEST(count > 128u, name);  // dmacopy: thousands of yields while edu works
      continue;
    }
    std::vector<uint8_t> bytes;
    for (const json& e : g["exit_trace"]) {
      const std::string code = e["code"].get<std::string>();
      uint64_t v[2] = {0, std::stoull(e["info1"].get<std::string>(), nullptr, 16)};
      for (uint64_t c = 0; c < 0x500; ++c)
        if (code == svm::exit_code_name(c)) {
          v[0] = c;
          break;
        }
      BOOST_TEST_REQUIRE(v[0] != 0u, code);
      if (code == "IOIO") v[1] &= ~uint64_t{0x1F80};
      for (uint64_t x : v)
        for (int i = 0; i < 8; ++i) bytes.push_back(uint8_t(x >> (8 * i)));
    }
    BOOST_TEST(sha256(bytes) == g["exit_digest"]["sha256"].get<std::string>(), name);
    ++recomputed;
  }
  BOOST_TEST(recomputed == 1);  // the victim
  BOOST_TEST(stats["guests"]["attack"]["exit_digest"]["count"].get<int>() >= 3);
}

BOOST_AUTO_TEST_SUITE_END()

// Test images reach any hypervisor test switch under QEMU, not only the DMA one: the fail-closed
// path (hypervisor/core/fail_closed.hpp) on demand, which before ran only on native-sl. The
// hypervisor fails at its second slice, caps PCR17-20 with EV_REDOUBT_HV_FAILED (0x6FE) and
// powers off as hv_failed; the log, replayed here, gives pcrs.json.
BOOST_AUTO_TEST_SUITE(test_images, *utf::precondition(qemu_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(the_fail_closed_path_runs_under_qemu_from_a_test_image) {
  TempDir d;
  const fs::path out = d / "run";
  CliResult r = run_redoubt({"run", "--platform", "qemu", "--state", (d / "state").string(), "--out", out.string(), "--guest",
                             "sha256", "--guest", "hello", "--test-hv-fail-after", "1"});
  BOOST_TEST(r.exit_code == 1, r.out + r.err);
  BOOST_TEST(r.out.find("REFUSED at hypervisor: internal: TEST ONLY: injected hypervisor failure at slice 2") != std::string::npos,
             r.out);
  const json launch = json::parse(slurp(out / "launch.json")), run = json::parse(slurp(out / "run.json"));
  BOOST_TEST(launch["hv_test_image"].value("flags", "") == "0x10020");  // kBareFlagInjectFailure | 1 << 16
  BOOST_TEST(run["hypervisor"].value("failed", false));
  BOOST_TEST(run["hypervisor"].value("failure", "") == "internal: TEST ONLY: injected hypervisor failure at slice 2");
  BOOST_TEST(run["hypervisor"].value("test_flags", "") == "0x10020");
  const std::string raw = slurp(out / "eventlog.bin");
  const policy::EventLog log = policy::parse_event_log(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  std::set<uint32_t> capped;
  for (const policy::LogEvent& e : log.events)
    if (e.type == 0x6FE) capped.insert(e.pcr);
  BOOST_TEST((capped == std::set<uint32_t>{17, 18, 19, 20}));
  const auto replayed = policy::replay_event_log(log);
  const json pcrs = json::parse(slurp(out / "pcrs.json"));
  for (uint32_t p : {17u, 18u, 19u, 20u})
  {
    std::string want = pcrs["sha256"].value(std::to_string(p), "");
    for (char& c : want) c = char(std::tolower(static_cast<unsigned char>(c)));
    BOOST_TEST(lower_hex(replayed.at(HashAlg::sha256).at(p)) == want, p);
  }
}

BOOST_AUTO_TEST_SUITE_END()
