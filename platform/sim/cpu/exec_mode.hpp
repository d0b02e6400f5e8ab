// Handlers whose behaviour depends on the execution mode: near control
// transfers and stack operations of 32-bit code (exec_stack32.cpp); far
// transfers, IRET and segment-register loads in every mode (exec_far.cpp).
#pragma once
#include "arch/x86/descriptors.hpp"
#include "platform/sim/cpu/exec.hpp"

namespace redoubt::sim::cpu::exec {

// The stack as the current mode addresses it (APM vol. 2 §2.4.5 / vol. 1 §2.2): RSP in 64-bit
// mode; otherwise SS.base + ESP, ESP wrapping at 4 GiB. A 16-bit stack (SS.B = 0) outside
// 64-bit mode is not modelled (CpuError). push/pop move a private stack pointer; commit()
// makes it architectural, so a fault half-way leaves rSP unchanged.
class StackCursor {
 public:
  explicit StackCursor(Cpu& c);
  void push(uint64_t v, unsigned w) {
    sp_ = wide_ ? sp_ - w : uint32_t(sp_ - w);
    wmem_w(c_, linear(), w, v);
  }
  uint64_t pop(unsigned w) {
    const uint64_t v = rmem_w(c_, linear(), w);
    sp_ = wide_ ? sp_ + w : uint32_t(sp_ + w);
    return v;
  }
  void release(uint64_t n) { sp_ = wide_ ? sp_ + n : uint32_t(sp_ + n); }  // RET imm16
  uint64_t sp() const { return sp_; }
  uint64_t linear() const { return wide_ ? sp_ : c_.seg_base[x86::kSs] + sp_; }
  void commit() { c_.gpr[RSP] = sp_; }

 private:
  Cpu& c_;
  bool wide_;
  uint64_t sp_;
};

// ---- exec_stack32.cpp: 32-bit code (compatibility and legacy mode), EIP wraps at 4 GiB ----
void jcc32(Cpu&, const Op&);
void jmp_rel32(Cpu&, const Op&);
void call_rel32(Cpu&, const Op&);
void jmp_ind32(Cpu&, const Op&);    // cc bit 0: memory operand
void call_ind32(Cpu&, const Op&);   // cc bit 0: memory operand
void ret32(Cpu&, const Op&);        // imm: bytes released
void push32(Cpu&, const Op&);       // cc 0 register, 1 memory, 2 immediate; w 2 or 4
void pop32(Cpu&, const Op&);        // cc 0 register, 1 memory; w 2 or 4
void leave32(Cpu&, const Op&);
// Every mode: LOOP (cc 0) LOOPE (1) LOOPNE (2) JrCXZ (3); asz32: ECX; w2 = 1: EIP wraps.
void loop(Cpu&, const Op&);
// 16-bit operand or address size where the model has no 16-bit form: CpuError.
[[noreturn]] void unsupported_16bit(Cpu&, const Op&);

// ---- exec_far.cpp ----
// Far JMP/CALL: cc bit 0 = memory operand (m16:32, m16:64 with REX.W), else ptr16:32 in
// imm (offset | selector << 32); w = offset width.
void far_jmp(Cpu&, const Op&);
void far_call(Cpu&, const Op&);
void far_ret(Cpu&, const Op&);      // RETF [imm16]; w = 4 or 8
void iret(Cpu&, const Op&);         // IRETD (w 4), IRETQ (w 8)
void push_sreg(Cpu&, const Op&);    // cc = segment number; w = stack slot width
void pop_sreg(Cpu&, const Op&);
// The descriptor cache for loading `sel` into data/stack segment register n (ES SS DS FS GS)
// with the checks of MOV/POP Sreg (APM vol. 3 "MOV (Segment)"); sets the descriptor's A bit.
Segment data_segment(Cpu& c, unsigned n, uint16_t sel);

}  // namespace redoubt::sim::cpu::exec
