// The SSE register file of the simulated CPU (XMM0-15, MXCSR) and the x87
// state that FXSAVE/FXRSTOR carry. x87 instructions are not interpreted: the
// x87 fields only hold what FXRSTOR loaded (FNINIT state after reset).
#pragma once
#include <cstdint>

#include "arch/x86/sse.hpp"

namespace redoubt::sim::cpu {

struct alignas(16) Xmm {
  uint64_t q[2] = {0, 0};
  bool operator==(const Xmm&) const = default;
};

struct SseState {
  Xmm xmm[16];
  uint32_t mxcsr = x86::kMxcsrReset;
  // x87 part of the FXSAVE image (not used by any interpreted instruction).
  uint16_t fcw = x86::kFcwInit, fsw = x86::kFswInit, fop = 0;
  uint8_t ftw = x86::kFtwAbridgedInit;
  uint64_t fip = 0, fdp = 0;
  uint8_t st[8][10] = {};  // ST0-7 / MM0-7 (80 bits each)
};

}  // namespace redoubt::sim::cpu
