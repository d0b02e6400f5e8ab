#include "platform/sim/svm/vmcb_state.hpp"

#include "arch/svm/exit_codes.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/paging.hpp"

namespace redoubt::sim::svm {

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

void load_controls(cpu::Cpu& c, PhysicalMemory& mem, const rs::VmcbControl& ctl) {
  c.guest = true;
  c.asid = ctl.guest_asid;
  c.ctl.icpt_cr = ctl.intercept_cr;
  c.ctl.icpt_dr = ctl.intercept_dr;
  c.ctl.icpt_exc = ctl.intercept_exc;
  c.ctl.icpt_misc1 = ctl.intercept_misc1;
  c.ctl.icpt_misc2 = ctl.intercept_misc2;
  c.ctl.iopm = mem.map(ctl.iopm_base_pa & ~0xFFFull, rs::kIopmSize);
  c.ctl.msrpm = mem.map(ctl.msrpm_base_pa & ~0xFFFull, rs::kMsrpmSize);
  c.ctl.tsc_offset = ctl.tsc_offset;
  c.ctl.np = ctl.np_enable & rs::kNpEnable;
  c.ctl.ncr3 = ctl.n_cr3;
  c.ctl.v_intr_masking = (ctl.vintr >> 24) & 1;
  c.ctl.v_tpr = uint8_t(ctl.vintr & 0xF);  // V_TPR: what the guest's CR8 reads and writes (§15.21.4)
  // TLB_CONTROL (APM vol. 2 §15.16.1): the soft-TLB banks of the flushed ASIDs go with it;
  // otherwise the guest's translations (and its soft-TLB bank) survive the world switch.
  // The caller selects the bank (Cpu::select_context) once CPL is loaded too.
  switch (ctl.tlb_control) {
    case rs::kTlbDoNothing: break;
    case rs::kTlbFlushAsid: c.tlb_flush_asid(c.asid, false); break;
    case rs::kTlbFlushAsidLocal: c.tlb_flush_asid(c.asid, true); break;
    default: c.tlb_flush_all(); break;  // 1, and reserved encodings treated as a full flush
  }
  c.shadow_end = (ctl.interrupt_shadow & 1) ? c.icount : ~0ull;
}

void load_vmrun_state(cpu::Cpu& c, const rs::VmcbSave& s) {
  // The segment caches are assigned directly and the mode is decided once, from the whole new
  // state (CS, CR0, EFER, RFLAGS), at the end (Cpu::update_mode).
  c.es = from_vmcb(s.es);
  c.cs = from_vmcb(s.cs);
  c.ss = from_vmcb(s.ss);
  c.ds = from_vmcb(s.ds);
  c.gdtr = from_vmcb(s.gdtr);
  c.idtr = from_vmcb(s.idtr);
  c.cpl = s.cpl;
  const bool lma = (s.efer & kEferLme) && (s.cr0 & kCr0Pg);
  c.efer = lma ? s.efer | kEferLma : s.efer & ~kEferLma;
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
  c.pat = s.g_pat;
  c.update_mode();
}

void store_vmrun_state(const cpu::Cpu& c, rs::VmcbSave& o) {
  o.es = to_vmcb(c.es);
  o.cs = to_vmcb(c.cs);
  o.ss = to_vmcb(c.ss);
  o.ds = to_vmcb(c.ds);
  o.gdtr = to_vmcb(c.gdtr);
  o.idtr = to_vmcb(c.idtr);
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
  o.g_pat = c.pat;
}

void load_hidden_state(cpu::Cpu& c, const rs::VmcbSave& s) {
  c.fs = from_vmcb(s.fs);
  c.gs = from_vmcb(s.gs);
  c.ldtr = from_vmcb(s.ldtr);
  c.tr = from_vmcb(s.tr);
  c.star = s.star;
  c.lstar = s.lstar;
  c.cstar = s.cstar;
  c.sfmask = s.sfmask;
  c.kernel_gs_base = s.kernel_gs_base;
  c.sysenter_cs = s.sysenter_cs;
  c.sysenter_esp = s.sysenter_esp;
  c.sysenter_eip = s.sysenter_eip;
  c.update_mode();  // FS/GS bases
}

void store_hidden_state(const cpu::Cpu& c, rs::VmcbSave& o) {
  o.fs = to_vmcb(c.fs);
  o.gs = to_vmcb(c.gs);
  o.ldtr = to_vmcb(c.ldtr);
  o.tr = to_vmcb(c.tr);
  o.star = c.star;
  o.lstar = c.lstar;
  o.cstar = c.cstar;
  o.sfmask = c.sfmask;
  o.kernel_gs_base = c.kernel_gs_base;
  o.sysenter_cs = c.sysenter_cs;
  o.sysenter_esp = c.sysenter_esp;
  o.sysenter_eip = c.sysenter_eip;
}

void inject_pending_event(cpu::Cpu& c, const rs::VmcbControl& ctl) {
  if (!(ctl.eventinj & rs::event_inj::kValid)) return;
  cpu::Event ev;
  ev.vector = uint8_t(ctl.eventinj & rs::event_inj::kVectorMask);
  ev.type = uint8_t((ctl.eventinj >> rs::event_inj::kTypeShift) & 7);
  ev.has_error = ctl.eventinj & rs::event_inj::kErrorValid;
  ev.error = uint32_t(ctl.eventinj >> rs::event_inj::kErrorCodeShift);
  c.inject(ev);
}

void store_exit_info(const cpu::Cpu& c, rs::VmcbControl& oc) {
  oc.interrupt_shadow = c.in_shadow() ? 1 : 0;
  // V_TPR is written back at #VMEXIT (APM vol. 2 §15.21.4): with V_INTR_MASKING the guest's
  // CR8 lives here, never in the physical TPR another guest would see.
  if (c.ctl.v_intr_masking) oc.vintr = (oc.vintr & ~0xFull) | c.ctl.v_tpr;
  oc.eventinj &= ~rs::event_inj::kValid;  // consumed
  oc.exitcode = c.exitcode;
  oc.exitinfo1 = c.exitinfo1;
  oc.exitinfo2 = c.exitinfo2;
  oc.exitintinfo = c.exitintinfo;
  oc.next_rip = c.nrip;
}

const char* guest_mode_unsupported(const rs::VmcbSave& s) {
  // What the interpreter executes (docs/simulator-cpu.md): 64-bit and compatibility mode,
  // and 32-bit protected mode without paging. Anything else is a limit of the model,
  // answered as VMEXIT_INVALID (never an exception out of VMRUN).
  if (!(s.cr0 & kCr0Pe)) return "the simulated CPU does not model real mode (guest CR0.PE = 0)";
  if ((s.cr0 & kCr0Pg) && !(s.efer & kEferLme))
    return "the simulated CPU does not model legacy paging (guest CR0.PG = 1 with EFER.LME = 0)";
  if (s.rflags & redoubt::x86::kRflagsVm) return "the simulated CPU does not model virtual-8086 mode";
  const bool lma = (s.efer & kEferLme) && (s.cr0 & kCr0Pg);
  if (!(lma && (s.cs.attrib & (1u << 9))) && !(s.cs.attrib & (1u << 10)))
    return "the simulated CPU does not model 16-bit code (guest CS.L = CS.D = 0)";
  return nullptr;
}

}  // namespace redoubt::sim::svm
