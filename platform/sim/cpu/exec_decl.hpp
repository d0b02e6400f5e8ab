// Non-template handlers (exec_misc.cpp, exec_sys.cpp).
#pragma once
#include "platform/sim/cpu/exec.hpp"

namespace redoubt::sim::cpu::exec {

// Before iteration `iter` of a REP string or I/O instruction (string_op, io): true when it ends here —
// rCX is 0 (done), or c.rep_chunk iterations have run in this step: rIP stays at the instruction, which
// runs again, so interrupts, the host timer and the instruction budget see the guest between
// iterations (APM vol. 3, "REP": interruptible, rCX and the pointers updated; a REP with RCX = 2^63
// hung the simulator: fuzz_x86_decode, issue 16).
inline bool rep_ends_here(Cpu& c, uint64_t iter, bool asz32) {
  if ((asz32 ? uint64_t(uint32_t(c.gpr[RCX])) : c.gpr[RCX]) == 0) return true;
  if (iter != c.rep_chunk) return false;
  c.rip() = c.cur_rip;
  c.end_block();
  return true;
}

// exec_misc.cpp
void mul1(Cpu&, const Op&);
void div1(Cpu&, const Op&);
void imul2(Cpu&, const Op&);
void xchg(Cpu&, const Op&);
void cmpxchg(Cpu&, const Op&);
void xadd(Cpu&, const Op&);
void bswap(Cpu&, const Op&);
void bt(Cpu&, const Op&);
void shxd(Cpu&, const Op&);      // SHLD / SHRD
void bsf(Cpu&, const Op&);
void cvt(Cpu&, const Op&);
void push_rm(Cpu&, const Op&);
void pop_rm(Cpu&, const Op&);
void leave(Cpu&, const Op&);
void flagop(Cpu&, const Op&);
void nop(Cpu&, const Op&);
void ud(Cpu&, const Op&);
void string_op(Cpu&, const Op&);

// exec_sys.cpp
void cpuid(Cpu&, const Op&);
void rdtsc(Cpu&, const Op&);
void rdtscp(Cpu&, const Op&);
void hlt(Cpu&, const Op&);
void pause(Cpu&, const Op&);
void invlpg(Cpu&, const Op&);
void invlpga(Cpu&, const Op&);
void svm_insn(Cpu&, const Op&);   // VMMCALL VMRUN VMLOAD VMSAVE STGI CLGI SKINIT (cc selects)
void vmx_insn(Cpu&, const Op&);   // VMXON ... INVVPID (cc = VmxInsn), Intel model only
void io(Cpu&, const Op&);         // IN OUT INS OUTS
void rdmsr(Cpu&, const Op&);
void wrmsr(Cpu&, const Op&);
void mov_cr(Cpu&, const Op&);
void mov_dr(Cpu&, const Op&);
void desc_table(Cpu&, const Op&); // LGDT LIDT SGDT SIDT (cc)
void ltr(Cpu&, const Op&);
void store_sys_selector(Cpu&, const Op&);  // STR / SLDT
void smsw(Cpu&, const Op&);      // cc bit 0: memory (exec_seg_query.cpp)
void lar(Cpu&, const Op&);       // cc bit 0: memory source
void lsl(Cpu&, const Op&);
void verrw(Cpu&, const Op&);     // cc bit 0: memory, bit 1: VERW
void cli(Cpu&, const Op&);
void sti(Cpu&, const Op&);
void pushf(Cpu&, const Op&);     // o.w: operand size (PUSHFQ / PUSHFD)
void popf(Cpu&, const Op&);
void intn(Cpu&, const Op&);
void int3(Cpu&, const Op&);
void swapgs(Cpu&, const Op&);
void mov_to_sreg(Cpu&, const Op&);
void mov_from_sreg(Cpu&, const Op&);
void cache_insn(Cpu&, const Op&); // WBINVD INVD (cc)

}  // namespace redoubt::sim::cpu::exec
