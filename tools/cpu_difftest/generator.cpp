// The generator: random CPL-3 64-bit instruction sequences, encoded by encoder.hpp.
//
// Undefined flags (the mask rule, docs/simulator-cpu.md "Differential tester"): the generator
// tracks which of OF SF ZF AF PF CF are *defined* after each instruction, from the "Flags
// Affected" sections of Intel SDM vol. 2 and AMD APM vol. 3 — a flag counts as defined only if
// both vendors define it. An instruction that reads a flag (ADC, SBB, RCL, RCR, CMC, SETcc,
// CMOVcc, LAHF, PUSHF) is preceded by a flag-defining ALU instruction when one it reads is
// undefined, so an undefined flag never flows into a register or memory. The final comparison,
// and the comparison at a fault, mask the flags undefined at that point.
#include "tools/cpu_difftest/generator.hpp"

#include "tools/cpu_difftest/gen_impl.hpp"

namespace redoubt::difftest {

const char* class_name(unsigned c) {
  static const char* const n[] = {"alu", "test", "unary", "mul", "div", "shift", "shiftd", "bitop", "bitscan",
                                  "movx", "convert", "setcmov", "lea", "xchg", "bswap", "mov", "string",
                                  "stack", "flags", "sse", "jcc"};
  return c < kNumClasses ? n[c] : "?";
}

void generate(uint64_t seed, const GenOptions& opt, Sequence& out) {
  out.seed = seed;
  out.code.clear();
  out.insns.clear();
  out.init = Regs{};
  gen::Gen g(seed, opt, out);
  g.run();
}

}  // namespace redoubt::difftest
