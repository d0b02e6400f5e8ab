// MXCSR.PE after an unmasked overflow or underflow. The host CPU then reports
// whether the result rounded to the destination precision with an *unbounded*
// exponent is inexact (no denormalised or infinite result is produced), which
// a run with exceptions masked cannot show. This recomputes it per element.
#pragma once
#include <cstdint>

#include "platform/sim/cpu/sse_state.hpp"

namespace redoubt::sim::cpu::sse_precision {

enum Arith : uint8_t { kNone = 0, kAdd, kSub, kMul, kDiv, kCvtD2S };

// Packed into Op::w of floating-point xop ops: arith | double << 3 | lanes << 4.
constexpr uint8_t shape(Arith a, bool dbl, unsigned lanes) { return uint8_t(a | (dbl ? 8 : 0) | (lanes << 4)); }

// PE (0 or kMxcsrPE) the host reports for op(d, s) under `mxcsr` when an unmasked
// overflow or underflow is raised. shape != 0.
uint32_t pe_after_unmasked_overflow_underflow(uint8_t shape, const Xmm& d, const Xmm& s, uint32_t mxcsr);

}  // namespace redoubt::sim::cpu::sse_precision
