// The VMX column of the virtualization-holes table (issue 14): each case of holes_rig.hpp
// run as an Intel VMX guest at CPL 0 through a real VMLAUNCH on the simulated VMX model,
// with the controls that close the holes (Intel SDM vol. 3C):
//   * "descriptor-table exiting" (secondary control bit 2, §26.1.3): SGDT/SIDT exit 46,
//     SLDT/STR exit 47, with the displacement as qualification (§28.2.1) and the
//     instruction information of Tables 28-10/28-11 (§28.2.5);
//   * CPUID exits unconditionally (reason 10, §26.1.2);
//   * SMSW has no exit: the CR0 guest/host mask owns NE (which VMX forces to 1, A.7) and
//     the read shadow returns the guest's own value 0 for it (§26.3) — SMSW reads 0x80000011
//     while the real CR0 is 0x80000031;
//   * PUSHF/POPF and LAR/LSL/VERR/VERW have no exit and need none: the guest kernel runs at CPL 0.
// The guest state is the rig's "host" state (GDTR 0x1000/0x6F, IDTR 0x2000/0xFFF, TR 0x48, IF 1).
#pragma once
#include "arch/vmx/exit_reasons.hpp"
#include "tests/platform/sim/cpu/holes_rig.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

namespace redoubt::test::holes {

inline constexpr uint64_t kVmxRealCr0 = 0x80000031, kVmxCr0Mask = 0x20, kVmxCr0Shadow = 0x0;

struct VmxOutcome {
  uint64_t reason = 0, qual = 0, info = 0, length = 0, guest_rip = 0;
  uint64_t rax = 0, rflags = 0, rsp = 0, stack_top = 0;
  uint8_t mem[16] = {};
  bool host_fault = false;
  // The instruction ran to completion (the exit is the HLT after it, HLT exiting).
  bool completed(const Case& k) const {
    return reason == redoubt::vmx::kExitHlt && guest_rip == VmxRig::kGuestRip + k.code.size();
  }
};

inline VmxOutcome run_vmx(const Case& k) {
  namespace v = redoubt::vmx;
  VmxRig r;
  r.wr64(BareCpu::kGdt + 0x48, 0x67 | (0x5000ull << 16) | (0x8Bull << 40));
  r.wr64(BareCpu::kGdt + 0x50, 0);
  r.wr64(BareCpu::kGdt + 0x58, 0x00CFF2000000FFFFull);
  r.wr64(BareCpu::kGdt + 0x60, 0x00AFFA000000FFFFull);
  r.valid_vmcs();
  r.set(v::kSecondaryProcControls, v::proc2::kEnableVpid | v::proc2::kDescriptorTableExiting);
  r.set(v::kGuestGdtrLimit, 0x6F);
  r.set(v::kGuestCr0, kVmxRealCr0);
  r.set(v::kCr0GuestHostMask, kVmxCr0Mask);
  r.set(v::kCr0ReadShadow, kVmxCr0Shadow);
  r.set(v::kGuestRflags, 0x202);
  const uint64_t rsp = BareCpu::kStackTop - 0x100;
  r.set(v::kGuestRsp, rsp);
  r.wr64(rsp, 0x2);
  r.wr64(rsp - 8, 0xCCCCCCCCCCCCCCCCull);
  std::vector<uint8_t> code = k.code;
  code.push_back(0xF4);  // HLT: exit 12 once the instruction completed
  r.mem.write(VmxRig::kGuestRip, code);
  for (unsigned i = 0; i < 16; ++i) *r.mem.map(kBuf + i, 1) = 0xCC;
  r.c.gpr[cpu::RAX] = k.rax;
  r.c.gpr[cpu::RCX] = k.rcx;
  r.run(op::vmlaunch);
  VmxOutcome o;
  o.host_fault = r.fault() != -1;
  o.reason = r.field(v::kExitReason);
  o.qual = r.field(v::kExitQualification);
  o.info = r.field(v::kExitInstructionInfo);
  o.length = r.field(v::kExitInstructionLength);
  o.guest_rip = r.field(v::kGuestRip);
  o.rax = r.c.gpr[cpu::RAX];
  o.rflags = r.field(v::kGuestRflags);
  o.rsp = r.field(v::kGuestRsp);
  o.stack_top = r.rd64(o.rsp);
  for (unsigned i = 0; i < 16; ++i) o.mem[i] = *r.mem.map(kBuf + i, 1);
  return o;
}

inline const char* vmx_where_name() { return "VMX guest (CPL 0) + controls"; }

inline std::string describe_vmx(const Case& k, const VmxOutcome& o) {
  if (o.host_fault) return "host fault";
  if (o.completed(k)) {
    Outcome n;
    n.stop = cpu::Stop::budget;
    n.rip = BareCpu::kCode + k.code.size();
    n.rax = o.rax;
    n.rflags = o.rflags;
    n.rsp = o.rsp;
    n.stack_top = o.stack_top;
    std::memcpy(n.mem, o.mem, 16);
    std::string s = "no exit; " + describe(k, n);
    if (std::string(k.name).rfind("SMSW", 0) == 0) s += " (real CR0 " + hex(kVmxRealCr0) + ": NE host-owned, read shadow)";
    return s;
  }
  const bool untouched = le(o.mem, 8) == 0xCCCCCCCCCCCCCCCCull && (o.rax == k.rax || k.rax == kBuf);
  std::string s = "VM exit " + std::to_string(o.reason);
  if (o.reason == redoubt::vmx::kExitGdtrIdtrAccess || o.reason == redoubt::vmx::kExitLdtrTrAccess)
    s += ", qual " + hex(o.qual) + ", insn-info " + hex(o.info);
  s += ", RIP at insn, length " + std::to_string(o.length) + (untouched ? ", nothing written" : ", WROTE");
  if (o.guest_rip != VmxRig::kGuestRip) s += " (RIP moved!)";
  return s;
}

}  // namespace redoubt::test::holes
