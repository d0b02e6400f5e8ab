// The translator's code emitter (jit.cpp: block frame, memory, helpers; jit_ops.cpp: the
// instructions translated inline). Internal to platform/sim/cpu.
#pragma once
#define XBYAK_NO_OP_NAMES  // and/or/xor/not as and_/or_/xor_/not_ only
#include <xbyak/xbyak.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::cpu {

// Byte offsets of the Cpu fields translated code reads and writes (measured on the object).
struct JitOffsets {
  int32_t gpr, cur_rip, icount, lz_op, lz_w, lz_res, lz_dst, lz_src, lz_carry, stop_block, stlb, seg_base,
      jit_failed;
};

// Host registers of translated code:
//   rbx = Cpu*, r12 = the current effective address, r13 = RIP at block entry,
//   r14 = icount at block entry, r15 = the current soft-TLB bank, rbp = a value kept across
//   helper calls; rax rcx rdx are scratch; r8-r11 rsi rdi cache guest registers (the register
//   cache, jit.cpp) and are clobbered by every call out of translated code.
class Emitter : public Xbyak::CodeGenerator {
 public:
  Emitter(size_t max, void* buf, const JitOffsets& off) : Xbyak::CodeGenerator(max, buf), o_(off) {}

  // The whole block; false if an instruction needs the interpreter's run loop (never today).
  void block(const Block& b);
  uint64_t native_ops = 0, helper_ops = 0;

  // ---- used by the instruction emitters (jit_ops.cpp) ----
  const JitOffsets& o_;
  unsigned idx_ = 0;         // index of the instruction being translated
  uint32_t off_ = 0;         // its offset from the block's first byte
  uint32_t next_ = 0;        // offset of the next instruction
  bool hf_ = false;          // the host's status flags equal the guest's (set by the last op)
  bool wrote_rip_ = false;   // the instruction stored RIP itself (a branch)

  Xbyak::Address g(unsigned byte_off, unsigned w);  // guest register at a byte offset into gpr[]
  Xbyak::Address f(int32_t off, unsigned w) { return field(off, w); }
  Xbyak::Address field(int32_t off, unsigned w);
  void load_reg(const Xbyak::Reg64& r, unsigned byte_off, unsigned w);   // zero-extended
  void store_reg(unsigned byte_off, unsigned w, const Xbyak::Reg64& r);  // W=4 zero-extends
  void ea(const Op& op, bool with_seg = true);  // -> r12
  void load_mem(unsigned w);                     // [r12] -> rax, zero-extended
  void store_mem(unsigned w);                    // rcx -> [r12]
  void stop_check();                             // after a store: a code write or a device may stop the block
  void sync();                                   // cur_rip, RIP and icount as the interpreter has them now
  void cond_to_ebp(unsigned cc);                 // ebp = 1 if condition cc holds (host flags or the lazy state)
  void lazy(LazyOp op, unsigned w, const Xbyak::Reg64& res, const Xbyak::Reg64& dst, const Xbyak::Reg64& src,
            bool carry_zero = true);
  // One instruction inline; false: not translated (the caller emits a handler call).
  bool native(const Op& op);

  // ---- the register cache: guest GPRs held in host registers inside a block ----
  // A cached register may be newer than Cpu::gpr (dirty). Everything that can observe gpr —
  // a handler call, a slow memory access (it may fault), every exit — first stores the dirty
  // ones, so the interpreter's state is exact wherever translated code can stop.
  struct Slot {
    int8_t guest = -1;  // guest register number 0..15, -1: free
    bool dirty = false;
    uint32_t used = 0;  // for least-recently-used eviction
  };
  static constexpr unsigned kSlots = 6;
  using Cache = std::array<Slot, kSlots>;
  Xbyak::Reg64 read_gpr(unsigned guest);  // the host register holding it (loaded if needed)
  void flush_all();                       // store the dirty ones and forget every one
  void writeback_all();                   // store the dirty ones (they stay cached, clean)
  void spill(const Cache& snap);          // a cold path: store the snapshot's dirty ones
  void reload(const Cache& snap);         // a cold path after a call: reload every cached one

 private:
  void helper(const Op& op);
  void slow_access(uint64_t fn, unsigned w, Xbyak::Label* slow, Xbyak::Label* cont);
  static Xbyak::Reg64 slot_reg(unsigned s);
  int cached(unsigned guest) const;
  unsigned slot_for(unsigned guest, bool load);
  void writeback(unsigned guest);
  Cache cache_{};
  uint32_t tick_ = 0;
  std::vector<std::function<void()>> cold_;  // slow paths and exits, emitted after the block
  Xbyak::Label exit_;
};

}  // namespace redoubt::sim::cpu
