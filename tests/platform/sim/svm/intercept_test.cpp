// Intercepts and their EXITINFO (APM vol. 2 §15.7-§15.13, §15.20).
#define BOOST_TEST_MODULE svm_intercept
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "tests/platform/sim/svm/guest_env.hpp"

using namespace redoubt;
using redoubt::test::GuestEnv;
namespace io = svm::ioio;

constexpr uint64_t kFault = 0xFA17;  // RAX of the guest's exception handler at its VMMCALL

BOOST_AUTO_TEST_CASE(unsupported_instruction_is_ud_through_the_guest_idt) {
  GuestEnv g("ud");
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.vmcb().save.rax == kFault);
  BOOST_TEST(g.result(0) == 6u);            // #UD
  BOOST_TEST(g.result(3) == g.step(0));     // return RIP = the SSE instruction
  BOOST_TEST(g.result(4) == 1u);
}

BOOST_AUTO_TEST_CASE(unsupported_instruction_with_ud_intercepted_exits_0x46) {
  GuestEnv g("ud");
  g.vmcb().control.intercept_exc = 1u << 6;
  g.run();
  BOOST_TEST(g.exitcode() == 0x46u);
  BOOST_TEST(g.vmcb().save.rip == g.step(0));
  BOOST_TEST(g.result(4) == 0u);  // the guest handler did not run
}

BOOST_AUTO_TEST_CASE(cpuid_exit_with_nrip) {
  GuestEnv g("cpuid");
  g.vmcb().control.intercept_misc1 |= svm::kInterceptCpuid;
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitCpuid);
  BOOST_TEST(g.vmcb().save.rip == g.step(0) + 5);        // after mov eax, imm32
  BOOST_TEST(g.vmcb().control.next_rip == g.step(0) + 7);  // CPUID is 2 bytes
  BOOST_TEST(g.vmcb().save.rax == 0x80000001u);
  // Without the intercept the guest sees the simulated CPUID (SVM bit) and reaches VMMCALL.
  GuestEnv h("cpuid");
  h.run();
  BOOST_TEST(h.exitcode() == svm::kExitVmmcall);
  BOOST_TEST((h.gpr(1) & (1u << 2)) != 0u);  // ECX[SVM]
}

BOOST_AUTO_TEST_CASE(msr_intercepts_through_the_msrpm) {
  GuestEnv g("msr");
  g.set_msr_intercept(0xC0000080, true, false);   // EFER reads
  g.set_msr_intercept(0xC0000081, false, true);   // STAR writes
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitMsr);
  BOOST_TEST(g.vmcb().control.exitinfo1 == 0u);  // RDMSR
  BOOST_TEST(g.gpr(1) == 0xC0000080u);
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitMsr);
  BOOST_TEST(g.vmcb().control.exitinfo1 == 1u);  // WRMSR
  BOOST_TEST(g.gpr(1) == 0xC0000081u);
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitMsr);      // outside every MSRPM range
  BOOST_TEST(g.vmcb().control.exitinfo1 == 0u);
  BOOST_TEST(g.gpr(1) == 0x40000000u);
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);  // PAT read ran in the guest
  BOOST_TEST(g.vmcb().save.rax == 0x00070406u);
}

BOOST_AUTO_TEST_CASE(ioio_exitinfo1_for_each_form) {
  GuestEnv g("ioio");
  std::memset(g.m.mem().map(GuestEnv::kIopm, svm::kIopmSize), 0xFF, svm::kIopmSize);
  const uint64_t a64 = io::kA64;
  const uint64_t want[] = {
      (0x80ull << 16) | io::kSz8 | a64,                                          // out 0x80, al
      (0x3F8ull << 16) | io::kSz16 | a64,                                        // out dx, ax
      (0x3F8ull << 16) | io::kTypeIn | io::kSz32 | a64,                          // in eax, dx
      (0x60ull << 16) | io::kTypeIn | io::kSz8 | a64,                            // in al, 0x60
      (0x3F8ull << 16) | io::kStr | io::kRep | io::kSz8 | a64 | (3ull << 10),    // rep outsb (DS)
      (0x3F8ull << 16) | io::kTypeIn | io::kStr | io::kSz16 | a64,               // insw (ES)
      (0x3F8ull << 16) | io::kStr | io::kSz32 | a64 | (4ull << 10),              // fs outsd
  };
  for (uint64_t w : want) {
    g.run();
    BOOST_TEST_REQUIRE(g.exitcode() == svm::kExitIoio);
    BOOST_TEST(g.vmcb().control.exitinfo1 == w);
    BOOST_TEST(g.vmcb().control.exitinfo2 == g.vmcb().control.next_rip);
    BOOST_TEST(g.vmcb().control.next_rip > g.vmcb().save.rip);
    g.resume_at_nrip();
  }
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
}

BOOST_AUTO_TEST_CASE(eventinj_gp_with_error_code_reaches_the_guest_handler) {
  GuestEnv g("basic");
  using namespace svm::event_inj;
  g.vmcb().control.eventinj = kValid | (kTypeException << kTypeShift) | 13 | kErrorValid | (0x1234ull << kErrorCodeShift);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.vmcb().save.rax == kFault);
  BOOST_TEST(g.result(0) == 13u);
  BOOST_TEST(g.result(1) == 0x1234u);
  BOOST_TEST(g.result(3) == GuestEnv::kCode);  // delivered before the first instruction
  BOOST_TEST((g.vmcb().control.eventinj & kValid) == 0u);
}

BOOST_AUTO_TEST_CASE(fault_during_injection_sets_exitintinfo) {
  GuestEnv g("basic");
  using namespace svm::event_inj;
  g.vmcb().save.rsp = 0x7000000000;  // the frame push faults (#PF), intercepted
  g.vmcb().control.intercept_exc = 1u << 14;
  const uint64_t ev = kValid | (kTypeException << kTypeShift) | 13 | kErrorValid | (0x55ull << kErrorCodeShift);
  g.vmcb().control.eventinj = ev;
  g.run();
  BOOST_TEST(g.exitcode() == 0x4Eu);
  BOOST_TEST(g.vmcb().control.exitintinfo == ev);
  BOOST_TEST(g.vmcb().control.exitinfo1 == 0x2u);  // not present, write, supervisor
  BOOST_TEST(g.vmcb().control.exitinfo2 == 0x7000000000ull - 8);
}

// #PF while delivering #PF, with #PF intercepted: the exit is the new #PF with EXITINTINFO = the
// injected one (APM vol. 2 §15.7.2), not a #DF made first (and then a triple fault): what a
// shadow-paging hypervisor needs to fill the page and inject the event again.
BOOST_AUTO_TEST_CASE(intercepted_fault_during_pf_delivery_exits_before_double_fault) {
  GuestEnv g("basic");
  using namespace svm::event_inj;
  g.vmcb().save.rsp = 0x7000000000;
  g.vmcb().control.intercept_exc = 1u << 14;
  const uint64_t ev = kValid | (kTypeException << kTypeShift) | 14 | kErrorValid | (0x2ull << kErrorCodeShift);
  g.vmcb().control.eventinj = ev;
  g.run();
  BOOST_TEST(g.exitcode() == 0x4Eu);  // not SHUTDOWN, not EXCP_DF
  BOOST_TEST(g.vmcb().control.exitintinfo == ev);
  BOOST_TEST(g.vmcb().control.exitinfo2 == 0x7000000000ull - 8);
}

// With the INTR intercept and V_INTR_MASKING (physical interrupts follow the host's IF, APM vol. 2
// §15.21.1), the host timer armed `ticks` ahead ends the guest's run with #VMEXIT(INTR) once the
// TSC reaches it (checked at block boundaries: at most one basic block late).
namespace {
void expect_intr_exit_at_the_timer(GuestEnv& g, uint64_t ticks) {
  g.vmcb().control.intercept_misc1 |= svm::kInterceptIntr;
  g.vmcb().control.vintr = 1ull << 24;
  const uint64_t t0 = g.svm.rdtsc();
  g.svm.arm_timer(t0 + ticks, 0x20);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitIntr);
  BOOST_TEST(g.svm.rdtsc() >= t0 + ticks);
  BOOST_TEST(g.svm.rdtsc() < t0 + ticks + 100);
}
}  // namespace

// A guest whose #GP handler faults again delivers #GP to itself for ever, and no instruction
// retires. The host's timer must still interrupt it: each delivery is a tick of the CPU's clock
// (fuzz_x86_decode's finding, issue 16, seen from the hypervisor's side). Before, the clock stood
// still and no INTR exit came while the guest's stack walked down through its memory.
BOOST_AUTO_TEST_CASE(host_timer_gives_intr_exit_while_the_guest_faults_for_ever) {
  GuestEnv g("basic");
  constexpr uint64_t kLoop = 0x180000;  // guest-virtual = guest-physical (identity map)
  const uint8_t faulting[] = {0x8A, 0x00};  // mov al, [rax]; RAX non-canonical: #GP(0)
  std::memcpy(g.gpa(kLoop, sizeof faulting), faulting, sizeof faulting);
  g.wr64(GuestEnv::kIdt + 16 * 13, (kLoop & 0xFFFF) | (0x08ull << 16) | (0x8Eull << 40) | (((kLoop >> 16) & 0xFFFF) << 48));
  g.wr64(GuestEnv::kIdt + 16 * 13 + 8, 0);
  g.vmcb().save.rip = kLoop;
  g.vmcb().save.rax = 0x8000000000000000ull;
  expect_intr_exit_at_the_timer(g, 5000);
  BOOST_TEST(g.vmcb().save.rip == kLoop);              // at the faulting instruction
  BOOST_TEST(g.vmcb().save.rsp < GuestEnv::kStackTop);  // frames were pushed: it was delivering
}

BOOST_AUTO_TEST_CASE(host_timer_gives_intr_exit_while_the_guest_runs) {
  GuestEnv g("loop");
  g.svm.gprs(GuestEnv::kVmcb).r[1] = 1'000'000;  // RCX: loop count
  expect_intr_exit_at_the_timer(g, 5000);
  BOOST_TEST(g.vmcb().control.next_rip == 0u);
  // Without V_INTR_MASKING the guest's IF (0 here) holds the interrupt off (APM vol. 2 §15.21.1).
  GuestEnv h("loop");
  h.vmcb().control.intercept_misc1 |= svm::kInterceptIntr;
  h.svm.gprs(GuestEnv::kVmcb).r[1] = 10'000;
  h.svm.arm_timer(h.svm.rdtsc() + 5000, 0x20);
  h.run();
  BOOST_TEST(h.exitcode() == svm::kExitVmmcall);
}

