#include "platform/x86/bare_svm.hpp"

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "platform/x86/idt.hpp"
#include "platform/x86/port_io.hpp"

extern "C" void bare_svm_vmrun(uint64_t vmcb_pa, redoubt::hal::GuestGprs* gprs, uint64_t host_save_pa,
                               redoubt::hal::GuestExtState* ext);

namespace redoubt::x86 {
namespace {

// VMSAVE area for the host's hidden state (FS/GS/TR/LDTR/KernelGsBase/STAR...):
// a VMCB-format page (APM vol. 2 §15.5.2), 4 KiB aligned, in the image's bss.
alignas(4096) uint8_t g_host_save[4096];

uint64_t host_save_pa() { return reinterpret_cast<uint64_t>(g_host_save); }  // identity-mapped

}  // namespace

bool BareSvm::available() {
  // CPUID Fn8000_0001_ECX[2] SVM and Fn8000_000A_EDX[0] NP (APM vol. 2 §15.4, vol. 3 appendix E).
  if (cpuid(0x80000000).eax < 0x8000000A) return false;
  if (!(cpuid(0x80000001).ecx & (1u << 2))) return false;
  return cpuid(0x8000000A).edx & 1u;
}

Status BareSvm::enable(uint64_t hsave_pa) {
  if (hsave_pa == 0 || (hsave_pa & 0xFFF))
    return Status::fail(Err::malformed, "VM_HSAVE_PA 0x%llx is not a 4 KiB-aligned page", (unsigned long long)hsave_pa);
  // APM vol. 2 §15.4 / §15.30.1: VM_CR.SVMDIS = 1 makes EFER.SVME writes #GP.
  if (rdmsr(kMsrVmCr) & kVmCrSvmdis)
    return Status::fail(Err::unsupported, "AMD-V is disabled by the firmware (VM_CR.SVMDIS, MSR C001_0114h bit 4)");
  wrmsr(kMsrEfer, rdmsr(kMsrEfer) | (1ull << 12));  // EFER.SVME (§15.4)
  wrmsr(kMsrVmHsavePa, hsave_pa);                     // §15.30.4
  // GIF = 0 from here on, as SKINIT leaves it (§15.27.5); a QEMU boot did not
  // come through SKINIT. Interrupts reach the host only in vmrun()'s window.
  asm volatile("clgi" ::: "memory");
  enabled_ = true;
  return Status::ok();
}

void BareSvm::guests_done() {
  if (!fpu_locked_) return;
  write_cr0(read_cr0() & ~((1ull << 2) | (1ull << 3)));  // CR0.EM = TS = 0 (APM vol. 2 §3.1.1)
  fpu_locked_ = false;
}

void BareSvm::vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs, hal::GuestExtState* ext) {
  if (!fpu_locked_) {
    // From the first guest on, the host must not touch x87/SSE state (the
    // guests own it; vmrun.S switches it with FXRSTOR64/FXSAVE64): CR0.EM = 1
    // makes any x87/SSE instruction of the host fault (#NM / #UD -> FATAL)
    // instead of corrupting a guest; the stub clears EM around its two FX
    // instructions only. CR4.OSFXSR = 1 so that the image holds XMM0-15 and
    // MXCSR (APM vol. 2 §11.5.4); EFER.FFXSR stays 0 (the host never sets it).
    write_cr0(read_cr0() | (1ull << 2));
    write_cr4(read_cr4() | (1ull << 9));
    fpu_locked_ = true;
  }
  ++vmruns_;
  bare_svm_vmrun(vmcb_pa, &regs, host_save_pa(), ext);
  const auto* vmcb = reinterpret_cast<const svm::Vmcb*>(vmcb_pa);
  if (vmcb->control.exitcode == svm::kExitIntr) {
    // The physical interrupt is still pending at the LAPIC (#VMEXIT(INTR) does
    // not acknowledge it: APM vol. 2 "Physical (INTR) Interrupt Intercept"). Open a window: GIF = 1, IF = 1 for one
    // instruction after STI's shadow, so the IDT handler takes it and EOIs.
    ++windows_;
    asm volatile("stgi; sti; nop; cli; clgi" ::: "memory");
  }
}

void BareSvm::invlpga(uint64_t va, uint32_t asid) {
  // INVLPGA rAX, ECX (APM vol. 3): invalidate va's mapping in asid.
  asm volatile("invlpga %%rax, %%ecx" ::"a"(va), "c"(asid) : "memory");
}

uint64_t BareSvm::rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
}

void BareSvm::on_timer_irq(void* self, uint8_t) { static_cast<BareSvm*>(self)->timer_.eoi(); }

void BareSvm::arm_timer(uint64_t deadline_tsc, uint8_t vector) {
  if (vector != timer_vector_) {
    idt_set_irq_handler(vector, &BareSvm::on_timer_irq, this);
    timer_vector_ = vector;
  }
  timer_.arm(deadline_tsc, vector);
}

}  // namespace redoubt::x86
