// The AMD-V instructions the hypervisor core executes, behind the HAL.
// platform/sim interprets them on its simulated CPU; platform/x86 (later)
// executes the real instructions. The contract between the two sides is the
// architecture itself: the VMCB (arch/svm/vmcb.hpp), nested page
// tables, IOPM and MSRPM live in physical memory in their APM formats.
#pragma once
#include <cstdint>

#include "platform/hal/status.hpp"

namespace redoubt::hal {

// The guest general-purpose registers VMRUN does not load from the VMCB
// (APM vol. 2 §15.5.1: only RAX, RSP, RIP, RFLAGS and the segment/control state
// live there). Software swaps the rest around VMRUN — on hardware a small stub
// with a save area (as KVM's __svm_vcpu_run), in the simulator the CPU model.
// Order = the x86 register encoding (ModRM reg field 0..15).
struct GuestGprs {
  uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
};
static_assert(sizeof(GuestGprs) == 16 * 8);

// Guest-visible state that neither VMRUN/#VMEXIT (the VMCB save area, APM vol. 2
// §15.5.1) nor VMLOAD/VMSAVE (§15.5.2) switches: DR0-DR3 and the x87/SSE state.
// The world switch loads it before VMRUN and stores it after #VMEXIT (docs/
// hypervisor.md, "What is switched"). fxsave is an FXSAVE64 image (APM vol. 5
// FXSAVE; arch/x86/sse.hpp FxsaveImage), always taken with CR4.OSFXSR = 1 and
// EFER.FFXSR = 0 so that XMM0-15 and MXCSR are in it.
struct alignas(64) GuestExtState {
  uint8_t fxsave[512];
  uint64_t dr[4];  // DR0-DR3
};
static_assert(sizeof(GuestExtState) == 576);
static_assert(__builtin_offsetof(GuestExtState, dr) == 512);

class Svm {
 public:
  // CPUID Fn8000_0001_ECX[SVM] and Fn8000_000A_EDX[NP] (APM vol. 2 §15.4).
  virtual bool available() = 0;
  // EFER.SVME = 1 and VM_HSAVE_PA = hsave_pa (APM vol. 2 §15.4, §15.30.4).
  virtual Status enable(uint64_t hsave_pa) = 0;
  // VMRUN with RAX = vmcb_pa (APM vol. 2 §15.5): runs the guest until #VMEXIT;
  // EXITCODE/EXITINFO1/EXITINFO2/nRIP and the guest state are in the VMCB
  // afterwards. A failed consistency check gives EXITCODE = VMEXIT_INVALID.
  // `regs` are the guest's other GPRs, in and out (regs.rax/rsp are ignored:
  // they live in the VMCB save area); `ext` its DR0-3 and x87/SSE state, in and
  // out. ext == nullptr leaves those registers as the previous guest left them
  // (only the test-only switch kBareFlagNoGuestStateSwitch does that: it shows
  // the cross-guest leak the switch prevents).
  virtual void vmrun(uint64_t vmcb_pa, GuestGprs& regs, GuestExtState* ext) = 0;
  // INVLPGA (APM vol. 2 §15.16.2): invalidate the mapping of va in asid.
  virtual void invlpga(uint64_t va, uint32_t asid) = 0;
  virtual uint64_t rdtsc() = 0;
  // The host's timer: a physical interrupt (vector) once the TSC reaches
  // deadline; while a guest runs it arrives as #VMEXIT(INTR) if intercepted.
  virtual void arm_timer(uint64_t deadline_tsc, uint8_t vector) = 0;
  // No guest runs again (the hypervisor is stopping): the host may use x87/SSE once
  // more — BearSSL's hash routines, for the failure cap (hypervisor/core/fail_closed.cpp).
  // Bare metal: CR0.EM = TS = 0 again (platform/x86/bare_svm.cpp locks them at the first VMRUN).
  virtual void guests_done() {}

 protected:
  ~Svm() = default;
};

}  // namespace redoubt::hal
