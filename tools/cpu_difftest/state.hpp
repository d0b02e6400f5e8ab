// The differential CPU tester (issue 14): the state both worlds start from and
// end in, at the same linear addresses in the host child and in the interpreter.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace redoubt::difftest {

// One layout, identical in the native child (fixed mappings) and the simulator (identity map).
inline constexpr uint64_t kCode = 0x340000;      // sequence + terminator (UD2)
inline constexpr uint64_t kCodeSize = 0x4000;
inline constexpr uint64_t kScratch = 0x350000;   // data every memory operand, string op and push hits
inline constexpr uint64_t kScratchSize = 0x1000;
inline constexpr uint64_t kStackTop = kScratch + 0xF00;  // initial RSP: pushes land in the scratch page
inline constexpr uint64_t kLoad = 0x360000;      // native only: the state the entry trampoline loads

// RFLAGS bits compared: the six status flags and DF (TF/IF/IOPL... are the OS's, not the sequence's).
inline constexpr uint64_t kStatus = 0x8D5;       // OF SF ZF AF PF CF
inline constexpr uint64_t kDF = 0x400;
inline constexpr uint64_t kCF = 1, kPF = 4, kAF = 16, kZF = 64, kSF = 128, kOF = 2048;

struct alignas(16) Regs {
  uint64_t xmm[16][2];  // 0
  uint64_t gpr[16];     // 256: RAX..R15, encoding order
  uint64_t rflags;      // 384
  uint64_t rip;         // 392 (outcome only)
};
static_assert(offsetof(Regs, gpr) == 256 && offsetof(Regs, rflags) == 384);

// What a run ended with. A normal end is #UD at the terminator (vector 6, rip = kCode + code size).
struct Outcome {
  int vector = -1;      // exception vector the run stopped on; -2: the native child died; -3: sim error
  uint64_t error = 0;   // error code (native: the kernel's; not compared)
  Regs regs{};
  uint32_t mxcsr = 0;
  uint8_t mem[kScratchSize];
  char note[120] = {};  // sim CpuError text, child death (plain bytes: results cross shared memory)
};

// One generated instruction, for reports and for per-instruction flag masks.
struct Insn {
  uint32_t off = 0;
  uint8_t len = 0;
  uint64_t defined_before = 0;  // status flags defined when it starts (a fault here compares these)
  std::string form;             // the generator's form name, e.g. "shl r/m16, cl"
};

struct Sequence {
  uint64_t seed = 0;
  std::vector<uint8_t> code;    // without the terminator
  std::vector<Insn> insns;
  uint64_t defined_end = kStatus;  // status flags defined after the last instruction
  Regs init{};
  uint8_t mem[kScratchSize];
};

}  // namespace redoubt::difftest
