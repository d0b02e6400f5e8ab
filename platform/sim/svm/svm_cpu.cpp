// VMRUN and #VMEXIT (AMD APM vol. 2 §15.5-§15.6): load the guest from the
// VMCB, run the interpreter in guest mode, store the guest back.
#include "platform/sim/svm/svm_cpu.hpp"

#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/flags.hpp"
#include "platform/sim/svm/vmrun_checks.hpp"

namespace redoubt::sim {

namespace rs = redoubt::svm;
using namespace redoubt::x86;

namespace {
Segment from_vmcb(const rs::VmcbSegment& s) {
  Segment r;
  r.selector = s.selector;
  r.attrib = s.attrib;
  r.limit = s.limit;
  r.base = s.base;
  return r;
}
rs::VmcbSegment to_vmcb(const Segment& s) {
  rs::VmcbSegment r{};
  r.selector = s.selector;
  r.attrib = s.attrib;
  r.limit = s.limit;
  r.base = s.base;
  return r;
}
}  // namespace

SvmCpu::SvmCpu(Machine& m) : m_(m), cpu_(m.mem()) {}

Status SvmCpu::enable(uint64_t hsave_pa) {
  if (hsave_pa & 0xFFF) return Status::fail(Err::fault, "VM_HSAVE_PA 0x%llx is not 4 KiB aligned (#GP)", (unsigned long long)hsave_pa);
  if (!m_.mem().contains(hsave_pa, 4096))
    return Status::fail(Err::fault, "VM_HSAVE_PA 0x%llx is outside RAM", (unsigned long long)hsave_pa);
  cpu_.efer |= kEferSvme;
  cpu_.vm_hsave_pa = hsave_pa;
  return Status::ok();
}

void SvmCpu::invlpga(uint64_t va, uint32_t asid) {
  cpu_.tlb.flush_va(asid, va);
  cpu_.flush_soft_tlb();
}

void SvmCpu::arm_timer(uint64_t deadline_tsc, uint8_t vector) {
  cpu_.timer_armed = true;
  cpu_.timer_deadline = deadline_tsc;
  cpu_.timer_vector = vector;
}

void SvmCpu::vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs) {
  static_assert(sizeof(hal::GuestGprs) == sizeof(GuestGprs), "the same 16 registers in encoding order");
  GuestGprs r;
  std::memcpy(&r, &regs, sizeof r);
  vmrun(vmcb_pa, r);
  std::memcpy(&regs, &r, sizeof r);
}

void SvmCpu::vmrun(uint64_t vmcb_pa, GuestGprs& regs) {
  using cpu::CpuError;
  if (!(cpu_.efer & kEferSvme)) throw CpuError("VMRUN with EFER.SVME = 0 (#UD): call enable() first");
  if (!cpu_.vm_hsave_pa) throw CpuError("VMRUN without VM_HSAVE_PA (#GP)");
  if (vmcb_pa & 0xFFF) throw CpuError("VMRUN: VMCB address not 4 KiB aligned (#GP)");
  uint8_t* raw = m_.mem().map(vmcb_pa, sizeof(rs::Vmcb));
  if (!raw) throw CpuError("VMRUN: VMCB outside RAM (#GP)");
  auto* v = reinterpret_cast<rs::Vmcb*>(raw);
  ++cpu_.counters.vmruns;
  invalid_reason_ = svm::vmrun_check(*v, m_.mem().size());
  if (invalid_reason_) {
    v->control.exitcode = rs::kExitInvalid;
    ++cpu_.counters.exits[rs::kExitInvalid];
    return;
  }
  const auto& s = v->save;
  auto& c = cpu_;
  const bool lma = (s.efer & kEferLme) && (s.cr0 & kCr0Pg);
  if (!lma || !(s.cs.attrib & (1u << 9)))
    throw CpuError("VMRUN: the simulated CPU executes 64-bit guests only (EFER.LME, CR0.PG and CS.L must be set)");

  // ---- world switch in: control state ----
  const auto& ctl = v->control;
  c.guest = true;
  c.asid = ctl.guest_asid;
  c.ctl.icpt_cr = ctl.intercept_cr;
  c.ctl.icpt_dr = ctl.intercept_dr;
  c.ctl.icpt_exc = ctl.intercept_exc;
  c.ctl.icpt_misc1 = ctl.intercept_misc1;
  c.ctl.icpt_misc2 = ctl.intercept_misc2;
  c.ctl.iopm = m_.mem().map(ctl.iopm_base_pa & ~0xFFFull, rs::kIopmSize);
  c.ctl.msrpm = m_.mem().map(ctl.msrpm_base_pa & ~0xFFFull, rs::kMsrpmSize);
  c.ctl.tsc_offset = ctl.tsc_offset;
  c.ctl.np = ctl.np_enable & rs::kNpEnable;
  c.ctl.ncr3 = ctl.n_cr3;
  c.ctl.v_intr_masking = (ctl.vintr >> 24) & 1;
  // TLB_CONTROL (APM vol. 2 §15.16.1).
  switch (ctl.tlb_control) {
    case rs::kTlbDoNothing: break;
    case rs::kTlbFlushAsid: c.tlb.flush_asid(c.asid, false); break;
    case rs::kTlbFlushAsidLocal: c.tlb.flush_asid(c.asid, true); break;
    default: c.tlb.flush_all(); break;  // 1, and reserved encodings treated as a full flush
  }
  c.flush_soft_tlb();
  c.code_modified_externally();  // the host may have rewritten guest code since the last run

  // ---- guest state ----
  c.load_segment_cache(c.es, from_vmcb(s.es));
  c.load_segment_cache(c.cs, from_vmcb(s.cs));
  c.load_segment_cache(c.ss, from_vmcb(s.ss));
  c.load_segment_cache(c.ds, from_vmcb(s.ds));
  c.load_segment_cache(c.fs, from_vmcb(s.fs));
  c.load_segment_cache(c.gs, from_vmcb(s.gs));
  c.gdtr = from_vmcb(s.gdtr);
  c.idtr = from_vmcb(s.idtr);
  c.ldtr = from_vmcb(s.ldtr);
  c.tr = from_vmcb(s.tr);
  c.cpl = s.cpl;
  c.efer = s.efer | kEferLma;
  c.cr0 = s.cr0;
  c.cr2 = s.cr2;
  c.cr3 = s.cr3;
  c.cr4 = s.cr4;
  c.dr6 = s.dr6;
  c.dr7 = s.dr7;
  c.set_rflags(s.rflags);
  c.gpr[cpu::kRip] = s.rip;
  c.gpr[cpu::RSP] = s.rsp;
  c.gpr[cpu::RAX] = s.rax;
  for (int i = 1; i < 16; ++i)
    if (i != cpu::RSP) c.gpr[i] = regs.r[i];
  c.star = s.star;
  c.lstar = s.lstar;
  c.cstar = s.cstar;
  c.sfmask = s.sfmask;
  c.kernel_gs_base = s.kernel_gs_base;
  c.sysenter_cs = s.sysenter_cs;
  c.sysenter_esp = s.sysenter_esp;
  c.sysenter_eip = s.sysenter_eip;
  c.pat = s.g_pat;
  c.shadow_end = (ctl.interrupt_shadow & 1) ? c.icount : ~0ull;
  c.halted = false;
  c.exitintinfo = 0;
  c.stop = cpu::Stop::none;

  const uint64_t i0 = c.icount, idle0 = c.idle_ticks;
  // EVENTINJ (APM vol. 2 §15.20): delivered before the first guest instruction,
  // not subject to intercepts itself.
  if (ctl.eventinj & rs::event_inj::kValid) {
    cpu::Event ev;
    ev.vector = uint8_t(ctl.eventinj & rs::event_inj::kVectorMask);
    ev.type = uint8_t((ctl.eventinj >> rs::event_inj::kTypeShift) & 7);
    ev.has_error = ctl.eventinj & rs::event_inj::kErrorValid;
    ev.error = uint32_t(ctl.eventinj >> rs::event_inj::kErrorCodeShift);
    c.inject(ev);
  }
  cpu::Stop st = c.stop;
  if (st == cpu::Stop::none) st = c.run(run_limit_ ? run_limit_ : ~0ull);

  // ---- #VMEXIT: store the guest back ----
  const uint64_t retired = (c.icount - i0) - (c.idle_ticks - idle0);
  c.counters.per_asid[c.asid].instructions += retired;
  auto& o = v->save;
  o.es = to_vmcb(c.es);
  o.cs = to_vmcb(c.cs);
  o.ss = to_vmcb(c.ss);
  o.ds = to_vmcb(c.ds);
  o.fs = to_vmcb(c.fs);
  o.gs = to_vmcb(c.gs);
  o.gdtr = to_vmcb(c.gdtr);
  o.idtr = to_vmcb(c.idtr);
  o.ldtr = to_vmcb(c.ldtr);
  o.tr = to_vmcb(c.tr);
  o.cpl = c.cpl;
  o.efer = c.efer;
  o.cr0 = c.cr0;
  o.cr2 = c.cr2;
  o.cr3 = c.cr3;
  o.cr4 = c.cr4;
  o.dr6 = c.dr6;
  o.dr7 = c.dr7;
  o.rflags = c.rflags();
  o.rip = c.gpr[cpu::kRip];
  o.rsp = c.gpr[cpu::RSP];
  o.rax = c.gpr[cpu::RAX];
  for (int i = 1; i < 16; ++i)
    if (i != cpu::RSP) regs.r[i] = c.gpr[i];
  o.star = c.star;
  o.lstar = c.lstar;
  o.cstar = c.cstar;
  o.sfmask = c.sfmask;
  o.kernel_gs_base = c.kernel_gs_base;
  o.sysenter_cs = c.sysenter_cs;
  o.sysenter_esp = c.sysenter_esp;
  o.sysenter_eip = c.sysenter_eip;
  o.g_pat = c.pat;
  auto& oc = v->control;
  oc.interrupt_shadow = c.in_shadow() ? 1 : 0;
  oc.eventinj &= ~rs::event_inj::kValid;  // consumed
  const cpu::Stop why = st;
  c.guest = false;
  c.asid = 0;
  c.ctl = cpu::GuestControls{};
  c.flush_soft_tlb();
  if (why == cpu::Stop::halted)
    throw CpuError("guest executed HLT (not intercepted) with no interrupt that could ever wake it");
  if (why == cpu::Stop::budget) throw CpuError("guest exceeded the VMRUN instruction limit");
  oc.exitcode = c.exitcode;
  oc.exitinfo1 = c.exitinfo1;
  oc.exitinfo2 = c.exitinfo2;
  oc.exitintinfo = c.exitintinfo;
  oc.next_rip = c.nrip;
  ++c.counters.exits[c.exitcode];
}

}  // namespace redoubt::sim
