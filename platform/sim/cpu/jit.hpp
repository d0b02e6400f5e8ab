// The simulator's translator: a decoded block of 64-bit guest code becomes one host function
// (x86-64 to x86-64, emitted with Xbyak). The common integer instructions (MOV, ALU, LEA,
// shifts, IMUL, Jcc/SETcc/CMOVcc, CALL/RET/JMP, PUSH/POP) are translated inline; every other
// instruction is a call to the interpreter's own handler, so the two share one semantics.
// Guest registers stay in Cpu::gpr, guest memory goes through the same soft TLB as the
// interpreter's rd/wr (a miss calls rd_slow/wr_slow), and the lazy-flag state is written
// exactly as the handlers write it. docs/simulator-cpu.md "Translator".
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::sim::cpu {

class Cpu;
struct Block;
struct Op;
using JitFn = void (*)(Cpu*);

class Jit {
 public:
  explicit Jit(Cpu& c);
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  // Translates b (decoded in 64-bit mode). nullptr: the code arena is full (reset() it and
  // drop every translation, then try again).
  JitFn compile(const Block& b, uint64_t& native_ops, uint64_t& helper_ops);
  void reset() { used_ = 0; }

 private:
  Cpu& c_;
  uint8_t* arena_ = nullptr;  // read/write/execute, private to this CPU
  size_t size_ = 0;
  size_t used_ = 0;
};

}  // namespace redoubt::sim::cpu
