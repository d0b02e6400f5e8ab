#include "platform/x86/bare_vmx.hpp"

#include "arch/vmx/exit_reasons.hpp"
#include "arch/vmx/msrs.hpp"
#include "arch/vmx/vmcs_fields.hpp"
#include "platform/x86/port_io.hpp"

// vmx_run.S: one VM entry and its exit. Returns 0 after a VM exit, 1 VMfailInvalid, 2 VMfailValid.
extern "C" uint64_t bare_vmx_enter(uint64_t launch, redoubt::hal::GuestGprs* gprs, redoubt::hal::GuestExtState* ext,
                                   uint64_t* cr2);

namespace redoubt::x86 {

namespace v = redoubt::vmx;

namespace {

// RFLAGS after a VMX instruction (SDM vol. 3C §31.2): CF = VMfailInvalid, ZF = VMfailValid.
hal::VmxResult result(uint8_t cf, uint8_t zf) {
  return cf ? hal::VmxResult::fail_invalid : zf ? hal::VmxResult::fail_valid : hal::VmxResult::ok;
}

struct [[gnu::packed]] DescriptorTable {
  uint16_t limit;
  uint64_t base;
};

uint16_t selector(int which) {
  uint16_t s = 0;
  switch (which) {
    case 0: asm volatile("mov %%cs, %0" : "=r"(s)); break;
    case 1: asm volatile("mov %%ss, %0" : "=r"(s)); break;
    case 2: asm volatile("mov %%ds, %0" : "=r"(s)); break;
    case 3: asm volatile("mov %%es, %0" : "=r"(s)); break;
    case 4: asm volatile("mov %%fs, %0" : "=r"(s)); break;
    case 5: asm volatile("mov %%gs, %0" : "=r"(s)); break;
    default: asm volatile("str %0" : "=r"(s)); break;
  }
  return s;
}

}  // namespace

bool BareVmx::available() { return cpuid(1).ecx & (1u << 5); }  // CPUID.1:ECX.VMX (§24.6)

uint64_t BareVmx::rdmsr(uint32_t msr) { return x86::rdmsr(msr); }

Status BareVmx::enable(uint64_t vmxon_pa) {
  if (vmxon_pa == 0 || (vmxon_pa & 0xFFF))
    return Status::fail(Err::malformed, "VMXON region 0x%llx is not a 4 KiB-aligned page", (unsigned long long)vmxon_pa);
  // §24.7: IA32_FEATURE_CONTROL must be locked with "VMX outside SMX", or, in SMX operation (after
  // GETSEC[SENTER]: CR4.SMXE stays set, as Xen and Linux tell it), "VMX inside SMX"; lock it if
  // firmware did not.
  const bool in_smx = read_cr4() & (1ull << 14);
  const uint64_t need = in_smx ? v::feature_control::kVmxInsideSmx : v::feature_control::kVmxOutsideSmx;
  uint64_t fc = x86::rdmsr(v::kMsrFeatureControl);
  if (!(fc & v::feature_control::kLock)) {
    fc |= v::feature_control::kLock | need;
    x86::wrmsr(v::kMsrFeatureControl, fc);
  }
  if (!(fc & need))
    return Status::fail(Err::unsupported, "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX %s SMX)",
                        in_smx ? "inside" : "outside");
  // §24.8: CR0 and CR4 within IA32_VMX_CR0/CR4_FIXED0/1 (CR0.PE, NE, PG and CR4.VMXE set).
  write_cr0((read_cr0() | x86::rdmsr(v::kMsrVmxCr0Fixed0)) & x86::rdmsr(v::kMsrVmxCr0Fixed1));
  write_cr4((read_cr4() | x86::rdmsr(v::kMsrVmxCr4Fixed0)) & x86::rdmsr(v::kMsrVmxCr4Fixed1));
  // §25.11.5: the VMXON region's first dword is the VMCS revision identifier.
  *reinterpret_cast<volatile uint32_t*>(vmxon_pa) = uint32_t(x86::rdmsr(v::kMsrVmxBasic) & v::basic::kRevisionMask);
  uint8_t cf, zf;
  asm volatile("vmxon %2; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "m"(vmxon_pa) : "cc", "memory");
  if (cf || zf) return Status::fail(Err::internal, "VMXON failed (%s)", cf ? "VMfailInvalid" : "VMfailValid");
  on_ = true;
  return Status::ok();
}

hal::VmxResult BareVmx::vmclear(uint64_t pa) {
  uint8_t cf, zf;
  asm volatile("vmclear %2; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "m"(pa) : "cc", "memory");
  return result(cf, zf);
}

hal::VmxResult BareVmx::vmptrld(uint64_t pa) {
  uint8_t cf, zf;
  asm volatile("vmptrld %2; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "m"(pa) : "cc", "memory");
  return result(cf, zf);
}

hal::VmxResult BareVmx::vmread(uint64_t field, uint64_t& value) {
  uint8_t cf, zf;
  uint64_t out = 0;
  asm volatile("vmread %3, %2; setc %0; setz %1" : "=r"(cf), "=r"(zf), "=r"(out) : "r"(field) : "cc");
  value = out;
  return result(cf, zf);
}

hal::VmxResult BareVmx::vmwrite(uint64_t field, uint64_t value) {
  uint8_t cf, zf;
  asm volatile("vmwrite %3, %2; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "r"(field), "r"(value) : "cc", "memory");
  return result(cf, zf);
}

Status BareVmx::write_host_state() {
  // §25.5 host-state area = the CPU as the hypervisor runs now; CR0 (EM clear) and RSP/RIP are
  // written by vmx_run.S at every entry. TR: the images load none, but §27.2.2.2 wants a non-null
  // selector (the exit loads it with base HOST_TR_BASE and limit 67H, never reading the GDT; the
  // host runs at CPL 0 without IST, so it is never used).
  DescriptorTable gdt{}, idt{};
  asm volatile("sgdt %0" : "=m"(gdt));
  asm volatile("sidt %0" : "=m"(idt));
  uint64_t cr3;
  asm volatile("mov %%cr3, %0" : "=r"(cr3));
  uint16_t tr = selector(6);
  if (tr == 0) tr = 0x18;
  const struct { uint64_t field, value; } host[] = {
      {v::kHostCr0, read_cr0() & ~0xCull},
      {v::kHostCr3, cr3},
      {v::kHostCr4, read_cr4()},
      {v::kHostCsSelector, selector(0) & 0xF8u},
      {v::kHostSsSelector, selector(1) & 0xF8u},
      {v::kHostDsSelector, selector(2) & 0xF8u},
      {v::kHostEsSelector, selector(3) & 0xF8u},
      {v::kHostFsSelector, selector(4) & 0xF8u},
      {v::kHostGsSelector, selector(5) & 0xF8u},
      {v::kHostTrSelector, tr & 0xF8u},
      {v::kHostFsBase, x86::rdmsr(kMsrFsBase)},
      {v::kHostGsBase, x86::rdmsr(kMsrFsBase + 1)},
      {v::kHostTrBase, 0},
      {v::kHostGdtrBase, gdt.base},
      {v::kHostIdtrBase, idt.base},
      {v::kHostSysenterCs, x86::rdmsr(0x174)},
      {v::kHostSysenterEsp, x86::rdmsr(0x175)},
      {v::kHostSysenterEip, x86::rdmsr(0x176)},
      {v::kHostPat, x86::rdmsr(0x277)},
      {v::kHostEfer, x86::rdmsr(kMsrEfer)},
  };
  for (const auto& h : host)
    if (vmwrite(h.field, h.value) != hal::VmxResult::ok)
      return Status::fail(Err::internal, "VMWRITE of host-state field 0x%llx failed", (unsigned long long)h.field);
  return Status::ok();
}

hal::VmxResult BareVmx::vmenter(bool launch, hal::GuestGprs& regs, hal::GuestExtState* ext, uint64_t& cr2) {
  if (!fpu_locked_) {
    // As BareSvm::vmrun: from the first guest on the host must not touch x87/SSE (CR0.EM = 1;
    // vmx_run.S clears it around its FXRSTOR/FXSAVE), CR4.OSFXSR = 1 for XMM0-15 in the image.
    write_cr0(read_cr0() | (1ull << 2));
    write_cr4(read_cr4() | (1ull << 9));
    fpu_locked_ = true;
  }
  ++entries_;
  const uint64_t r = bare_vmx_enter(launch, &regs, ext, &cr2);
  if (r == 1) return hal::VmxResult::fail_invalid;
  if (r == 2) return hal::VmxResult::fail_valid;
  uint64_t reason = 0;
  (void)vmread(v::kExitReason, reason);
  if ((reason & v::kExitReasonBasicMask) == v::kExitExternalInterrupt) {
    // Without "acknowledge interrupt on exit" the interrupt is still pending at the LAPIC (§28.2,
    // §33.2): one instruction with IF = 1 so the IDT handler takes it and EOIs (as after #VMEXIT(INTR)).
    asm volatile("sti; nop; cli" ::: "memory");
  }
  return hal::VmxResult::ok;
}

hal::VmxResult BareVmx::invept(uint64_t eptp) {
  struct { uint64_t eptp, reserved; } desc = {eptp, 0};  // §31.3 INVEPT descriptor
  uint8_t cf, zf;
  asm volatile("invept %2, %3; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "m"(desc), "r"(uint64_t(1)) : "cc", "memory");
  return result(cf, zf);
}

hal::VmxResult BareVmx::invvpid(uint16_t vpid) {
  struct { uint64_t vpid, address; } desc = {vpid, 0};  // §31.3 INVVPID descriptor
  uint8_t cf, zf;
  asm volatile("invvpid %2, %3; setc %0; setz %1" : "=r"(cf), "=r"(zf) : "m"(desc), "r"(uint64_t(1)) : "cc", "memory");
  return result(cf, zf);
}

void BareVmx::guests_done() {
  if (!fpu_locked_) return;
  write_cr0(read_cr0() & ~((1ull << 2) | (1ull << 3)));  // CR0.EM = TS = 0
  fpu_locked_ = false;
}

}  // namespace redoubt::x86
