// The hypervisor running real guest code on the simulated CPU's SVM model,
// after a real measured launch: serial output, SHA-256 against OpenSSL,
// CPUID masking, the mmu guest's paging and timer, NPT isolation, run.json.
#define BOOST_TEST_MODULE hypervisor_guests
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "hypervisor/core/page_table.hpp"
#include "hypervisor/core/vm.hpp"
#include "tests/hypervisor/npt_walk.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

// One default run (hello, sha256, mmu, probe) shared by the read-only checks.
const GuestRun& default_run() {
  static std::unique_ptr<GuestRun> r = run_guests(tools::RunOptions{});
  return *r;
}

std::string expected_sha256(uint64_t n) {
  Bytes buf(n);
  for (uint64_t i = 0; i < n; ++i) buf[i] = uint8_t((i * 7 + 3) & 0xff);
  return hex(sha("SHA256", buf));
}

}  // namespace

BOOST_AUTO_TEST_CASE(launch_then_all_default_guests_run) {
  const GuestRun& r = default_run();
  for (const auto& l : r.console) BOOST_TEST_MESSAGE(l);
  BOOST_REQUIRE(r.result.launch.report.launched);
  BOOST_REQUIRE(r.result.ran);
  BOOST_TEST(r.result.hv_status == "ok");
  BOOST_REQUIRE_EQUAL(r.result.guests.size(), 4u);
  BOOST_TEST(r.guest("hello").status == "exited");
  BOOST_TEST(r.guest("hello").exit_code == 0);
  BOOST_TEST(r.guest("sha256").status == "exited");
  BOOST_TEST(r.guest("mmu").status == "exited");
  BOOST_TEST(r.guest("mmu").exit_code == 0);
}

BOOST_AUTO_TEST_CASE(hello_prints_its_line) {
  const auto& g = default_run().guest("hello");
  BOOST_TEST(g.serial.find("Hello from guest 0 (hello) of 4, 8 MiB RAM\n") != std::string::npos);
  BOOST_TEST(g.serial.find("Hello, world!\n") != std::string::npos);
  BOOST_TEST(g.serial.find("hello: console hypercall works\n") != std::string::npos);
  BOOST_TEST(g.serial.find("launch: hypervisor 0.1.0 SVN 1, guest id 0\n") != std::string::npos);
  // Streamed with a prefix on the console.
  bool streamed = false;
  for (const auto& l : default_run().console) streamed |= l == "[hello] Hello, world!";
  BOOST_TEST(streamed);
}

BOOST_AUTO_TEST_CASE(sha256_guest_matches_openssl) {
  const auto& g = default_run().guest("sha256");
  const std::string want = "sha256(1048576)=" + expected_sha256(1 << 20) + "\n";
  BOOST_TEST(g.serial.find(want) != std::string::npos, "serial: " << g.serial << " want " << want);
  BOOST_TEST(g.exit_code == 0);
  BOOST_TEST(g.instructions > 1000000u);
  // Preempted round robin: the host timer (INTR) ended many of its quanta.
  BOOST_TEST(g.exits.at("INTR") > 100u);
}

BOOST_AUTO_TEST_CASE(cpuid_masking_is_visible_to_the_guest) {
  const auto& g = default_run().guest("hello");
  BOOST_TEST(g.serial.find("cpuid: vendor=AuthenticAMD hypervisor=0 svm=0 hvleaf=\"\" "
                           "brand=\"Redoubt virtual CPU (x86-64, AMD-V simulated)\"") != std::string::npos,
             g.serial);
  BOOST_TEST(g.exits.at("CPUID") >= 6u);
  tools::RunOptions o;
  o.guests = {"hello"};
  o.cpuid_unmasked = true;
  auto u = run_guests(o);
  BOOST_TEST(u->guest("hello").serial.find("cpuid: vendor=AuthenticAMD hypervisor=1 svm=1 hvleaf=\"RedoubtHV\"") !=
             std::string::npos, u->guest("hello").serial);
}

BOOST_AUTO_TEST_CASE(mmu_guest_pages_and_takes_timer_interrupts) {
  const auto& g = default_run().guest("mmu");
  BOOST_TEST(g.serial.find("mmu: demand-paged 4 pages at 0x40000000 with 4 #PF, aliases match\n") != std::string::npos,
             g.serial);
  BOOST_TEST(g.serial.find("mmu: after INVLPG the unmapped page faulted 1 time(s) (cr2=0x40000010)\n") !=
             std::string::npos);
  BOOST_TEST(g.serial.find("mmu: timer: 5 interrupts on vector 0x30\n") != std::string::npos);
  BOOST_TEST(g.serial.find("mmu: all checks passed\n") != std::string::npos);
  BOOST_TEST(g.timer_irqs >= 5u);
  BOOST_TEST(g.exit_code == 0);
}

BOOST_AUTO_TEST_CASE(run_json_and_stats_json_are_written) {
  const GuestRun& r = default_run();
  const fs::path out = r.result.launch.out_dir;
  std::ifstream rf(out / "run.json"), sf(out / "stats.json");
  auto run = nlohmann::json::parse(rf);
  auto stats = nlohmann::json::parse(sf);
  BOOST_REQUIRE_EQUAL(run["guests"].size(), 4u);
  BOOST_TEST(run["guests"][0]["name"] == "hello");
  BOOST_TEST(run["guests"][0]["status"] == "exited");
  BOOST_TEST(run["guests"][0]["exit_code"] == 0);
  BOOST_TEST(run["launch"]["status"] == "launched");
  BOOST_TEST(fs::exists(out / "serial-hello.txt"));
  BOOST_TEST(read_file(out / "serial-sha256.txt").size() == r.guest("sha256").serial.size());
  BOOST_TEST(stats["guests"]["hello"]["exits"]["IOIO"].get<uint64_t>() > 100u);
  BOOST_TEST(stats["guests"]["sha256"]["instructions_retired"].get<uint64_t>() > 1000000u);
  BOOST_TEST(stats["guests"]["sha256"]["npt_walk_refs"].get<uint64_t>() > 0u);
  BOOST_TEST(stats["guests"]["sha256"]["tlb_hits"].get<uint64_t>() > 0u);
  BOOST_TEST(fs::exists(out / "launch.json"));
  BOOST_TEST(fs::exists(out / "pcrs.json"));
}

// Walk every guest's nested page tables: each leaf lies inside that guest's
// own RAM, and nothing maps the hypervisor (image and memory), the SLB, the
// boot params / event log / guest table, another guest, or the TPM MMIO at
// any locality 1-4.
BOOST_AUTO_TEST_CASE(npt_walk_proves_forbidden_ranges_unmapped) {
  struct Seen {
    uint64_t vmcb, ncr3;
    std::vector<hv::Leaf> leaves;
  };
  std::map<uint64_t, Seen> seen;
  tools::RunOptions o;
  o.on_vmrun = [&](sim::Machine& m, uint64_t vmcb, bool after) {
    if (after || seen.count(vmcb)) return;
    uint64_t ncr3 = vmcb_ncr3(m, vmcb);
    seen[vmcb] = Seen{vmcb, ncr3, npt_leaves(m, ncr3)};
  };
  auto r = run_guests(o);
  BOOST_REQUIRE_EQUAL(r->result.guests.size(), 4u);
  BOOST_REQUIRE_EQUAL(seen.size(), 4u);
  sim::LaunchLayout L;
  struct Range {
    const char* what;
    uint64_t a, n;
  };
  std::vector<Range> forbidden = {
      {"hypervisor image", L.hv_image, r->result.hv_image_size},
      {"hypervisor memory", L.hv_memory, L.hv_memory_size},
      {"SLB", L.slb_base, 0x10000},
      {"boot params + event log + guest table", L.boot_params, 0x20000},
      {"manifest", L.manifest, 0x10000},
      {"guest images", L.guest_images, L.hv_memory - L.guest_images},
  };
  for (uint64_t loc = 1; loc <= 4; ++loc) forbidden.push_back({"TPM locality", 0xFED40000ull + 0x1000 * loc, 0x1000});
  for (const auto& g : r->result.guests) {
    BOOST_TEST_CONTEXT("guest " << g.name) {
      BOOST_REQUIRE(seen.count(g.vmcb_pa));
      const Seen& s = seen[g.vmcb_pa];
      BOOST_TEST(s.ncr3 == g.npt_root);
      uint64_t total = 0;
      for (const hv::Leaf& l : s.leaves) {
        total += l.size;
        BOOST_TEST(l.pa >= g.ram_pa);
        BOOST_TEST(l.pa + l.size <= g.ram_pa + g.ram_size);
        BOOST_TEST(l.va == l.pa - g.ram_pa);  // guest-physical 0 = start of its RAM
        for (const Range& f : forbidden) BOOST_TEST(!(l.pa < f.a + f.n && f.a < l.pa + l.size), f.what);
        for (const auto& other : r->result.guests)
          if (other.name != g.name)
            BOOST_TEST(!(l.pa < other.ram_pa + other.ram_size && other.ram_pa < l.pa + l.size), other.name);
      }
      BOOST_TEST(total == g.ram_size);  // exactly its RAM, nothing more
      BOOST_TEST(s.leaves.size() == g.ram_size / (2u << 20));  // 2 MiB pages
    }
  }
}
