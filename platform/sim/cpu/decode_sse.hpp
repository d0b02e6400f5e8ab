// The decoder's hook for SSE/SSE2 instructions (decode_sse.cpp).
#pragma once
#include <Zydis/Zydis.h>

#include "platform/sim/cpu/op.hpp"

namespace redoubt::sim::cpu {

// -1: not an SSE/SSE2 instruction (the general decoder handles it, o untouched); 0:
// SSE/SSE2 but not modelled (#UD); 1: o.fn and the SSE operand fields are set (memory fields are
// filled by the caller).
int select_sse(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o);

}  // namespace redoubt::sim::cpu
