// Random SSE/SSE2 instruction cases for the differential test: every opcode of
// the modelled set with random prefixes/REX bits, register or memory operands,
// immediates, floating-point operands rich in special values (NaNs,
// denormals, infinities, signed zeros, integer-conversion edges) and a random
// MXCSR (all rounding modes, DAZ/FTZ, sometimes unmasked exceptions).
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/platform/sim/cpu/sse_rig.hpp"

namespace redoubt::test::sse {

struct Case {
  std::string name;
  std::vector<uint8_t> insn;
  RegState regs{};
  std::vector<uint8_t> data;
};

// Number of table entries (opcode forms) the generator draws from.
unsigned opcode_forms();
const char* opcode_form_name(unsigned i);
// A random case of table entry `form`.
Case make_case(std::mt19937_64& rng, unsigned form);

}  // namespace redoubt::test::sse
