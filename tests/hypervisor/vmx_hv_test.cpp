// The hypervisor's VMX backend (hypervisor/arch/vmx): the same hv.bin, executed by a
// simulated Intel CPU (VT-x with EPT, no SVM; `redoubt run --engine native-sl
// --test-sim-intel`), picks VMX at run time from CPUID and runs the same guests with the
// same serial output as on the AMD model; EPT violations, triple faults and hostile
// hypercalls end only the guest that caused them. docs/intel.md, docs/hypervisor.md.
#define BOOST_TEST_MODULE vmx_hv
#include <boost/test/unit_test.hpp>

#include "hypervisor/core/entry.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

constexpr uint64_t kAttackHcall = 7, kAttackExc = 11;  // guests/attack/attack.c modes

std::unique_ptr<GuestRun> run_on(bool intel, tools::RunOptions o, const fs::path* state = nullptr,
                                 const fs::path* policy = nullptr) {
  o.launch.engine = "native-sl";
  o.launch.sim_intel_cpu = intel;
  return run_in_state(std::move(o), state, policy);
}

}  // namespace

BOOST_AUTO_TEST_CASE(demo_guests_print_the_same_on_vmx_as_on_svm) {
  TempDir shared;
  const fs::path state = shared / "state";
  auto amd = run_on(false, tools::RunOptions{}, &state);
  const fs::path policy = amd->dir / "out/launch.policy";
  auto intel = run_on(true, tools::RunOptions{}, &state, &policy);
  for (const auto& l : intel->console) BOOST_TEST_MESSAGE(l);
  BOOST_TEST_REQUIRE(amd->result.ran);
  BOOST_TEST_REQUIRE(intel->result.ran, intel->result.launch.report.reason);
  BOOST_TEST(intel->result.hv_status == "ok");
  // The same hv.bin chose the backend from CPUID.
  BOOST_TEST(console_has(*intel, "[hv] Intel VT-x: VMX root operation, guests on EPT with VPID"));
  BOOST_TEST(!console_has(*amd, "[hv] Intel VT-x"));
  BOOST_TEST(console_has(*intel, "VPID 1, EPT 0x"));
  const auto& a = amd->result.guests;
  const auto& b = intel->result.guests;
  BOOST_TEST_REQUIRE(a.size() == 4u);
  BOOST_TEST_REQUIRE(b.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST_CONTEXT("guest " << a[i].name) {
      BOOST_TEST(b[i].name == a[i].name);
      BOOST_TEST(b[i].status == "exited", b[i].reason);
      BOOST_TEST(b[i].exit_code == a[i].exit_code);
      BOOST_TEST(!b[i].serial.empty());
      BOOST_TEST(without_tsc_line(b[i].serial) == without_tsc_line(a[i].serial));
      BOOST_TEST(b[i].scrubbed);
      BOOST_TEST(b[i].hypercalls == a[i].hypercalls);
      // Exit codes in the record are VMX basic reasons | 0x10000 (hypervisor/arch/vmx/vmx_vcpu.hpp).
      BOOST_TEST_REQUIRE(!b[i].exit_trace.empty());
      for (const auto& [code, info] : b[i].exit_trace) BOOST_TEST((code >> 16) == 1u, "exit code 0x" << std::hex << code);
    }
  }
  // The probe guest's accesses outside its RAM were EPT violations turned into #PF (policy inject),
  // as many as the #NPFs on SVM: the same serial output says each was seen as a #PF.
  const auto& pa = amd->guest("probe");
  const auto& pb = intel->guest("probe");
  BOOST_TEST(pb.violation_count == pa.violation_count);
  BOOST_TEST(pb.violation_count > 0u);
  // The launch is the same (native SL, same hv.bin, same guests): PCR17-20 equal in every bank;
  // PCR19/20 (the guests' chains and manifests) do not depend on the vendor.
  for (const auto& [bank, pcrs] : amd->result.launch.pcrs)
    for (uint32_t pcr : {17u, 18u, 19u, 20u}) {
      BOOST_TEST_INFO("bank " << hash_alg_name(bank) << " PCR" << pcr);
      BOOST_TEST((intel->result.launch.pcrs.at(bank).at(pcr) == pcrs.at(pcr)));
    }
}

BOOST_AUTO_TEST_CASE(ept_violation_and_triple_fault_end_only_that_guest) {
  tools::RunOptions o;
  // attack mode 11: UD2 with an empty IDT (the #UD exit, re-injected, cannot be delivered: #DF,
  // then a triple fault, SDM vol. 3A §6.15), and an IDT outside its RAM (the #UD's IDT read is an
  // EPT violation on the guest's own descriptor-table access).
  o.guests = {"attack", "attack", "hello"};
  o.guest_args = {{0, {kAttackExc, 0, 0, 0}}, {1, {kAttackExc, 1, 0, 0}}};
  o.npf = "kill";
  auto r = run_on(true, o);
  BOOST_TEST_REQUIRE(r->result.ran, r->result.launch.report.reason);
  BOOST_TEST(r->result.hv_status == "ok");
  const auto& g = r->result.guests;
  BOOST_TEST_REQUIRE(g.size() == 3u);
  BOOST_TEST(g[0].status == "killed");
  BOOST_TEST(g[0].reason.find("triple fault (VM exit: triple fault) at RIP") == 0u, g[0].reason);
  BOOST_TEST(g[1].status == "killed");
  BOOST_TEST(g[1].reason.find("EPT violation: read of guest-physical 0x7ff00") == 0u, g[1].reason);
  BOOST_TEST(g[1].has_fault);
  BOOST_TEST(g[1].violation_count == 1u);
  BOOST_TEST(g[2].status == "exited");
  BOOST_TEST(g[2].exit_code == 0);
  BOOST_TEST(g[2].serial.find("Hello, world!\n") != std::string::npos);
  for (const auto& x : g) BOOST_TEST(x.scrubbed);
}

BOOST_AUTO_TEST_CASE(wild_hypercall_pointers_are_refused_on_vmx) {
  tools::RunOptions o;
  // attack mode 7 with mask 1: console_write/get_launch_info with buffers at host-physical
  // addresses (args 1, 2: RAM no one uses in this layout, so the protection-off run below harms
  // nothing), non-canonical, unmapped and wrapping ones: each must be -EFAULT.
  o.guests = {"attack", "hello"};
  o.guest_args = {{0, {kAttackHcall, 0x3100000, 0x3000000, 1}}};
  auto r = run_on(true, o);
  BOOST_TEST_REQUIRE(r->result.ran, r->result.launch.report.reason);
  const auto& a = r->result.guests.at(0);
  BOOST_TEST(a.status == "exited", a.reason);
  BOOST_TEST(a.exit_code == 0);
  BOOST_TEST(a.serial.find("hc: 0 unexpected results") != std::string::npos, a.serial);
  BOOST_TEST(a.serial.find("UNEXPECTED") == std::string::npos, a.serial);
  BOOST_TEST(a.hypercalls >= 7u);
  BOOST_TEST(r->result.guests.at(1).status == "exited");
  BOOST_TEST(r->result.guests.at(1).serial.find("Hello, world!\n") != std::string::npos);

  // With the protection off (test-only kHvTestHypercallPhysical: the guest's pointers taken as
  // host-physical) the same guest on VMX reaches host memory: its checks see it.
  o.launch.hv_test_flags = hv::kHvTestHypercallPhysical;
  auto off = run_on(true, o);
  BOOST_TEST_REQUIRE(off->result.ran, off->result.launch.report.reason);
  const auto& b = off->result.guests.at(0);
  // The four calls with host-physical buffers now succeed (console_write read 64 bytes of host RAM
  // into its output, get_launch_info wrote host RAM); the non-canonical, unmapped and wrapping
  // ones still fault: exit code = 4 results that were not stopped.
  BOOST_TEST(b.status == "exited", b.reason);
  BOOST_TEST(b.exit_code == 4);
}
