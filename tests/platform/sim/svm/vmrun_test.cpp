// The minimal VMRUN path and the VMRUN consistency checks (APM vol. 2 §15.5.1).
#define BOOST_TEST_MODULE svm_vmrun
#include <boost/test/unit_test.hpp>

#include "tests/platform/sim/svm/guest_env.hpp"

using namespace redoubt;
using redoubt::test::GuestEnv;

BOOST_AUTO_TEST_CASE(long_mode_guest_under_nested_paging_exits_on_ioio_vmmcall_hlt) {
  GuestEnv g("basic");
  g.set_io_intercept(0x3F8);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitIoio);
  // OUT DX, AL: port 0x3F8, 8-bit, 64-bit addressing, type OUT.
  BOOST_TEST(g.vmcb().control.exitinfo1 == ((0x3F8ull << 16) | svm::ioio::kSz8 | svm::ioio::kA64));
  BOOST_TEST(g.vmcb().save.rax == 4951u);
  const uint64_t out_rip = g.vmcb().save.rip;
  BOOST_TEST(g.vmcb().control.next_rip == out_rip + 1);
  BOOST_TEST(g.vmcb().control.exitinfo2 == out_rip + 1);
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.vmcb().save.rax == 0x1234u);
  BOOST_TEST(g.vmcb().control.next_rip == g.vmcb().save.rip + 3);
  BOOST_TEST(g.svm.gprs(GuestEnv::kVmcb).r[3] == 4951u);  // RBX kept for the hypervisor
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitHlt);
  BOOST_TEST(g.vmcb().control.next_rip == g.vmcb().save.rip + 1);
  BOOST_TEST(g.svm.counters().exits[svm::kExitIoio] == 1u);
  BOOST_TEST(g.svm.counters().per_asid[1].instructions > 400u);
}

namespace {
struct Case {
  const char* name;
  void (*mutate)(svm::Vmcb&);
};
const Case kInvalid[] = {
    {"EFER.SVME=0", [](svm::Vmcb& v) { v.save.efer &= ~x86::kEferSvme; }},
    {"CR0.CD=0 NW=1", [](svm::Vmcb& v) { v.save.cr0 |= 1ull << 29; }},
    {"CR0[63:32]", [](svm::Vmcb& v) { v.save.cr0 |= 1ull << 40; }},
    {"CR3 MBZ", [](svm::Vmcb& v) { v.save.cr3 |= 1ull << 60; }},
    {"CR4 MBZ", [](svm::Vmcb& v) { v.save.cr4 |= 1ull << 40; }},
    {"DR6[63:32]", [](svm::Vmcb& v) { v.save.dr6 |= 1ull << 32; }},
    {"DR7[63:32]", [](svm::Vmcb& v) { v.save.dr7 |= 1ull << 33; }},
    {"EFER MBZ", [](svm::Vmcb& v) { v.save.efer |= 1ull << 20; }},
    {"LME PG !PAE", [](svm::Vmcb& v) { v.save.cr4 &= ~x86::kCr4Pae; }},
    {"LME PG !PE", [](svm::Vmcb& v) { v.save.cr0 &= ~x86::kCr0Pe; }},
    {"CS.L and CS.D", [](svm::Vmcb& v) { v.save.cs.attrib |= 1u << 10; }},
    {"VMRUN intercept clear", [](svm::Vmcb& v) { v.control.intercept_misc2 &= ~svm::kInterceptVmrun; }},
    {"ASID 0", [](svm::Vmcb& v) { v.control.guest_asid = 0; }},
    {"EVENTINJ type 1", [](svm::Vmcb& v) { v.control.eventinj = svm::event_inj::kValid | (1ull << 8) | 13; }},
    {"EVENTINJ exception vector 2", [](svm::Vmcb& v) { v.control.eventinj = svm::event_inj::kValid | (3ull << 8) | 2; }},
    {"IOPM beyond memory", [](svm::Vmcb& v) { v.control.iopm_base_pa = 64ull << 20; }},
    {"MSRPM beyond memory", [](svm::Vmcb& v) { v.control.msrpm_base_pa = (64ull << 20) - 4096; }},
};
}  // namespace

BOOST_AUTO_TEST_CASE(inconsistent_state_gives_vmexit_invalid) {
  for (const Case& c : kInvalid) {
    BOOST_TEST_CONTEXT(c.name) {
      GuestEnv g("basic");
      const uint64_t rip = g.vmcb().save.rip;
      c.mutate(g.vmcb());
      g.run();
      BOOST_TEST(g.exitcode() == svm::kExitInvalid);
      BOOST_TEST(g.vmcb().save.rip == rip);  // the guest never ran
      BOOST_TEST(g.svm.counters().per_asid[1].instructions == 0u);
    }
  }
  GuestEnv ok("basic");  // and the unmodified VMCB passes
  ok.run();
  BOOST_TEST(ok.exitcode() != svm::kExitInvalid);
}
