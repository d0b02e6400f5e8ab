// Faults inside guest execution return to the run loop without C++ exception unwinding
// (Cpu::raise, docs/simulator-cpu.md "Faults"): #NPF and guest #PF are counted at
// __cxa_throw, which this test interposes, and must be 0; outside run() the same fault is
// still thrown (the counter sees it, so it would see the run loop's too).
#define BOOST_TEST_MODULE svm_fault_path
#include <cxxabi.h>
#include <dlfcn.h>

#include <boost/test/unit_test.hpp>
#include <typeinfo>

#include "tests/platform/sim/svm/guest_env.hpp"

namespace {
int g_throws = 0;
}

// Every C++ throw in this process passes here before libstdc++'s own __cxa_throw.
namespace __cxxabiv1 {
extern "C" void __cxa_throw(void* obj, std::type_info* type, void (*dest)(void*)) {
  ++g_throws;
  using Fn = void (*)(void*, std::type_info*, void (*)(void*));
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  real(obj, type, dest);
  __builtin_unreachable();
}
}  // namespace __cxxabiv1

using namespace redoubt;
using namespace redoubt::x86;
namespace cpu = redoubt::sim::cpu;
using redoubt::test::GuestEnv;

BOOST_AUTO_TEST_CASE(npf_exits_without_a_cxx_throw) {
  GuestEnv g("npf");
  const uint64_t pt = g.guest_map(0x40000000, 0x300000, 12, kPtePresent | kPteWrite);
  g.nested_unmap_4k(pt);
  g.guest_map(0x40201000, 0x900000, 12, kPtePresent | kPteWrite);  // beyond the nested map (8 MiB)
  g_throws = 0;
  g.run();  // #NPF during the guest's page walk
  BOOST_TEST(g.exitcode() == svm::kExitNpf);
  BOOST_TEST(g.vmcb().control.exitinfo1 == (svm::npf::kPageWalk | svm::npf::kUser));
  BOOST_TEST(g.vmcb().control.exitinfo2 == pt + pt_index(0x40000000) * 8);
  BOOST_TEST(g.vmcb().save.rip == g.step(0));
  g.restart_at(1);
  g.run();  // #NPF on the final address
  BOOST_TEST(g.exitcode() == svm::kExitNpf);
  BOOST_TEST(g.vmcb().control.exitinfo2 == 0x900000u);
  BOOST_TEST(g_throws == 0);
}

BOOST_AUTO_TEST_CASE(guest_page_fault_is_delivered_without_a_cxx_throw) {
  GuestEnv g("paging");
  g.guest_map(0x500000, 0x500000, 12, kPtePresent);
  g.guest_map(0x600000, 0x600000, 12, kPtePresent | kPteWrite | kPteNx);
  g.guest_map(0x80000000, 0x400000, 21, kPtePresent | kPteWrite);
  g.guest_map(0xC0000000, 0x0, 30, kPtePresent | kPteWrite);
  g_throws = 0;
  g.run();  // #PF (not present) delivered through the guest's IDT, then VMMCALL
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.result(0) == 14u);
  BOOST_TEST(g.result(2) == 0x7000000000ull);  // CR2
  BOOST_TEST(g_throws == 0);
}

BOOST_AUTO_TEST_CASE(outside_run_the_fault_is_thrown) {
  GuestEnv g("npf");
  const uint64_t pt = g.guest_map(0x40000000, 0x300000, 12, kPtePresent | kPteWrite);
  g.nested_unmap_4k(pt);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitNpf);
  // Translate from C++ with the guest's controls loaded again, as a debugger would: no run loop.
  cpu::Cpu& c = g.svm.cpu();
  c.guest = true;
  c.ctl.np = true;
  c.ctl.ncr3 = g.vmcb().control.n_cr3;
  c.cr3 = g.vmcb().save.cr3;
  c.tlb_flush_all();
  g_throws = 0;
  uint64_t gpa = 0;
  try {
    c.translate(0x40000000, cpu::kRead);
  } catch (const cpu::NestedFault& f) {
    gpa = f.gpa;
  }
  BOOST_TEST(g_throws == 1);
  BOOST_TEST(gpa == pt + pt_index(0x40000000) * 8);
  c.guest = false;
  c.ctl = cpu::GuestControls{};
}
