// The Intel VT-x instructions the hypervisor core executes, behind the HAL
// (Intel SDM vol. 3C ch. 24-31). platform/x86 executes the real instructions
// (bare_vmx.cpp, vmx_run.S); the simulator interprets the same bytes in hv.bin.
// Unlike AMD-V's VMCB, the VMCS is opaque: everything goes through VMREAD and
// VMWRITE with the field encodings of Appendix B (arch/vmx/vmcs_fields.hpp).
#pragma once
#include <cstdint>

#include "platform/hal/status.hpp"
#include "platform/hal/svm.hpp"  // GuestGprs, GuestExtState: the same world-switch save areas

namespace redoubt::hal {

// How a VMX instruction ended (SDM vol. 3C §31.2).
enum class VmxResult : uint8_t {
  ok,            // VMsucceed (for VMLAUNCH/VMRESUME: the guest ran and exited)
  fail_invalid,  // VMfailInvalid: CF = 1 (no current VMCS, bad pointer)
  fail_valid,    // VMfailValid: ZF = 1, the VM-instruction error field says why (§31.4)
};

class Vmx {
 public:
  // CPUID.1:ECX.VMX[bit 5] (SDM vol. 3C §24.6).
  virtual bool available() = 0;
  // RDMSR of a capability MSR (IA32_VMX_*, Appendix A) or IA32_FEATURE_CONTROL.
  virtual uint64_t rdmsr(uint32_t msr) = 0;
  // Enter VMX root operation (§24.7, §24.8): IA32_FEATURE_CONTROL locked with VMX outside
  // SMX (locked here if firmware left it unlocked), CR0/CR4 forced into IA32_VMX_CR0/CR4_FIXED0/1
  // (CR4.VMXE = 1), then VMXON with the 4 KiB region at vmxon_pa (its revision id written here).
  virtual Status enable(uint64_t vmxon_pa) = 0;
  virtual VmxResult vmclear(uint64_t vmcs_pa) = 0;
  virtual VmxResult vmptrld(uint64_t vmcs_pa) = 0;
  virtual VmxResult vmread(uint64_t field, uint64_t& value) = 0;
  virtual VmxResult vmwrite(uint64_t field, uint64_t value) = 0;
  // The host-state area of the current VMCS from the CPU as it runs now (§25.5: CR0/3/4, the
  // selectors, FS/GS/TR/GDTR/IDTR bases, SYSENTER, PAT, EFER). HOST_RSP and HOST_RIP are the
  // world switch's own (written by vmenter at every entry).
  virtual Status write_host_state() = 0;
  // VMLAUNCH (launch) or VMRESUME on the current VMCS: runs the guest until its next VM exit.
  // `regs` are the guest's GPRs except RSP (which the VMCS holds), in and out — on VMX RAX too;
  // `ext` its DR0-3 and x87/SSE state (nullptr: not switched, test only); `cr2` its CR2, which
  // no VMCS field holds (§27.3.2.1 loads no CR2), in and out.
  virtual VmxResult vmenter(bool launch, GuestGprs& regs, GuestExtState* ext, uint64_t& cr2) = 0;
  // INVEPT single-context (type 1) for eptp; INVVPID single-context (type 1) for vpid (§31.3).
  virtual VmxResult invept(uint64_t eptp) = 0;
  virtual VmxResult invvpid(uint16_t vpid) = 0;
  // No guest runs again: the host may use x87/SSE once more (as hal::Svm::guests_done).
  virtual void guests_done() {}

 protected:
  ~Vmx() = default;
};

}  // namespace redoubt::hal
