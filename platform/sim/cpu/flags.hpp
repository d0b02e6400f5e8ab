// Lazy evaluation of the six status flags (APM vol. 3 Appendix E / §3.1.6
// of vol. 1 for their definitions). Include from every TU that reads flags.
#pragma once
#include <bit>

#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::cpu {

inline uint64_t msb(uint64_t v, unsigned w) { return (v >> (w * 8 - 1)) & 1; }
inline bool parity_even(uint64_t v) { return (std::popcount(unsigned(v & 0xFF)) & 1) == 0; }

inline bool Cpu::cf() const {
  const unsigned w = lz_w;
  switch (lz_op) {
    case kLzNone: return flags_mat & kCF;
    case kLzLogic: return false;
    case kLzAdd: return trunc(lz_res, w) < trunc(lz_dst, w);
    case kLzAdc: return lz_carry ? trunc(lz_res, w) <= trunc(lz_dst, w) : trunc(lz_res, w) < trunc(lz_dst, w);
    case kLzSub: return trunc(lz_dst, w) < trunc(lz_src, w);
    case kLzSbb: return lz_carry ? trunc(lz_dst, w) <= trunc(lz_src, w) : trunc(lz_dst, w) < trunc(lz_src, w);
    case kLzInc:
    case kLzDec: return lz_carry;
  }
  return false;
}

inline bool Cpu::zf() const { return lz_op == kLzNone ? (flags_mat & kZF) != 0 : trunc(lz_res, lz_w) == 0; }

inline uint64_t Cpu::status_flags() const {
  if (lz_op == kLzNone) return flags_mat;
  const unsigned w = lz_w;
  const uint64_t r = trunc(lz_res, w);
  uint64_t f = 0;
  if (cf()) f |= kCF;
  if (parity_even(r)) f |= kPF;
  if (r == 0) f |= kZF;
  if (msb(r, w)) f |= kSF;
  switch (lz_op) {
    case kLzAdd:
    case kLzAdc:
      if (msb((lz_dst ^ r) & (lz_src ^ r), w)) f |= kOF;
      if ((lz_dst ^ lz_src ^ r) & 0x10) f |= kAF;
      break;
    case kLzSub:
    case kLzSbb:
      if (msb((lz_dst ^ lz_src) & (lz_dst ^ r), w)) f |= kOF;
      if ((lz_dst ^ lz_src ^ r) & 0x10) f |= kAF;
      break;
    case kLzInc:
      if (r == (1ull << (w * 8 - 1))) f |= kOF;
      if ((r & 0xF) == 0) f |= kAF;
      break;
    case kLzDec:
      if (r == (1ull << (w * 8 - 1)) - 1) f |= kOF;
      if ((r & 0xF) == 0xF) f |= kAF;
      break;
    default: break;
  }
  return f;
}

// Condition codes in encoding order (APM vol. 3 Table "Condition codes"): O NO B NB Z NZ BE NBE S NS P NP L NL LE NLE.
inline bool Cpu::cond(unsigned cc) const {
  bool r;
  const unsigned w = lz_w;
  if (lz_op == kLzSub) {  // CMP/SUB fast path
    const uint64_t a = trunc(lz_dst, w), b = trunc(lz_src, w);
    switch (cc >> 1) {
      case 1: r = a < b; return r ^ (cc & 1);
      case 2: r = a == b; return r ^ (cc & 1);
      case 3: r = a <= b; return r ^ (cc & 1);
      case 6: r = sext(a, w) < sext(b, w); return r ^ (cc & 1);
      case 7: r = sext(a, w) <= sext(b, w); return r ^ (cc & 1);
      default: break;
    }
  } else if (lz_op == kLzLogic) {  // TEST/AND/OR/XOR: CF = OF = 0
    const uint64_t v = trunc(lz_res, w);
    switch (cc >> 1) {
      case 0: case 1: r = false; return r ^ (cc & 1);
      case 2: case 3: r = v == 0; return r ^ (cc & 1);
      case 4: case 6: r = msb(v, w); return r ^ (cc & 1);
      case 7: r = v == 0 || msb(v, w); return r ^ (cc & 1);
      default: break;
    }
  }
  if ((cc >> 1) == 2) return zf() ^ (cc & 1);  // JZ/JNZ after INC/DEC/ADD/...: ZF only
  const uint64_t f = status_flags();
  switch (cc >> 1) {
    case 0: r = f & kOF; break;
    case 1: r = f & kCF; break;
    case 2: r = f & kZF; break;
    case 3: r = f & (kCF | kZF); break;
    case 4: r = f & kSF; break;
    case 5: r = f & kPF; break;
    case 6: r = bool(f & kSF) != bool(f & kOF); break;
    default: r = (f & kZF) || (bool(f & kSF) != bool(f & kOF)); break;
  }
  return r ^ (cc & 1);
}

}  // namespace redoubt::sim::cpu
