// Far control transfers, IRET and segment-register loads in protected and
// long mode (AMD APM vol. 3 "JMP (Far)", "CALL (Far)", "RET (Far)", "IRET",
// "MOV (Segment)", "POP (Segment)"; vol. 2 §4.8 long-mode segments). Modelled:
// transfers to code segments at the same privilege level (and IRET/RETF back
// to code at the same or, in long mode via IRET, an outer level). Call gates,
// task switches, RETF to an outer level and virtual-8086 returns raise CpuError.
#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/x86/control_regs.hpp"
#include "platform/sim/cpu/exec_mode.hpp"

namespace redoubt::sim::cpu::exec {

using namespace redoubt::x86;
namespace s = redoubt::svm;

namespace {

uint32_t sel_error(uint16_t sel) { return sel & 0xFFFC; }
bool long_mode(const Cpu& c) { return c.efer & kEferLma; }

// Reads the descriptor of a non-null selector; system descriptors (gates, TSS) are refused.
Segment code_descriptor(Cpu& c, uint16_t sel) {
  if ((sel & 0xFFFC) == 0) c.gp(0);
  Segment d = c.read_descriptor(sel);  // #GP(sel) beyond the GDT limit or TI = 1
  if (!(d.attrib & kSegS)) {
    const unsigned type = d.attrib & kSegTypeMask;
    if (type == 0x4 || type == 0xC || type == 0x5 || type == 0x9 || type == 0x1)  // call/task gates, TSS
      throw CpuError("far transfer through a call gate, task gate or TSS: not modelled");
    c.gp(sel_error(sel));
  }
  if (!(d.attrib & kSegCode)) c.gp(sel_error(sel));
  return d;
}

void check_present_and_mode(Cpu& c, const Segment& d, uint16_t sel) {
  if (!(d.attrib & kSegPresent)) c.fault(11, sel_error(sel));  // #NP(sel)
  // L = 1 with D = 1 is reserved in long mode (APM vol. 2 §4.8.1).
  if (long_mode(c) && (d.attrib & kSegL) && (d.attrib & kSegDb)) c.gp(sel_error(sel));
}

// JMP/CALL far to a code segment (same privilege): non-conforming needs RPL <= CPL and
// DPL == CPL, conforming DPL <= CPL; CS.RPL becomes CPL.
Segment jump_target(Cpu& c, uint16_t sel) {
  Segment d = code_descriptor(c, sel);
  const unsigned dpl = seg_dpl(d.attrib), rpl = sel & 3;
  if (d.attrib & kSegConforming) {
    if (dpl > c.cpl) c.gp(sel_error(sel));
  } else if (rpl > c.cpl || dpl != c.cpl) {
    c.gp(sel_error(sel));
  }
  check_present_and_mode(c, d, sel);
  d.selector = uint16_t((sel & ~3u) | c.cpl);
  return d;
}

// RETF/IRET: RPL >= CPL; non-conforming needs DPL == RPL, conforming DPL <= RPL.
Segment return_target(Cpu& c, uint16_t sel) {
  Segment d = code_descriptor(c, sel);
  const unsigned dpl = seg_dpl(d.attrib), rpl = sel & 3;
  if (rpl < c.cpl) c.gp(sel_error(sel));
  if (d.attrib & kSegConforming) {
    if (dpl > rpl) c.gp(sel_error(sel));
  } else if (dpl != rpl) {
    c.gp(sel_error(sel));
  }
  check_present_and_mode(c, d, sel);
  d.selector = sel;
  return d;
}

// The new rIP: canonical for a 64-bit target, else within CS.limit (#GP(0) either way).
uint64_t target_offset(Cpu& c, const Segment& ncs, uint64_t off) {
  if (long_mode(c) && (ncs.attrib & kSegL)) {
    if (uint64_t(int64_t(off << 16) >> 16) != off) c.gp(0);
  } else if (off > ncs.limit) {
    c.gp(0);
  }
  return off;
}

void load_cs(Cpu& c, const Segment& ncs, uint64_t rip) {
  c.set_descriptor_accessed(ncs.selector);
  c.cs = ncs;
  c.cs.attrib |= kSegAccessed;
  c.gpr[kRip] = rip;
  c.update_mode();  // CS.L / CS.D decide the mode from the next instruction on
  c.end_block();
}

void far_pointer(Cpu& c, const Op& o, uint64_t& off, uint16_t& sel) {
  if (o.cc & 1) {
    const uint64_t a = ea(c, o);
    off = rmem_w(c, a, o.w);
    sel = c.rd<uint16_t>(a + o.w);
  } else {
    off = uint32_t(o.imm);
    sel = uint16_t(o.imm >> 32);
  }
}

// The SS loaded by IRET to an outer level in long mode (APM vol. 3 "IRET": null SS only for
// a 64-bit target below CPL 3).
Segment iret_stack_segment(Cpu& c, uint16_t sel, unsigned new_cpl, bool to_64bit) {
  if ((sel & 0xFFFC) == 0) {
    if (!to_64bit || new_cpl == 3) c.gp(0);
    Segment v;
    v.selector = sel;
    return v;
  }
  if ((sel & 3) != new_cpl) c.gp(sel_error(sel));
  Segment d = c.read_descriptor(sel);
  if (!(d.attrib & kSegS) || (d.attrib & kSegCode) || !(d.attrib & kSegWritable) || seg_dpl(d.attrib) != new_cpl)
    c.gp(sel_error(sel));
  if (!(d.attrib & kSegPresent)) c.fault(12, sel_error(sel));  // #SS(sel)
  c.set_descriptor_accessed(sel);
  d.attrib |= kSegAccessed;
  d.selector = sel;
  return d;
}

}  // namespace

void far_jmp(Cpu& c, const Op& o) {
  uint64_t off;
  uint16_t sel;
  far_pointer(c, o, off, sel);
  const Segment ncs = jump_target(c, sel);
  const uint64_t rip = target_offset(c, ncs, off);
  load_cs(c, ncs, rip);
}

void far_call(Cpu& c, const Op& o) {
  uint64_t off;
  uint16_t sel;
  far_pointer(c, o, off, sel);
  const Segment ncs = jump_target(c, sel);
  const uint64_t rip = target_offset(c, ncs, off);
  StackCursor st(c);
  st.push(c.cs.selector, o.w);  // CS zero-extended to the operand size, then the return rIP
  st.push(c.gpr[kRip], o.w);
  st.commit();
  load_cs(c, ncs, rip);
}

void far_ret(Cpu& c, const Op& o) {
  StackCursor st(c);
  const uint64_t off = st.pop(o.w);
  const uint16_t sel = uint16_t(st.pop(o.w));
  const Segment ncs = return_target(c, sel);
  if ((sel & 3) != c.cpl) throw CpuError("RETF to an outer privilege level: not modelled");
  const uint64_t rip = target_offset(c, ncs, off);
  st.release(o.imm);
  st.commit();
  load_cs(c, ncs, rip);
}

void iret(Cpu& c, const Op& o) {
  if (c.misc1(s::kInterceptIret)) return c.vmexit(s::kExitIret, 0, 0);
  const bool lm = long_mode(c);
  if (c.rflags_sys & kRflagsNt) {
    if (lm) c.gp(0);  // no task return in long mode
    throw CpuError("IRET with RFLAGS.NT = 1 (task return): not modelled");
  }
  StackCursor st(c);
  const uint64_t rip = st.pop(o.w);
  const uint16_t sel = uint16_t(st.pop(o.w));
  const uint64_t fl = st.pop(o.w);
  if (!lm && (fl & kRflagsVm) && c.cpl == 0) throw CpuError("IRET to virtual-8086 mode: not modelled");
  const Segment ncs = return_target(c, sel);
  const unsigned rpl = sel & 3;
  const bool to_64bit = lm && (ncs.attrib & kSegL);
  const bool pops_stack = c.mode() == Mode::long64 || rpl > c.cpl;  // 64-bit IRET always pops SS:rSP
  if (!lm && rpl > c.cpl) throw CpuError("IRET to an outer privilege level in legacy mode: not modelled");
  uint64_t new_rsp = 0;
  Segment nss = c.ss;
  if (pops_stack) {
    new_rsp = st.pop(o.w);
    nss = iret_stack_segment(c, uint16_t(st.pop(o.w)), rpl, to_64bit);
  }
  const uint64_t new_rip = target_offset(c, ncs, rip);
  // RFLAGS: IOPL only at CPL 0, IF only when CPL <= IOPL; VM, VIF, VIP unchanged (no v86 here).
  uint64_t keep = kRflagsVm | kRflagsVif | kRflagsVip;
  if (c.cpl > 0) keep |= kRflagsIopl;
  if (c.cpl > ((c.rflags_sys >> 12) & 3)) keep |= kRflagsIf;
  const uint64_t cur = c.rflags();
  c.set_rflags(((fl & 0x3F7FD5ull) & ~keep) | (cur & keep));
  if (pops_stack) {
    c.ss = nss;
    c.gpr[RSP] = new_rsp;
  } else {
    st.commit();
  }
  c.set_cpl(uint8_t(rpl));
  load_cs(c, ncs, new_rip);
}

Segment data_segment(Cpu& c, unsigned n, uint16_t sel) {
  const unsigned rpl = sel & 3;
  if ((sel & 0xFFFC) == 0) {
    // A null selector: fine for ES/DS/FS/GS; for SS only in 64-bit mode at CPL < 3 with RPL = CPL.
    if (n == kSs && !(c.mode() == Mode::long64 && c.cpl != 3 && rpl == c.cpl)) c.gp(0);
    Segment v;
    v.selector = sel;
    return v;
  }
  Segment d = c.read_descriptor(sel);  // #GP(sel) beyond the GDT limit or TI = 1
  const unsigned dpl = seg_dpl(d.attrib);
  const bool code = d.attrib & kSegCode;
  if (!(d.attrib & kSegS)) c.gp(sel_error(sel));
  if (n == kSs) {
    if (rpl != c.cpl || code || !(d.attrib & kSegWritable) || dpl != c.cpl) c.gp(sel_error(sel));
    if (!(d.attrib & kSegPresent)) c.fault(12, sel_error(sel));  // #SS(sel)
  } else {
    if (code && !(d.attrib & kSegReadable)) c.gp(sel_error(sel));
    if ((!code || !(d.attrib & kSegConforming)) && (rpl > dpl || c.cpl > dpl)) c.gp(sel_error(sel));
    if (!(d.attrib & kSegPresent)) c.fault(11, sel_error(sel));  // #NP(sel)
  }
  c.set_descriptor_accessed(sel);
  d.attrib |= kSegAccessed;
  d.selector = sel;
  return d;
}

void push_sreg(Cpu& c, const Op& o) {
  const Segment* segs[] = {&c.es, &c.cs, &c.ss, &c.ds, &c.fs, &c.gs};
  StackCursor st(c);
  st.push(segs[o.cc]->selector, o.w);  // zero-extended to the slot
  st.commit();
}

void pop_sreg(Cpu& c, const Op& o) {
  Segment* segs[] = {&c.es, &c.cs, &c.ss, &c.ds, &c.fs, &c.gs};
  StackCursor st(c);
  const uint16_t sel = uint16_t(st.pop(o.w));
  const Segment v = data_segment(c, o.cc, sel);
  st.commit();
  *segs[o.cc] = v;
  c.update_mode();  // segment bases
  if (o.cc == kSs) c.shadow_end = c.icount + 1;  // POP SS shadow, as MOV SS
  c.end_block();
}

}  // namespace redoubt::sim::cpu::exec
