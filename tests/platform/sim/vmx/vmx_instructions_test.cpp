// The VMX instructions executed by code on the simulated Intel CPU: success
// paths, VMfailInvalid / VMfailValid(n) with the §31.4 error numbers, the #UD
// and #GP conditions of each instruction's "Operation" section (Intel SDM
// vol. 3C ch. 31; VMX operation §24.7-§24.8; capability MSRs Appendix A).
#define BOOST_TEST_MODULE vmx_instructions
#include <boost/test/unit_test.hpp>

#include "arch/x86/cpuid.hpp"
#include "platform/sim/cpu/cpuid_table.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace op = test::op;
namespace v = redoubt::vmx;
namespace svmx = redoubt::sim::vmx;
using sim::cpu::RAX;
using sim::cpu::RBX;
using sim::cpu::RCX;
using sim::cpu::RDX;

namespace {
// VMXON at kVmxon through the instruction.
void vmxon(VmxRig& r) {
  r.c.gpr[RAX] = VmxRig::kOperand;
  r.wr64(VmxRig::kOperand, VmxRig::kVmxon);
  r.run(op::vmxon_rax);
}
// VMCLEAR or VMPTRLD of `pa` through the instruction.
void with_pa(VmxRig& r, const std::vector<uint8_t>& insn, uint64_t pa) {
  r.c.gpr[RAX] = VmxRig::kOperand;
  r.wr64(VmxRig::kOperand, pa);
  r.run(insn);
}
uint64_t rdmsr(VmxRig& r, uint32_t msr) {
  r.c.gpr[RCX] = msr;
  r.run(op::rdmsr);
  return (r.c.gpr[RDX] << 32) | uint32_t(r.c.gpr[RAX]);
}
}  // namespace

// ---- the Intel model: CPUID (SDM vol. 2A "CPUID"), the AMD default unchanged ----
BOOST_AUTO_TEST_CASE(cpuid_reports_genuine_intel_with_vmx_and_no_svm) {
  VmxRig r;
  r.c.gpr[RAX] = 0;
  r.run(op::cpuid);
  BOOST_TEST(uint32_t(r.c.gpr[RBX]) == 0x756E6547u);  // "Genu"
  BOOST_TEST(uint32_t(r.c.gpr[RDX]) == 0x49656E69u);  // "ineI"
  BOOST_TEST(uint32_t(r.c.gpr[RCX]) == 0x6C65746Eu);  // "ntel"
  r.c.gpr[RAX] = 1;
  r.run(op::cpuid);
  BOOST_TEST((r.c.gpr[RCX] & (1u << 5)) != 0u);  // CPUID.1:ECX.VMX
  BOOST_TEST((r.c.gpr[RCX] & (1u << 6)) == 0u);  // no SMX yet
  r.c.gpr[RAX] = 0x80000001;
  r.run(op::cpuid);
  BOOST_TEST((r.c.gpr[RCX] & x86::cpuid::kSvm) == 0u);
  BOOST_TEST((r.c.gpr[RCX] & x86::cpuid::kSkinit) == 0u);
  BOOST_TEST((r.c.gpr[RDX] & x86::cpuid::kLm) != 0u);
  // The AMD table is untouched.
  BOOST_TEST(sim::cpu::cpuid_leaf(0).ebx == x86::cpuid::kVendorEbx);
  BOOST_TEST((sim::cpu::cpuid_leaf(1).ecx & (1u << 5)) == 0u);
}

BOOST_AUTO_TEST_CASE(vmx_instructions_are_ud_on_the_amd_model) {
  test::BareCpu b;  // default vendor: AMD, no VMX model
  b.long_mode_state(test::BareCpu::kCode);
  b.c.cr4 |= 1u << 13;  // not even writable there; set directly
  b.idt_gate(6, 0x140000);
  b.wr64(0x140000, 0xF4);
  b.mem.write(test::BareCpu::kCode, std::vector<uint8_t>{0xF3, 0x0F, 0xC7, 0x30, 0xF4});
  b.c.gpr[RAX] = 0x13000;
  b.c.run(16);
  BOOST_TEST(b.c.first_host_fault.valid);
  BOOST_TEST(b.c.first_host_fault.vector == 6);
}

// ---- capability MSRs (Appendix A) and IA32_FEATURE_CONTROL (§24.7) ----
BOOST_AUTO_TEST_CASE(capability_msrs) {
  VmxRig r;
  const uint64_t basic = rdmsr(r, v::kMsrVmxBasic);
  BOOST_TEST((basic & v::basic::kRevisionMask) == svmx::kVmcsRevision);
  BOOST_TEST(((basic >> 31) & 1) == 0u);
  BOOST_TEST(((basic >> 32) & 0x1FFF) == 4096u);        // region size
  BOOST_TEST(((basic >> 50) & 0xF) == 6u);              // write-back
  BOOST_TEST((basic & v::basic::kTrueControls) != 0u);  // the TRUE_* MSRs exist
  BOOST_TEST((basic & v::basic::kPhysAddr32) == 0u);
  // allowed-0 settings are a subset of allowed-1 in every control MSR, default1 bits forced in the non-TRUE ones.
  for (uint32_t msr : {v::kMsrVmxPinbasedCtls, v::kMsrVmxProcbasedCtls, v::kMsrVmxExitCtls, v::kMsrVmxEntryCtls,
                       v::kMsrVmxProcbasedCtls2, v::kMsrVmxTruePinbasedCtls, v::kMsrVmxTrueProcbasedCtls,
                       v::kMsrVmxTrueExitCtls, v::kMsrVmxTrueEntryCtls}) {
    const uint64_t m = rdmsr(r, msr);
    BOOST_TEST_CONTEXT("MSR " << std::hex << msr) { BOOST_TEST((uint32_t(m) & ~uint32_t(m >> 32)) == 0u); }
  }
  BOOST_TEST(uint32_t(rdmsr(r, v::kMsrVmxPinbasedCtls)) == v::pin::kDefault1);
  BOOST_TEST(uint32_t(rdmsr(r, v::kMsrVmxProcbasedCtls)) == v::proc::kDefault1);
  BOOST_TEST(uint32_t(rdmsr(r, v::kMsrVmxTrueProcbasedCtls)) == 0x04006172u);  // CR3-load/store exiting may be 0
  BOOST_TEST(uint32_t(rdmsr(r, v::kMsrVmxExitCtls)) == v::exit_ctl::kDefault1);
  BOOST_TEST(uint32_t(rdmsr(r, v::kMsrVmxEntryCtls)) == v::entry_ctl::kDefault1);
  BOOST_TEST(((rdmsr(r, v::kMsrVmxProcbasedCtls2) >> 32) & v::proc2::kEnableEpt) != 0u);
  BOOST_TEST(((rdmsr(r, v::kMsrVmxProcbasedCtls) >> 32) & v::proc::kUseTprShadow) == 0u);
  BOOST_TEST(rdmsr(r, v::kMsrVmxCr0Fixed0) == 0x80000021u);
  BOOST_TEST(rdmsr(r, v::kMsrVmxCr4Fixed0) == 0x2000u);
  BOOST_TEST((rdmsr(r, v::kMsrVmxCr4Fixed1) & 0x2000u) != 0u);
  BOOST_TEST(((rdmsr(r, v::kMsrVmxMisc) >> 16) & 0x1FF) == 4u);  // CR3-target count
  BOOST_TEST((rdmsr(r, v::kMsrVmxMisc) & v::misc::kVmwriteAnyField) == 0u);
  BOOST_TEST((rdmsr(r, v::kMsrVmxEptVpidCap) & (v::ept_vpid_cap::kWalkLength4 | v::ept_vpid_cap::kMemTypeWb)) ==
             (v::ept_vpid_cap::kWalkLength4 | v::ept_vpid_cap::kMemTypeWb));
  BOOST_TEST(((rdmsr(r, v::kMsrVmxVmcsEnum) >> 1) & 0x1FF) == 0x17u);  // highest index: VMX-preemption timer value (482EH)
  BOOST_TEST(r.fault() == -1);
  // Writing a capability MSR: #GP.
  r.c.gpr[RCX] = v::kMsrVmxBasic;
  r.run(op::wrmsr);
  BOOST_TEST(r.fault() == 13);
}

BOOST_AUTO_TEST_CASE(unsupported_vmx_msr_gps) {
  VmxRig r;
  r.c.gpr[RCX] = v::kMsrVmxVmfunc;  // no VM functions on the model
  r.run(op::rdmsr);
  BOOST_TEST(r.fault() == 13);
}

BOOST_AUTO_TEST_CASE(feature_control_lock) {
  VmxRig r;
  r.vmx.set_feature_control(0);  // as after reset
  r.c.gpr[RCX] = v::kMsrFeatureControl;
  r.c.gpr[RAX] = v::feature_control::kLock | v::feature_control::kVmxOutsideSmx;
  r.c.gpr[RDX] = 0;
  r.run(op::wrmsr);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(rdmsr(r, v::kMsrFeatureControl) == 5u);
  r.c.gpr[RCX] = v::kMsrFeatureControl;
  r.c.gpr[RAX] = 0;
  r.run(op::wrmsr);  // locked: #GP until reset (§24.7)
  BOOST_TEST(r.fault() == 13);
  BOOST_TEST(r.vmx.feature_control() == 5u);
}

BOOST_AUTO_TEST_CASE(feature_control_smx_bits_gp_without_smx) {
  VmxRig r;
  r.vmx.set_feature_control(0);
  r.c.gpr[RCX] = v::kMsrFeatureControl;
  r.c.gpr[RAX] = v::feature_control::kVmxInsideSmx;
  r.c.gpr[RDX] = 0;
  r.run(op::wrmsr);
  BOOST_TEST(r.fault() == 13);
}

// ---- SMX on the Intel TXT platform (SDM vol. 2D ch. 7; vol. 3C §24.7, App. A.8) ----
BOOST_AUTO_TEST_CASE(smx_part_reports_smx_and_vmxon_in_smx_needs_vmx_inside_smx) {
  VmxRig r;
  r.c.smx = true;  // what FullSystemOptions::intel_platform() sets
  r.c.gpr[RAX] = 1;
  r.run(op::cpuid);
  BOOST_TEST((r.c.gpr[RCX] & (1u << 6)) != 0u);                             // CPUID.1:ECX.SMX
  BOOST_TEST((rdmsr(r, v::kMsrVmxCr4Fixed1) & svmx::kCr4Smxe) != 0u);       // SMXE allowed 1 in VMX operation
  // In SMX operation (after SENTER) with only "VMX outside SMX": VMXON #GP(0).
  r.vmx.set_feature_control(v::feature_control::kLock | v::feature_control::kVmxOutsideSmx);
  r.vmx.smx_operation = true;
  r.c.cr4 |= svmx::kCr4Smxe;
  vmxon(r);
  BOOST_TEST(r.fault() == 13);
  BOOST_TEST(!r.vmx.in_vmx_operation());
  // As a TXT platform's firmware leaves it (VMX inside SMX too): VMXON succeeds with CR4.SMXE set.
  VmxRig ok;
  ok.c.smx = true;
  ok.vmx.set_feature_control(svmx::kFeatureControlTxtFirmware);
  ok.vmx.smx_operation = true;
  ok.c.cr4 |= svmx::kCr4Smxe;
  vmxon(ok);
  BOOST_TEST(ok.fault() == -1);
  BOOST_TEST(ok.vm_succeed());
  BOOST_TEST(ok.vmx.in_vmx_operation());
}

BOOST_AUTO_TEST_CASE(feature_control_smx_bits_writable_with_smx) {
  VmxRig r;
  r.c.smx = true;
  r.vmx.set_feature_control(0);
  r.c.gpr[RCX] = v::kMsrFeatureControl;
  r.c.gpr[RAX] = uint32_t(svmx::kFeatureControlTxtFirmware);
  r.c.gpr[RDX] = 0;
  r.run(op::wrmsr);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.vmx.feature_control() == 0xFF07u);
}

// ---- VMXON (§24.7, ch. 31 "VMXON") ----
BOOST_AUTO_TEST_CASE(vmxon_succeeds) {
  VmxRig r;
  r.c.set_status(v::kVmFlagsMask);  // all six set before: VMsucceed clears them
  vmxon(r);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.vmx.in_vmx_operation());
  BOOST_TEST(r.vmx.vmxon_pointer() == VmxRig::kVmxon);
  BOOST_TEST(r.vmx.current_vmcs() == svmx::kInvalidVmcsPointer);
}

BOOST_AUTO_TEST_CASE(vmxon_without_cr4_vmxe_is_ud) {
  VmxRig r;
  r.c.cr4 = 0x20;
  vmxon(r);
  BOOST_TEST(r.fault() == 6);
  BOOST_TEST(!r.vmx.in_vmx_operation());
}

BOOST_AUTO_TEST_CASE(cr4_vmxe_is_gp_on_amd_and_writable_on_intel) {
  test::BareCpu b;
  b.long_mode_state(test::BareCpu::kCode);
  b.idt_gate(13, 0x140000);
  b.wr64(0x140000, 0xF4);
  b.mem.write(test::BareCpu::kCode, std::vector<uint8_t>{0x0F, 0x22, 0xE0, 0xF4});
  b.c.gpr[RAX] = 0x2020;
  b.c.run(16);
  BOOST_TEST(b.c.first_host_fault.vector == 13);  // AMD: CR4 bit 13 reserved, as before
  VmxRig r;
  r.c.cr4 = 0x20;
  r.c.gpr[RAX] = 0x2020;
  r.run(op::mov_cr4_rax);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.c.cr4 == 0x2020u);
}

BOOST_AUTO_TEST_CASE(vmxon_with_unlocked_feature_control_is_gp) {
  VmxRig r;
  r.vmx.set_feature_control(v::feature_control::kVmxOutsideSmx);  // not locked
  vmxon(r);
  BOOST_TEST(r.fault() == 13);
  BOOST_TEST(!r.vmx.in_vmx_operation());
}

BOOST_AUTO_TEST_CASE(vmxon_with_vmx_outside_smx_disabled_is_gp) {
  VmxRig r;
  r.vmx.set_feature_control(v::feature_control::kLock);
  vmxon(r);
  BOOST_TEST(r.fault() == 13);
}

BOOST_AUTO_TEST_CASE(vmxon_with_cr0_ne_clear_is_gp) {
  VmxRig r;
  r.c.cr0 = VmxRig::kCr0 & ~(1ull << 5);  // CR0.NE is fixed to 1 (IA32_VMX_CR0_FIXED0)
  vmxon(r);
  BOOST_TEST(r.fault() == 13);
}

BOOST_AUTO_TEST_CASE(vmxon_address_and_revision_failures_are_vmfailinvalid) {
  for (uint64_t pa : {uint64_t(VmxRig::kVmxon + 8), uint64_t(1ull << 48)}) {  // misaligned; beyond MAXPHYADDR
    VmxRig r;
    r.c.gpr[RAX] = VmxRig::kOperand;
    r.wr64(VmxRig::kOperand, pa);
    r.run(op::vmxon_rax);
    BOOST_TEST(r.vm_fail_invalid());
    BOOST_TEST(!r.vmx.in_vmx_operation());
  }
  for (uint32_t rev : {svmx::kVmcsRevision + 1, svmx::kVmcsRevision | 0x80000000u}) {
    VmxRig r;
    r.put32(VmxRig::kVmxon, rev);
    vmxon(r);
    BOOST_TEST(r.vm_fail_invalid());
    BOOST_TEST(!r.vmx.in_vmx_operation());
  }
}

BOOST_AUTO_TEST_CASE(vmxon_in_root_is_vmfail_15) {
  VmxRig r;
  vmxon(r);
  vmxon(r);  // no current VMCS: VMfailInvalid
  BOOST_TEST(r.vm_fail_invalid());
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  vmxon(r);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == 15u);
}

BOOST_AUTO_TEST_CASE(cr0_cr4_fixed_bits_hold_in_vmx_operation) {
  VmxRig r;
  vmxon(r);
  r.c.gpr[RAX] = 0x20;  // clear CR4.VMXE
  r.run(op::mov_cr4_rax);
  BOOST_TEST(r.fault() == 13);
  BOOST_TEST(r.c.cr4 == VmxRig::kCr4);
}

BOOST_AUTO_TEST_CASE(cr0_ne_cannot_be_cleared_in_vmx_operation) {
  VmxRig r;
  vmxon(r);
  r.c.gpr[RAX] = VmxRig::kCr0 & ~(1ull << 5);
  r.run(op::mov_cr0_rax);
  BOOST_TEST(r.fault() == 13);
}

// ---- outside VMX operation the others are #UD ----
BOOST_AUTO_TEST_CASE(vmx_instructions_outside_vmx_operation_are_ud) {
  for (const auto& insn : {op::vmxoff, op::vmclear_rax, op::vmptrld_rax, op::vmptrst_rax, op::vmread_rbx_rax,
                           op::vmwrite_rax_rbx, op::vmlaunch, op::vmresume, op::vmcall, op::invept_rax_mrcx}) {
    VmxRig r;
    r.c.gpr[RAX] = r.c.gpr[RCX] = VmxRig::kOperand;
    r.run(insn);
    BOOST_TEST(r.fault() == 6);
  }
}

// ---- VMXOFF ----
BOOST_AUTO_TEST_CASE(vmxoff_succeeds_and_leaves_vmx_operation) {
  VmxRig r;
  vmxon(r);
  r.run(op::vmxoff);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(!r.vmx.in_vmx_operation());
  r.c.gpr[RAX] = 0x20;  // CR4.VMXE may be cleared again
  r.run(op::mov_cr4_rax);
  BOOST_TEST(r.fault() == -1);
}

// ---- VMCLEAR / VMPTRLD / VMPTRST ----
BOOST_AUTO_TEST_CASE(vmclear_vmptrld_vmptrst_succeed) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmclear_rax, VmxRig::kVmcs);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.vmx.vmcs(VmxRig::kVmcs) != nullptr);
  BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::clear));
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.vmx.current_vmcs() == VmxRig::kVmcs);
  r.c.gpr[RAX] = VmxRig::kOperand + 0x100;
  r.run(op::vmptrst_rax);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.rd64(VmxRig::kOperand + 0x100) == VmxRig::kVmcs);
  // VMCLEAR of the current VMCS makes the current-VMCS pointer invalid; VMPTRST stores FFFF...
  with_pa(r, op::vmclear_rax, VmxRig::kVmcs);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.vmx.current_vmcs() == svmx::kInvalidVmcsPointer);
  r.c.gpr[RAX] = VmxRig::kOperand + 0x100;
  r.run(op::vmptrst_rax);
  BOOST_TEST(r.rd64(VmxRig::kOperand + 0x100) == ~0ull);
}

BOOST_AUTO_TEST_CASE(vmclear_errors_2_and_3) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmclear_rax, VmxRig::kVmcs + 0x10);  // no current VMCS: VMfailInvalid
  BOOST_TEST(r.vm_fail_invalid());
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  with_pa(r, op::vmclear_rax, VmxRig::kVmcs2 + 0x10);  // not 4 KiB aligned
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmclearInvalidAddress));
  with_pa(r, op::vmclear_rax, 1ull << 50);  // beyond the physical-address width
  BOOST_TEST(r.field(v::kVmInstructionError) == 2u);
  with_pa(r, op::vmclear_rax, VmxRig::kVmxon);  // the VMXON pointer
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmclearVmxonPointer));
}

BOOST_AUTO_TEST_CASE(vmptrld_errors_9_10_11) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs + 8);  // no current VMCS yet: VMfailInvalid
  BOOST_TEST(r.vm_fail_invalid());
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs2 + 8);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmptrldInvalidAddress));
  with_pa(r, op::vmptrld_rax, VmxRig::kVmxon);
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmptrldVmxonPointer));
  r.put32(VmxRig::kVmcs2, svmx::kVmcsRevision + 1);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs2);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmptrldBadRevision));
  r.put32(VmxRig::kVmcs2, svmx::kVmcsRevision | 0x80000000u);  // shadow-VMCS indicator without VMCS shadowing
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs2);
  BOOST_TEST(r.field(v::kVmInstructionError) == 11u);
  BOOST_TEST(r.vmx.current_vmcs() == VmxRig::kVmcs);  // unchanged by the failures
}

// ---- VMREAD / VMWRITE (§25.11.2 encodings, ch. 31) ----
BOOST_AUTO_TEST_CASE(vmread_vmwrite_round_trip_by_width) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  struct Case { uint32_t enc; uint64_t write, read; };
  const Case cases[] = {
      {v::kGuestCsSelector, 0xDEAD0018, 0x0018},             // 16-bit: high bits ignored
      {v::kGuestCsLimit, 0x12345678FFFFFFFFull, 0xFFFFFFFF},  // 32-bit
      {v::kTscOffset, 0xFFFFFFFF00000001ull, 0xFFFFFFFF00000001ull},  // 64-bit
      {v::kGuestRip, 0xFFFF800000001000ull, 0xFFFF800000001000ull},   // natural width
      {v::kGuestEfer, 0x0000000500000D01ull, 0x0000000500000D01ull},
  };
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT("field " << std::hex << k.enc) {
      r.c.gpr[RAX] = k.enc;
      r.c.gpr[RBX] = k.write;
      r.run(op::vmwrite_rax_rbx);
      BOOST_TEST(r.vm_succeed());
      r.c.gpr[RBX] = 0x5555;
      r.run(op::vmread_rbx_rax);
      BOOST_TEST(r.vm_succeed());
      BOOST_TEST(r.c.gpr[RBX] == k.read);
    }
  }
  // High access (encoding bit 0): bits 63:32 of a 64-bit field.
  r.c.gpr[RAX] = v::kGuestEfer + 1;
  r.run(op::vmread_rbx_rax);
  BOOST_TEST(r.c.gpr[RBX] == 5u);
  r.c.gpr[RBX] = 0xAABBCCDD00000007ull;  // only the low 32 bits are written, into bits 63:32
  r.run(op::vmwrite_rax_rbx);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.field(v::kGuestEfer) == 0x0000000700000D01ull);
  // Memory operands.
  r.wr64(VmxRig::kOperand, 0x1234);
  r.c.gpr[RAX] = v::kVpid;
  r.c.gpr[RCX] = VmxRig::kOperand;
  r.run(op::vmwrite_rax_mrcx);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.field(v::kVpid) == 0x1234u);
  r.c.gpr[RAX] = v::kTscOffset;
  r.c.gpr[RCX] = VmxRig::kOperand + 8;
  r.run(op::vmread_mrcx_rax);
  BOOST_TEST(r.vm_succeed());
  BOOST_TEST(r.rd64(VmxRig::kOperand + 8) == 0xFFFFFFFF00000001ull);
}

BOOST_AUTO_TEST_CASE(vmcs_contents_are_not_in_memory) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  std::vector<uint8_t> before(r.mem.map(VmxRig::kVmcs, 4096), r.mem.map(VmxRig::kVmcs, 4096) + 4096);
  r.c.gpr[RAX] = v::kGuestRip;
  r.c.gpr[RBX] = 0x1122334455667788ull;
  r.run(op::vmwrite_rax_rbx);
  BOOST_TEST(r.vm_succeed());
  const uint8_t* after = r.mem.map(VmxRig::kVmcs, 4096);
  BOOST_TEST(std::equal(before.begin(), before.end(), after));
  // Software scribbling over the region does not change the VMCS either.
  std::memset(r.mem.map(VmxRig::kVmcs + 8, 4088), 0xAB, 4088);
  BOOST_TEST(r.field(v::kGuestRip) == 0x1122334455667788ull);
}

BOOST_AUTO_TEST_CASE(vmread_vmwrite_unsupported_component_is_error_12) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  for (uint64_t enc : {uint64_t(v::kHostSCet), uint64_t(v::kVirtualApicAddr), uint64_t(v::kPostedIntDescAddr),
                       uint64_t(v::kGuestCr0 + 1) /* high access to a natural-width field */,
                       uint64_t(uint64_t(v::kGuestRip) | (1ull << 32)) /* bits 63:32 of the encoding */,
                       uint64_t(0x1000) /* reserved bit 12 */}) {
    BOOST_TEST_CONTEXT("encoding " << std::hex << enc) {
      r.c.gpr[RAX] = enc;
      r.run(op::vmread_rbx_rax);
      BOOST_TEST(r.vm_fail_valid());
      BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrUnsupportedComponent));
      r.c.gpr[RAX] = enc;
      r.run(op::vmwrite_rax_rbx);
      BOOST_TEST(r.vm_fail_valid());
      BOOST_TEST(r.field(v::kVmInstructionError) == 12u);
    }
  }
}

BOOST_AUTO_TEST_CASE(vmwrite_to_read_only_is_error_13) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  for (uint32_t enc : {v::kExitReason, v::kVmInstructionError, v::kExitQualification, v::kGuestPhysicalAddress,
                       v::kIoRip, v::kExitInstructionLength}) {
    BOOST_TEST_CONTEXT("field " << std::hex << enc) {
      r.c.gpr[RAX] = enc;
      r.c.gpr[RBX] = 0x77;
      r.run(op::vmwrite_rax_rbx);
      BOOST_TEST(r.vm_fail_valid());
      BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmwriteReadOnly));
      r.c.gpr[RAX] = enc;  // VMREAD of a read-only field works
      r.run(op::vmread_rbx_rax);
      BOOST_TEST(r.vm_succeed());
    }
  }
}

BOOST_AUTO_TEST_CASE(vmread_vmwrite_without_current_vmcs_is_vmfailinvalid) {
  VmxRig r;
  vmxon(r);
  r.c.gpr[RAX] = v::kGuestRip;
  r.run(op::vmread_rbx_rax);
  BOOST_TEST(r.vm_fail_invalid());
  r.run(op::vmwrite_rax_rbx);
  BOOST_TEST(r.vm_fail_invalid());
  r.run(op::vmlaunch);
  BOOST_TEST(r.vm_fail_invalid());
  r.run(op::vmresume);
  BOOST_TEST(r.vm_fail_invalid());
}

BOOST_AUTO_TEST_CASE(vmwrite_fails_before_reading_its_memory_operand) {
  VmxRig r;
  vmxon(r);
  r.c.gpr[RAX] = v::kGuestRip;
  r.c.gpr[RCX] = 1ull << 32;  // not mapped: reading it would #PF
  r.run(op::vmwrite_rax_mrcx);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.vm_fail_invalid());  // no current VMCS
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  r.c.gpr[RAX] = v::kExitReason;
  r.c.gpr[RCX] = 1ull << 32;
  r.run(op::vmwrite_rax_mrcx);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.field(v::kVmInstructionError) == 13u);
  r.c.gpr[RAX] = v::kGuestRip;  // a writable field: now the operand is read, and faults
  r.c.gpr[RCX] = 1ull << 32;
  r.run(op::vmwrite_rax_mrcx);
  BOOST_TEST(r.fault() == 14);
}

// ---- VMCALL in VMX root operation: VMfail(1) ----
BOOST_AUTO_TEST_CASE(vmcall_in_root_is_error_1) {
  VmxRig r;
  vmxon(r);
  r.run(op::vmcall);
  BOOST_TEST(r.vm_fail_invalid());
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  r.run(op::vmcall);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrVmcallInRoot));
}

// ---- INVEPT / INVVPID: supported types succeed, others VMfail(28) ----
BOOST_AUTO_TEST_CASE(invept_invvpid) {
  VmxRig r;
  vmxon(r);
  with_pa(r, op::vmptrld_rax, VmxRig::kVmcs);
  r.wr64(VmxRig::kOperand, 0x1F0001E);
  r.wr64(VmxRig::kOperand + 8, 0);
  for (uint64_t type : {1u, 2u}) {
    r.c.gpr[RAX] = type;
    r.c.gpr[RCX] = VmxRig::kOperand;
    r.run(op::invept_rax_mrcx);
    BOOST_TEST(r.vm_succeed());
  }
  r.c.gpr[RAX] = 3;
  r.run(op::invept_rax_mrcx);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrInvalidInvOperand));
  r.wr64(VmxRig::kOperand, 1);  // VPID 1
  for (uint64_t type : {0u, 1u, 2u, 3u}) {
    r.c.gpr[RAX] = type;
    r.c.gpr[RCX] = VmxRig::kOperand;
    r.run(op::invvpid_rax_mrcx);
    BOOST_TEST(r.vm_succeed());
  }
  r.wr64(VmxRig::kOperand, 0);  // VPID 0 with single-context
  r.c.gpr[RAX] = 1;
  r.run(op::invvpid_rax_mrcx);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == 28u);
  BOOST_TEST(r.fault() == -1);
}

// ---- VMLAUNCH / VMRESUME success and launch state (ch. 31, C++ operations) ----
BOOST_AUTO_TEST_CASE(vmlaunch_then_vmresume_pass_the_checks) {
  VmxRig r;
  r.valid_vmcs();
  using K = svmx::VmResult::Kind;
  const svmx::VmResult a = r.vmx.vmentry(true);
  BOOST_TEST_INFO(r.vmx.last_entry_failure());
  BOOST_TEST((a.kind == K::entered));
  BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::launched));
  BOOST_TEST((r.vmx.vmentry(false).kind == K::entered));            // VMRESUME of a launched VMCS
  BOOST_TEST((r.vmx.vmentry(true) == svmx::VmResult{K::fail_valid, 4}));  // VMLAUNCH of a launched VMCS
  BOOST_TEST(r.field(v::kVmInstructionError) == 4u);
  r.vmx.vmclear(VmxRig::kVmcs);  // back to clear; VMRESUME then fails with 5
  r.vmx.vmptrld(VmxRig::kVmcs);
  BOOST_TEST((r.vmx.vmentry(false) == svmx::VmResult{K::fail_valid, 5}));
  BOOST_TEST((r.vmx.vmentry(true).kind == K::entered));
}

BOOST_AUTO_TEST_CASE(vmlaunch_instruction_enters_the_guest) {
  VmxRig r;
  r.valid_vmcs();  // EPTP at 0x1F00000, whose PML4 is all zeros
  r.run(op::vmlaunch);
  BOOST_TEST(r.fault() == -1);
  // The guest's first fetch walks its page tables through the EPT: PML4E (gpa 0x3000) not present.
  BOOST_TEST(r.field(v::kExitReason) == 48u);
  BOOST_TEST(r.field(v::kExitQualification) == 0x81u);  // data read of a guest paging entry, linear valid
  BOOST_TEST(r.field(v::kGuestPhysicalAddress) == VmxRig::kPml4);
  BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::launched));
  BOOST_TEST(r.c.rip() == VmxRig::kHostRip + 1);
}

// ---- the mode and privilege conditions of every "Operation" section ----
BOOST_AUTO_TEST_CASE(vmx_instructions_in_compatibility_mode_are_ud) {
  VmxRig r;
  vmxon(r);
  // Compatibility mode: EFER.LMA = 1 with a 32-bit code segment (CS.L = 0, CS.D = 1).
  r.c.cs = sim::Segment{VmxRig::kCode32, 0, 0xFFFFFFFF, uint16_t(0xB | 0x10 | 0x80 | 0x400 | 0x800)};
  r.c.gpr[RAX] = VmxRig::kOperand;
  r.wr64(VmxRig::kOperand, VmxRig::kVmcs);
  r.run(op::vmptrld_rax);
  BOOST_TEST(r.fault() == 6);
  BOOST_TEST(r.vmx.current_vmcs() == svmx::kInvalidVmcsPointer);
}

BOOST_AUTO_TEST_CASE(vmx_instructions_at_cpl_3_are_gp) {
  VmxRig r;
  vmxon(r);
  // User-accessible identity map so that CPL-3 code can be fetched.
  r.wr64(VmxRig::kPml4, VmxRig::kPdpt | 7);
  for (uint64_t i = 0; i < 4; ++i) r.wr64(VmxRig::kPdpt + 8 * i, (i << 30) | 7 | 0x80);
  r.c.flush_tlb_all_current();
  r.c.cs = sim::Segment{uint16_t(VmxRig::kCode64 | 3), 0, 0xFFFFFFFF, uint16_t(0xB | 0x10 | 0x60 | 0x80 | 0x200 | 0x800)};
  r.c.set_cpl(3);
  r.c.gpr[RAX] = VmxRig::kOperand;
  r.wr64(VmxRig::kOperand, VmxRig::kVmcs);
  r.run(op::vmptrld_rax);
  BOOST_TEST(r.fault() == 13);  // #GP(0): VMX root operation at CPL > 0
  BOOST_TEST(r.c.first_host_fault.error == 0u);
  BOOST_TEST(r.vmx.current_vmcs() == svmx::kInvalidVmcsPointer);
}
