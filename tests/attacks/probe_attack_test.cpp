// The probe guest attacks hypervisor memory, another guest's RAM and the TPM
// at locality 2. Every attempt must be stopped (#NPF -> #PF injected, or the
// probe killed), run.json must name the address and the reason, and no byte
// of the hypervisor (image, memory), the SLB or the other guest may change
// while the probe runs (hashed before and after each probe VMRUN).
#define BOOST_TEST_MODULE probe_attack
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "tests/hypervisor/npt_walk.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

constexpr uint64_t kTpmLoc2 = 0xFED42000;

struct Watch {
  struct Region {
    std::string what;
    uint64_t a, n;
  };
  std::vector<Region> regions;
  std::vector<uint64_t> skip_pages;  // pages the running probe legitimately changes (its VMCB, its NPT)
  std::map<std::string, Bytes> before;  // bytes just before the probe's VMRUN
  int npf_exits_checked = 0;
  int changed = 0;
  std::vector<std::string> changes;
  Bytes snap;

  Bytes bytes(sim::Machine& m, const Region& r) const {
    Bytes b = m.mem().read(r.a, r.n);
    for (uint64_t p : skip_pages)
      if (p >= r.a && p < r.a + r.n) std::fill(b.begin() + (p - r.a), b.begin() + (p - r.a) + 4096, 0);
    return b;
  }
};

uint64_t exitcode(sim::Machine& m, uint64_t vmcb) {
  svm::Vmcb v;
  std::memcpy(&v, m.mem().map(vmcb, sizeof v), sizeof v);
  return v.control.exitcode;
}

}  // namespace

BOOST_AUTO_TEST_CASE(probe_is_stopped_on_every_attempt_and_changes_nothing) {
  sim::LaunchLayout L;
  // Guests: hello first (its RAM is the probe's "other guest"), then probe.
  Watch w;
  uint64_t probe_vmcb = 0;
  tools::RunOptions o;
  o.guests = {"hello", "probe"};
  o.on_vmrun = [&](sim::Machine& m, uint64_t vmcb, bool after) {
    if (!probe_vmcb) {
      // The probe is guest 1: the second VMCB the hypervisor runs.
      static std::vector<uint64_t> order;
      if (std::find(order.begin(), order.end(), vmcb) == order.end()) order.push_back(vmcb);
      if (order.size() < 2 || vmcb != order[1]) return;
      probe_vmcb = vmcb;
      w.skip_pages.push_back(vmcb);
      npt_table_pages(m, vmcb_ncr3(m, vmcb), 4, w.skip_pages);
    }
    if (vmcb != probe_vmcb) return;
    if (!after) {
      if (getenv("PROBE_DEBUG")) w.snap = m.mem().read(L.hv_memory, L.hv_memory_size);
      for (const auto& r : w.regions) w.before[r.what] = w.bytes(m, r);
      return;
    }
    if (exitcode(m, vmcb) != svm::kExitNpf) return;
    ++w.npf_exits_checked;
    // SHA-256 of each region (minus the probe's own VMCB and NPT pages) before
    // and after the VMRUN that ended in this #NPF.
    for (const auto& r : w.regions) {
      const std::string h0 = hex(sha("SHA256", w.before[r.what])), h1 = hex(sha("SHA256", w.bytes(m, r)));
      if (h0 != h1) {
        ++w.changed;
        w.changes.push_back(r.what);
      }
    }
    if (getenv("PROBE_DEBUG")) {
      Bytes cur = m.mem().read(L.hv_memory, L.hv_memory_size);
      for (size_t pg = 0; pg < cur.size(); pg += 4096)
        if (memcmp(cur.data() + pg, w.snap.data() + pg, 4096)) {
          size_t off = pg;
          while (cur[off] == w.snap[off]) ++off;
          BOOST_TEST_MESSAGE("page differs in the VMRUN: " << std::hex << L.hv_memory + pg << " first at +"
                                                            << off - pg);
        }
    }
  };
  // Regions are known before the run (default layout: hello's RAM is the first guest RAM).
  uint64_t hv_size = fs::file_size(build_dir() / "hv.bin");
  w.regions = {{"hypervisor image", L.hv_image, hv_size},
               {"hypervisor memory", L.hv_memory, L.hv_memory_size},
               {"SLB", L.slb_base, 0x10000},
               {"other guest (hello) RAM", L.guest_ram, 8u << 20}};
  auto r = run_guests(o);
  for (const auto& l : r->console) BOOST_TEST_MESSAGE(l);
  BOOST_REQUIRE(r->result.ran);
  const auto& p = r->guest("probe");
  const uint64_t hello_ram = r->guest("hello").ram_pa;
  BOOST_TEST(hello_ram == L.guest_ram);

  // Every attempt stopped with #PF, in order, at the documented addresses.
  BOOST_TEST(p.status == "exited");
  BOOST_TEST(p.exit_code == 0);  // attempts not stopped
  BOOST_TEST(p.serial.find("probe: 6/6 attempts stopped\n") != std::string::npos, p.serial);
  BOOST_TEST(p.serial.find("NOT STOPPED") == std::string::npos);
  const uint64_t want[6] = {L.hv_memory, L.hv_memory + 0x40, hello_ram, hello_ram + 0x100000, kTpmLoc2, kTpmLoc2};
  const char* access[6] = {"read", "write", "read", "write", "read", "write"};
  BOOST_REQUIRE_EQUAL(p.violations.size(), 6u);
  BOOST_TEST(p.violation_count == 6u);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(p.violations[i].gpa == want[i]);
    BOOST_TEST(p.violations[i].access == access[i]);
    BOOST_TEST(p.violations[i].action == "injected #PF");
    BOOST_TEST((p.violations[i].info & svm::npf::kFinalAddress) != 0u);
  }
  BOOST_TEST(p.exits.at("NPF") == 6u);

  // Nothing outside the probe changed while it ran.
  BOOST_TEST(w.npf_exits_checked == 6);
  BOOST_TEST(w.changed == 0);
  for (const auto& c : w.changes) BOOST_TEST_MESSAGE("changed: " << c);
  BOOST_TEST(w.changes.empty(), (w.changes.empty() ? std::string() : w.changes[0]));
  // The other guest was not disturbed.
  BOOST_TEST(r->guest("hello").status == "exited");
  BOOST_TEST(r->guest("hello").serial.find("Hello, world!\n") != std::string::npos);

  // run.json names the addresses and the reason.
  std::ifstream f(r->result.launch.out_dir / "run.json");
  auto j = nlohmann::json::parse(f);
  const auto& pj = j["guests"][1];
  BOOST_TEST(pj["name"] == "probe");
  BOOST_TEST(pj["violations"].size() == 6u);
  BOOST_TEST(pj["violations"][0]["address"] == "0x4000000");
  BOOST_TEST(pj["violations"][4]["address"] == "0xfed42000");
  BOOST_TEST(pj["violations"][5]["access"] == "write");
}

BOOST_AUTO_TEST_CASE(probe_is_killed_with_the_address_under_the_kill_policy) {
  sim::LaunchLayout L;
  tools::RunOptions o;
  o.guests = {"hello", "probe"};
  o.npf = "kill";
  auto r = run_guests(o);
  const auto& p = r->guest("probe");
  BOOST_TEST(p.status == "killed");
  BOOST_TEST(p.has_fault);
  BOOST_TEST(p.fault_gpa == L.hv_memory);
  BOOST_TEST(p.reason.find("#NPF: read of guest-physical 0x4000000") != std::string::npos, p.reason);
  BOOST_TEST(p.serial.find("stopped") == std::string::npos);  // it never got past the first attempt
  BOOST_TEST(r->guest("hello").status == "exited");
  std::ifstream f(r->result.launch.out_dir / "run.json");
  auto j = nlohmann::json::parse(f);
  BOOST_TEST(j["guests"][1]["status"] == "killed");
  BOOST_TEST(j["guests"][1]["fault_address"] == "0x4000000");
  BOOST_TEST(j["guests"][1]["reason"].get<std::string>().find("#NPF") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(each_target_alone_is_stopped_under_the_kill_policy) {
  // The probe starts at attempt k (args[3]); under "kill" it must die exactly there.
  sim::LaunchLayout L;
  const struct {
    uint64_t first;
    uint64_t addr;
    const char* access;
  } cases[] = {{0, L.hv_memory, "read"},        {1, L.hv_memory + 0x40, "write"},
               {2, L.guest_ram, "read"},        {3, L.guest_ram + 0x100000, "write"},
               {4, kTpmLoc2, "read"},           {5, kTpmLoc2, "write"}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("attempt " << c.first) {
      tools::RunOptions o;
      o.guests = {"hello", "probe"};
      o.npf = "kill";
      o.probe_first = c.first;
      auto r = run_guests(o);
      const auto& p = r->guest("probe");
      BOOST_TEST(p.status == "killed");
      BOOST_TEST(p.fault_gpa == c.addr);
      BOOST_REQUIRE_EQUAL(p.violations.size(), 1u);
      BOOST_TEST(p.violations[0].access == c.access);
      BOOST_TEST(p.violations[0].action == "killed");
      char want[96];
      snprintf(want, sizeof want, "#NPF: %s of guest-physical 0x%llx", c.access, (unsigned long long)c.addr);
      BOOST_TEST(p.reason.find(want) != std::string::npos, p.reason);
      BOOST_TEST(r->guest("hello").status == "exited");
    }
  }
}
