// A pre-decoded guest instruction: decoded once by Zydis (decode.cpp), then
// executed many times through its handler pointer.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace redoubt::sim::cpu {

class Cpu;
struct Op;
using Handler = void (*)(Cpu&, const Op&);

// Index into Cpu::gpr: 0-15 are RAX..R15 (encoding order), then two pseudo registers that
// make effective-address arithmetic branch-free.
enum Reg : uint8_t { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
                     kZero = 16, kRip = 17, kNumGpr = 18 };
// A register operand is a byte offset into gpr[] (AH..BH are offset +1 of RAX..RBX).
inline constexpr uint8_t reg_off(unsigned r) { return uint8_t(r * 8); }

struct Op {
  Handler fn = nullptr;
  uint8_t len = 0;     // instruction length in bytes
  uint8_t w = 8;       // operand width in bytes (1, 2, 4, 8)
  uint8_t w2 = 0;      // second width (movzx/movsx source, etc.)
  uint8_t dst = 0;     // register operand byte offsets into gpr[]
  uint8_t src = 0;
  uint8_t base = kZero, index = kZero, scale = 0;  // memory operand: gpr[base] + (gpr[index] << scale) + disp
  uint8_t seg = 0;     // 0 = no segment base, 4 = FS, 5 = GS (index into Cpu::seg_base)
  uint8_t asz32 = 0;   // 67h prefix: 32-bit effective address
  uint8_t cc = 0;      // condition code (jcc/setcc/cmov), sub-operation, rep kind, port size
  uint8_t flags_dead = 0;  // status flags written by this op are overwritten before any reader
  uint16_t mnem = 0;   // ZydisMnemonic (diagnostics)
  int64_t disp = 0;
  uint64_t imm = 0;
};

// Straight-line run of ops starting at a guest-physical address (never crosses
// into a third page; an instruction straddling a page ends the block).
struct Block {
  uint64_t pa = 0;                 // host-physical address of the first byte
  uint64_t pa2 = ~0ull;            // second page if the last instruction straddles a page
  uint64_t epoch = 0;              // code epoch when last validated (see Cpu::code_epoch)
  std::vector<Op> ops;
  std::vector<uint8_t> bytes;      // the bytes decoded, for revalidation
  // Chaining: the last two successors seen (valid while their generation matches Cpu's).
  uint64_t succ_va[2] = {1, 1};
  uint64_t succ_gen[2] = {0, 0};
  Block* succ[2] = {nullptr, nullptr};
  uint8_t succ_next = 0;
  // Translation to host code (jit.cpp): made once the block has run Cpu::jit_threshold times.
  void (*jit)(Cpu*) = nullptr;
  uint32_t runs = 0;
  bool no_jit = false;  // not translatable (another mode than 64-bit, or the code arena refused it)
};

}  // namespace redoubt::sim::cpu
