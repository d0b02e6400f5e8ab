// Random user-mode instruction sequences from a seed (the differential tester's generator).
#pragma once
#include <cstdint>

#include "tools/cpu_difftest/state.hpp"

namespace redoubt::difftest {

// Instruction classes the generator draws from (--only selects a subset for debugging).
enum Class : unsigned {
  kAlu, kTest, kUnary, kMul, kDiv, kShift, kShiftD, kBitOp, kBitScan, kMovx, kConvert, kSetCmov, kLea,
  kXchg, kBswap, kMov, kString, kStack, kFlags, kSse, kBranch, kNumClasses
};
const char* class_name(unsigned c);

struct GenOptions {
  unsigned min_insns = 4, max_insns = 16;
  uint32_t classes = (1u << kNumClasses) - 1;  // bit per Class
};

// Deterministic: the same seed and options give the same sequence and initial state.
void generate(uint64_t seed, const GenOptions& opt, Sequence& out);

}  // namespace redoubt::difftest
