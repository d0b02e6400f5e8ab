// VMX operation and the VMCS-maintenance instructions (Intel SDM vol. 3C §24.7,
// §24.11, ch. 31 "VMX Instruction Reference"), VMLAUNCH/VMRESUME up to the end of
// the VM-entry checks (ch. 27). The checks themselves: entry_checks.cpp.
#include "platform/sim/vmx/vmx_cpu.hpp"

#include <cstring>

#include "arch/vmx/exit_reasons.hpp"
#include "arch/vmx/msrs.hpp"
#include "arch/vmx/vm_errors.hpp"
#include "platform/sim/vmx/msr_areas.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"

namespace redoubt::sim::vmx {

using cpu::CpuError;
using K = VmResult::Kind;

VmxCpu::VmxCpu(cpu::Cpu& c, PhysicalMemory& mem) : c_(c), mem_(mem) {
  c_.vendor = cpu::Vendor::intel;
  c_.host_vmx = this;
}

VmxCpu::~VmxCpu() {
  if (c_.host_vmx == this) c_.host_vmx = nullptr;
}

const Vmcs* VmxCpu::vmcs(uint64_t pa) const {
  const auto it = vmcs_.find(pa);
  return it == vmcs_.end() ? nullptr : &it->second;
}

uint32_t VmxCpu::revision_at(uint64_t pa) const {
  uint32_t rev = ~0u;  // outside RAM: nothing answers (reads as all ones)
  if (mem_.contains(pa, 4)) std::memcpy(&rev, mem_.map(pa, 4), 4);
  return rev;
}

// §31.2: VMfail(n) is VMfailValid(n) with a current VMCS, else VMfailInvalid.
VmResult VmxCpu::fail(uint32_t error) {
  if (current_ == kInvalidVmcsPointer) return {K::fail_invalid, 0};
  return fail_valid(error);
}
VmResult VmxCpu::fail_valid(uint32_t error) {
  vmcs_[current_].set(v::kVmInstructionError, error);
  return {K::fail_valid, error};
}

// ---- MSRs: IA32_FEATURE_CONTROL (§24.7) and the capability MSRs (Appendix A) ----
bool VmxCpu::rdmsr(cpu::Cpu&, uint32_t msr, uint64_t& val) {
  if (msr == v::kMsrFeatureControl) {
    val = feature_control_;
    return true;
  }
  if (msr == v::kMsrVmxCr4Fixed1) {
    val = cr4_fixed1();
    return true;
  }
  return capability_msr(msr, val);  // read-only: WRMSR to them #GPs (below)
}

bool VmxCpu::wrmsr(cpu::Cpu& c, uint32_t msr, uint64_t val) {
  if (msr == v::kMsrFeatureControl) {
    // §24.7: once the lock bit is set, WRMSR to IA32_FEATURE_CONTROL #GPs until reset.
    if (feature_control_ & v::feature_control::kLock) c.gp(0);
    if (val & ~(kFeatureControlWritable | (c.smx ? kFeatureControlSmxWritable : 0))) c.gp(0);  // SMX bits need SMX
    feature_control_ = val;
    return true;
  }
  uint64_t ignored;
  if (capability_msr(msr, ignored)) c.gp(0);  // the capability MSRs are read-only (Appendix A)
  return false;
}

// §24.8: in VMX operation CR0 and CR4 keep the bits IA32_VMX_CR*_FIXED0 sets and clear
// the ones FIXED1 clears (MOV CR0/CR4 otherwise #GP).
bool VmxCpu::cr_write_allowed(const cpu::Cpu&, unsigned cr, uint64_t val) {
  if (!vmx_operation_) return true;
  if (cr == 0) return cr_fixed_ok(val, kCr0Fixed0, kCr0Fixed1);
  if (cr == 4) return cr_fixed_ok(val, kCr4Fixed0, cr4_fixed1());
  return true;
}

// ---- the operations (ch. 31 "Operation" sections, after the fault checks) ----
VmResult VmxCpu::vmxon(uint64_t pa) {
  if (vmx_operation_) return fail(v::kErrVmxonInRoot);  // "VMXON executed in VMX root operation" (15)
  // VMXON: address not 4 KiB aligned or beyond the physical-address width -> VMfailInvalid.
  if ((pa & 0xFFF) || (pa & kPhysAddrLimitMask)) return {K::fail_invalid, 0};
  // rev[30:0] must be the VMCS revision identifier and rev[31] = 0 -> else VMfailInvalid.
  if (revision_at(pa) != kVmcsRevision) return {K::fail_invalid, 0};
  vmx_operation_ = true;
  vmxon_ptr_ = pa;
  current_ = kInvalidVmcsPointer;
  return {};
}

VmResult VmxCpu::vmxoff() {
  vmx_operation_ = false;  // no dual-monitor treatment, so never error 23
  current_ = kInvalidVmcsPointer;
  return {};
}

VmResult VmxCpu::vmclear(uint64_t pa) {
  if ((pa & 0xFFF) || (pa & kPhysAddrLimitMask)) return fail(v::kErrVmclearInvalidAddress);  // 2
  if (pa == vmxon_ptr_) return fail(v::kErrVmclearVmxonPointer);                               // 3
  vmcs_[pa].launch = Vmcs::Launch::clear;  // launch state "clear"; the data stays with the simulator
  if (pa == current_) current_ = kInvalidVmcsPointer;
  return {};
}

VmResult VmxCpu::vmptrld(uint64_t pa) {
  if ((pa & 0xFFF) || (pa & kPhysAddrLimitMask)) return fail(v::kErrVmptrldInvalidAddress);  // 9
  if (pa == vmxon_ptr_) return fail(v::kErrVmptrldVmxonPointer);                               // 10
  // rev[30:0] must match and rev[31] (shadow-VMCS indicator) must be 0 without VMCS shadowing -> 11.
  if (revision_at(pa) != kVmcsRevision) return fail(v::kErrVmptrldBadRevision);
  vmcs_.try_emplace(pa);
  current_ = pa;
  return {};
}

VmResult VmxCpu::vmread(uint64_t enc, uint64_t& val) {
  if (current_ == kInvalidVmcsPointer) return {K::fail_invalid, 0};
  if ((enc >> 32) || !field_supported(uint32_t(enc))) return fail_valid(v::kErrUnsupportedComponent);  // 12
  val = vmcs_[current_].read(uint32_t(enc));
  return {};
}

VmResult VmxCpu::vmwrite_check(uint64_t enc) {
  if (current_ == kInvalidVmcsPointer) return {K::fail_invalid, 0};
  if ((enc >> 32) || !field_supported(uint32_t(enc))) return fail_valid(v::kErrUnsupportedComponent);  // 12
  if (v::field_type(uint32_t(enc)) == v::FieldType::read_only && !(kVmxMisc & v::misc::kVmwriteAnyField))
    return fail_valid(v::kErrVmwriteReadOnly);  // 13
  return {};
}

VmResult VmxCpu::vmwrite(uint64_t enc, uint64_t val) {
  if (current_ == kInvalidVmcsPointer) return {K::fail_invalid, 0};
  if ((enc >> 32) || !field_supported(uint32_t(enc))) return fail_valid(v::kErrUnsupportedComponent);  // 12
  // Read-only data fields refuse VMWRITE unless IA32_VMX_MISC[29] (0 on the model) -> 13.
  if (v::field_type(uint32_t(enc)) == v::FieldType::read_only && !(kVmxMisc & v::misc::kVmwriteAnyField))
    return fail_valid(v::kErrVmwriteReadOnly);
  vmcs_[current_].write(uint32_t(enc), val);
  return {};
}

uint64_t VmxCpu::cr4_fixed1() const { return kCr4Fixed1 | (c_.smx ? kCr4Smxe : 0); }

VmResult VmxCpu::vmcall() { return fail(v::kErrVmcallInRoot); }  // VMCALL in VMX root operation (1)

// VMLAUNCH/VMRESUME (ch. 31 "VMLAUNCH/VMRESUME", ch. 27).
VmResult VmxCpu::vmentry(bool launch) {
  if (current_ == kInvalidVmcsPointer) return {K::fail_invalid, 0};
  // Blocking by MOV SS (error 26) is not distinguished from STI blocking in the model: not checked.
  Vmcs& s = vmcs_[current_];
  if (launch && s.launch != Vmcs::Launch::clear) return fail_valid(v::kErrVmlaunchNonClear);          // 4
  if (!launch && s.launch != Vmcs::Launch::launched) return fail_valid(v::kErrVmresumeNonLaunched);   // 5
  const EntryContext ctx{(c_.efer & (1u << 10)) != 0, &mem_, cr4_fixed1()};
  for (const EntryCheck& r : {check_controls(s), check_host_state(s, ctx)}) {  // §27.2 -> 7 / 8
    if (!r.ok()) {
      last_failure_ = r.why;
      return fail_valid(r.error);
    }
  }
  if (const EntryCheck g = check_guest_state(s, ctx); !g.ok()) {  // §27.3 -> §27.8
    last_failure_ = g.why;
    s.set(v::kExitReason, v::kExitReasonEntryFailure | v::kExitEntryFailGuestState);
    s.set(v::kExitQualification, g.qualification);
    load_host_state(s);
    return {K::entry_failed, 0};
  }
  // §27.4: every entry of the VM-entry MSR-load list must be loadable; else a VM-entry failure with
  // reason 34 and the 1-based index of the entry as qualification (§27.8). Loaded in enter_guest.
  if (const uint64_t n = s.get(v::kEntryMsrLoadCount)) {
    if (const uint32_t bad = msr_load_failure(c_, mem_, s.get(v::kEntryMsrLoadAddr), n)) {
      last_failure_ = "§27.4 VM-entry MSR-load entry cannot be loaded";
      s.set(v::kExitReason, v::kExitReasonEntryFailure | v::kExitEntryFailMsrLoading);
      s.set(v::kExitQualification, bad);
      load_host_state(s);
      return {K::entry_failed, 0};
    }
  }
  last_failure_.clear();
  if (launch) s.launch = Vmcs::Launch::launched;  // ch. 31 "VMLAUNCH": launch state := "launched"
  return {K::entered, 0};
}

// §28.5 "Loading Host State", used by a VM-entry failure (§27.8 loads host state as a VM exit does).
void VmxCpu::load_host_state(const Vmcs& s) {
  namespace x = v::exit_ctl;
  const uint32_t exitc = uint32_t(s.get(v::kExitControls));
  const bool host64 = exitc & x::kHostAddressSpaceSize;
  constexpr uint64_t kCr0Et = 1u << 4;
  c_.cr0 = s.get(v::kHostCr0) | kCr0Et;  // §28.5.1: ET is fixed to 1 on Intel 64
  c_.cr3 = s.get(v::kHostCr3);
  c_.cr4 = s.get(v::kHostCr4);
  c_.dr7 = 0x400;                          // §28.5.1: DR7 = 400H
  c_.sysenter_cs = s.get(v::kHostSysenterCs);
  c_.sysenter_esp = s.get(v::kHostSysenterEsp);
  c_.sysenter_eip = s.get(v::kHostSysenterEip);
  constexpr uint64_t kLme = 1u << 8, kLma = 1u << 10;
  if (exitc & x::kLoadEfer) c_.efer = s.get(v::kHostEfer);
  else c_.efer = host64 ? (c_.efer | kLme | kLma) : (c_.efer & ~(kLme | kLma));  // LMA/LME = host address-space size
  if (exitc & x::kLoadPat) c_.pat = s.get(v::kHostPat);
  // §28.5.2 segments: flat, DPL 0; CS L = host address-space size; null SS/DS/ES/FS/GS unusable.
  constexpr uint16_t kS = 1u << 4, kP = 1u << 7, kL = 1u << 9, kDb = 1u << 10, kG = 1u << 11;
  c_.cs = Segment{uint16_t(s.get(v::kHostCsSelector)), 0, 0xFFFFFFFF,
                  uint16_t(11 | kS | kP | kG | (host64 ? kL : kDb))};
  auto data = [&](uint32_t sel_f, uint64_t base) {
    const uint16_t sel = uint16_t(s.get(sel_f));
    return sel ? Segment{sel, base, 0xFFFFFFFF, uint16_t(3 | kS | kP | kDb | kG)} : Segment{0, base, 0, 0};
  };
  c_.ss = data(v::kHostSsSelector, 0);
  c_.ds = data(v::kHostDsSelector, 0);
  c_.es = data(v::kHostEsSelector, 0);
  c_.fs = data(v::kHostFsSelector, s.get(v::kHostFsBase));
  c_.gs = data(v::kHostGsSelector, s.get(v::kHostGsBase));
  c_.tr = Segment{uint16_t(s.get(v::kHostTrSelector)), s.get(v::kHostTrBase), 0x67, uint16_t(11 | kP)};
  c_.ldtr = Segment{};                                 // LDTR unusable
  c_.gdtr = Segment{0, s.get(v::kHostGdtrBase), 0xFFFF, 0};  // limits 0FFFFH
  c_.idtr = Segment{0, s.get(v::kHostIdtrBase), 0xFFFF, 0};
  c_.gpr[cpu::RSP] = s.get(v::kHostRsp);
  c_.rip() = s.get(v::kHostRip);
  c_.set_rflags(2);  // §28.5.3: RFLAGS cleared except bit 1
  c_.set_cpl(0);
  // §28.5.5: with "enable VPID" 0 the exit invalidates VPID 0000H's mappings (the host's); with
  // VPIDs on, the host's translations survive the round trip (the guest's are tagged apart).
  const uint64_t procc = s.get(v::kPrimaryProcControls);
  const bool vpid = (procc & v::proc::kActivateSecondary) && (s.get(v::kSecondaryProcControls) & v::proc2::kEnableVpid);
  if (!vpid) c_.flush_tlb_all_current();
  c_.update_mode();
}

// ---- the instructions (#UD / #GP checks of each "Operation" section, then the operation) ----
void VmxCpu::apply_flags(cpu::Cpu& c, const VmResult& r) {
  // §31.2: VMsucceed clears CF PF AF ZF SF OF; VMfailInvalid sets CF; VMfailValid sets ZF.
  switch (r.kind) {
    case K::succeed: c.set_status(v::kVmSucceedFlags); break;
    case K::fail_invalid: c.set_status(v::kVmFailInvalidFlags); break;
    case K::fail_valid: c.set_status(v::kVmFailValidFlags); break;
    default: break;  // entry failure: the host state (RFLAGS = 2) is already loaded
  }
}

void VmxCpu::instruction(cpu::Cpu& c, const cpu::VmxOperands& o) {
  using I = cpu::VmxInsn;
  if (&c != &c_) throw CpuError("VMX model attached to another CPU");
  if (c.guest) return guest_vmx_instruction(c, o);  // VMX non-root operation
  // Every VMX instruction but VMCALL: #UD in compatibility mode (LMA = 1, CS.L = 0), in real and
  // virtual-8086 mode (not executed by the model). 32-bit protected mode: not modelled.
  if (c.mode() == cpu::Mode::compat32 && o.insn != I::vmcall) c.ud();
  if (c.mode() != cpu::Mode::long64 && c.mode() != cpu::Mode::compat32)
    throw CpuError("VMX instructions outside 64-bit mode: not modelled");
  if (o.insn == I::vmxon) {
    if (!o.mem || !(c.cr4 & (1u << 13))) c.ud();  // register operand or CR4.VMXE = 0: #UD
    if (!vmx_operation_) {
      namespace fc = v::feature_control;
      // #GP(0): CPL > 0, CR0/CR4 not allowed in VMX operation, IA32_FEATURE_CONTROL unlocked, or
      // VMX outside SMX disabled outside SMX operation / VMX inside SMX disabled in it (§24.7, "VMXON").
      const uint64_t need = smx_operation ? fc::kVmxInsideSmx : fc::kVmxOutsideSmx;
      if (c.cpl > 0 || !cr_fixed_ok(c.cr0, kCr0Fixed0, kCr0Fixed1) || !cr_fixed_ok(c.cr4, kCr4Fixed0, cr4_fixed1()) ||
          !(feature_control_ & fc::kLock) || !(feature_control_ & need))
        c.gp(0);
      const uint64_t pa = c.rd<uint64_t>(o.addr);
      return apply_flags(c, vmxon(pa));
    }
    if (c.cpl > 0) c.gp(0);
    return apply_flags(c, vmxon(0));  // VMfail(15)
  }
  if (!vmx_operation_) c.ud();  // outside VMX operation the others are #UD
  if (c.cpl > 0) c.gp(0);       // VMX root operation at CPL > 0: #GP(0)
  switch (o.insn) {
    case I::vmxoff: return apply_flags(c, vmxoff());
    case I::vmclear: case I::vmptrld: {
      if (!o.mem) c.ud();
      const uint64_t pa = c.rd<uint64_t>(o.addr);
      return apply_flags(c, o.insn == I::vmclear ? vmclear(pa) : vmptrld(pa));
    }
    case I::vmptrst:
      if (!o.mem) c.ud();
      c.wr<uint64_t>(o.addr, current_);
      return apply_flags(c, {});
    case I::vmread: {
      uint64_t val = 0;
      const VmResult r = vmread(c.gpr[o.reg], val);
      if (r.kind == K::succeed) {
        if (o.mem) c.wr<uint64_t>(o.addr, val);  // 64-bit mode: 64-bit destination
        else c.gpr[o.rm_reg] = val;
      }
      return apply_flags(c, r);
    }
    case I::vmwrite: {
      // "VMWRITE": the failures come first; only then is a memory source operand read.
      if (const VmResult r = vmwrite_check(c.gpr[o.reg]); r.kind != K::succeed) return apply_flags(c, r);
      const uint64_t val = o.mem ? c.rd<uint64_t>(o.addr) : c.gpr[o.rm_reg];
      return apply_flags(c, vmwrite(c.gpr[o.reg], val));
    }
    case I::vmlaunch: case I::vmresume: {
      const VmResult r = vmentry(o.insn == I::vmlaunch);
      if (r.kind == K::entered) return enter_guest(vmcs_[current_]);  // the guest runs from here (vmx_guest.cpp)
      return apply_flags(c, r);
    }
    case I::vmcall: return apply_flags(c, vmcall());
    case I::invept: case I::invvpid: {
      // INVEPT types 1 (single context) and 2 (global); INVVPID types 0-3 (ch. 31). Other types
      // or a bad descriptor: VMfailValid(28) via VMfail.
      if (!o.mem) c.ud();
      const uint64_t type = c.gpr[o.reg];
      const uint64_t d0 = c.rd<uint64_t>(o.addr), d1 = c.rd<uint64_t>(o.addr + 8);
      bool bad;
      if (o.insn == I::invept) {
        bad = type != 1 && type != 2;
      } else {
        bad = type > 3 || (d0 >> 16) != 0 || (type != 2 && (d0 & 0xFFFF) == 0) ||
              (type == 0 && int64_t(d1 << 16) >> 16 != int64_t(d1));
      }
      if (bad) return apply_flags(c, fail(v::kErrInvalidInvOperand));
      if (o.insn == I::invept) {
        // §29.4.3.1: INVEPT invalidates guest-physical and combined mappings. Entries are not
        // tagged with an EPTP here, so every guest (VPID != 0) entry goes: a permitted superset.
        c.tlb.flush_all_but(0);
        c.flush_soft_tlb();
        return apply_flags(c, {});
      }
      // §29.4.3.1 and INVVPID "Operation" (ch. 31): 0 individual address, 1 single context,
      // 2 all contexts except VPID 0000H, 3 single context retaining global translations.
      const uint32_t vpid = uint32_t(d0 & 0xFFFF);
      switch (type) {
        case 0: c.tlb_flush_va(vpid, d1); break;
        case 1: c.tlb_flush_asid(vpid, false); break;
        case 2: c.tlb.flush_all_but(0); c.flush_soft_tlb(); break;
        default: c.tlb_flush_asid(vpid, true); break;
      }
      return apply_flags(c, {});
    }
    case I::vmxon: break;
  }
}

}  // namespace redoubt::sim::vmx
