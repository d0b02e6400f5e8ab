// Comparing a native and a simulated run of the same sequence.
#pragma once
#include <string>
#include <vector>

#include "tools/cpu_difftest/state.hpp"

namespace redoubt::difftest {

// The status flags compared for this outcome: those defined after the last instruction
// (normal end at the terminator) or before the faulting instruction (a fault at `rip`).
uint64_t compared_flags(const Sequence& s, const Outcome& native);

// Empty when the runs agree: same stop (vector, RIP), GPRs, XMM0-15, MXCSR, defined status
// flags and DF, and scratch memory. Otherwise one line per difference.
std::vector<std::string> differences(const Sequence& s, const Outcome& native, const Outcome& sim);

// A copy of `s` cut after its first k instructions (same initial state).
Sequence prefix(const Sequence& s, size_t k);

}  // namespace redoubt::difftest
