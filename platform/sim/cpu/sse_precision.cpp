// See sse_precision.hpp. Per element: the element's own flags come from the host's
// scalar instruction with exceptions masked; where that element overflows or
// underflows with the exception unmasked, its PE comes from the x87 with precision
// control set to the SSE destination's precision (24 or 53 bits; the x87's 15-bit
// exponent makes the exponent effectively unbounded for float/double operands).
#include "platform/sim/cpu/sse_precision.hpp"

#include <cstring>

#include "arch/x86/sse.hpp"
#include "platform/sim/cpu/host_sse.hpp"

namespace redoubt::sim::cpu::sse_precision {

using namespace redoubt::x86;

namespace {

host::XThunk scalar_thunk(Arith a, bool dbl) {
  switch (a) {
    case kAdd: return dbl ? &host::addsd : &host::addss;
    case kSub: return dbl ? &host::subsd : &host::subss;
    case kMul: return dbl ? &host::mulsd : &host::mulss;
    case kDiv: return dbl ? &host::divsd : &host::divss;
    default: return &host::cvtsd2ss;
  }
}

uint64_t daz(uint64_t v, bool dbl, bool on) {
  if (!on) return v;
  if (dbl) return (v & 0x7FF0000000000000ull) == 0 ? v & (1ull << 63) : v;
  return (v & 0x7F800000u) == 0 ? v & 0x80000000u : v;
}

// x87 FCW: all exceptions masked (bits 5:0), PC bits 9:8 (00 single, 10 double), RC bits 11:10
// (same encoding as MXCSR.RC). FSW bit 5 is PE (Intel SDM vol. 1 §8.1.7, §8.1.3).
bool x87_inexact(Arith a, bool dbl, uint64_t x, uint64_t y, unsigned rc) {
  const uint16_t cw = uint16_t(0x3F | (dbl || a == kCvtD2S ? 0x200 : 0) | (rc << 10));
  const uint16_t cw_single = uint16_t(0x3F | (rc << 10));
  uint16_t old = 0, sw = 0;
  if (a == kCvtD2S) {
    double v;
    std::memcpy(&v, &x, 8);
    asm volatile("fnstcw %[old]\n\t fldcw %[cw]\n\t fnclex\n\t fldl %[v]\n\t fld1\n\t fmulp\n\t"
                 "fstp %%st(0)\n\t fnstsw %[sw]\n\t fldcw %[old]"
                 : [old] "=m"(old), [sw] "=m"(sw)
                 : [cw] "m"(cw_single), [v] "m"(v)
                 : "st", "st(1)");
    return sw & 0x20;
  }
  if (dbl) {
    double u, v;
    std::memcpy(&u, &x, 8);
    std::memcpy(&v, &y, 8);
#define RD_X87(op)                                                                                  \
  asm volatile("fnstcw %[old]\n\t fldcw %[cw]\n\t fnclex\n\t fldl %[u]\n\t " op "l %[v]\n\t"        \
               "fstp %%st(0)\n\t fnstsw %[sw]\n\t fldcw %[old]"                                     \
               : [old] "=m"(old), [sw] "=m"(sw)                                                     \
               : [cw] "m"(cw), [u] "m"(u), [v] "m"(v)                                               \
               : "st")
    switch (a) {
      case kAdd: RD_X87("fadd"); break;
      case kSub: RD_X87("fsub"); break;
      case kMul: RD_X87("fmul"); break;
      default: RD_X87("fdiv"); break;
    }
#undef RD_X87
    return sw & 0x20;
  }
  float u, v;
  const uint32_t x32 = uint32_t(x), y32 = uint32_t(y);
  std::memcpy(&u, &x32, 4);
  std::memcpy(&v, &y32, 4);
#define RD_X87(op)                                                                                  \
  asm volatile("fnstcw %[old]\n\t fldcw %[cw]\n\t fnclex\n\t flds %[u]\n\t " op "s %[v]\n\t"        \
               "fstp %%st(0)\n\t fnstsw %[sw]\n\t fldcw %[old]"                                     \
               : [old] "=m"(old), [sw] "=m"(sw)                                                     \
               : [cw] "m"(cw), [u] "m"(u), [v] "m"(v)                                               \
               : "st")
  switch (a) {
    case kAdd: RD_X87("fadd"); break;
    case kSub: RD_X87("fsub"); break;
    case kMul: RD_X87("fmul"); break;
    default: RD_X87("fdiv"); break;
  }
#undef RD_X87
  return sw & 0x20;
}

uint64_t lane(const Xmm& x, bool dbl, unsigned e) {
  if (dbl) return x.q[e];
  uint32_t v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(x.q) + 4 * e, 4);
  return v;
}

}  // namespace

uint32_t pe_after_unmasked_overflow_underflow(uint8_t shape, const Xmm& d, const Xmm& s, uint32_t mxcsr) {
  const Arith a = Arith(shape & 7);
  const bool dbl = shape & 8;  // operand precision (the source for conversions)
  const unsigned lanes = shape >> 4;
  const uint32_t unmasked = ~(mxcsr >> kMxcsrMaskShift) & kMxcsrFlags;
  const uint32_t base = (mxcsr & ~kMxcsrFlags) | kMxcsrMasks;
  const unsigned rc = (mxcsr >> kMxcsrRcShift) & 3;
  const host::XThunk f = scalar_thunk(a, dbl);
  uint32_t pe = 0;
  for (unsigned e = 0; e < lanes; ++e) {
    const uint64_t x = lane(d, dbl, e), y = lane(s, dbl, e);
    Xmm de{{x, 0}}, se{{y, 0}};
    uint32_t m = base;
    f(de, se, m);
    uint32_t flags = m & kMxcsrFlags;
    if ((unmasked & kMxcsrUE) && !(flags & kMxcsrUE)) {  // tininess alone, as in exec_sse.cpp
      Xmm t{{x, 0}};
      uint32_t m2 = base | kMxcsrFtz;
      f(t, se, m2);
      flags |= m2 & kMxcsrUE;
    }
    if (flags & unmasked & (kMxcsrOE | kMxcsrUE)) {
      const bool z = mxcsr & kMxcsrDaz;
      if (a == kCvtD2S ? x87_inexact(a, true, daz(y, true, z), 0, rc)
                       : x87_inexact(a, dbl, daz(x, dbl, z), daz(y, dbl, z), rc))
        pe = kMxcsrPE;
    } else {
      pe |= flags & kMxcsrPE;
    }
  }
  return pe;
}

}  // namespace redoubt::sim::cpu::sse_precision
