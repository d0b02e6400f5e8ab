// Instruction semantics (APM vol. 3 ch. 3), as handler templates specialised
// per operand width and operand kinds at decode time.
#pragma once
#include <cstring>

#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/cpu/flags.hpp"

namespace redoubt::sim::cpu::exec {

enum K { R, M, I, One, Cl };  // operand kinds: register, memory, immediate, constant 1, CL

inline uint64_t ea(const Cpu& c, const Op& o) {
  uint64_t off = c.gpr[o.base] + (c.gpr[o.index] << o.scale) + uint64_t(o.disp);
  if (o.asz32) off = uint32_t(off);
  return c.seg_base[o.seg] + off;
}
template <int W> inline uint64_t rreg(const Cpu& c, uint8_t off) {
  typename WT<W>::U v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(c.gpr) + off, W);
  return v;
}
template <int W> inline void wreg(Cpu& c, uint8_t off, uint64_t v) {
  if constexpr (W == 8) {
    c.gpr[off >> 3] = v;
  } else if constexpr (W == 4) {
    c.gpr[off >> 3] = uint32_t(v);  // 32-bit writes zero-extend (APM vol. 1 §3.4.5)
  } else {
    typename WT<W>::U x = typename WT<W>::U(v);
    std::memcpy(reinterpret_cast<uint8_t*>(c.gpr) + off, &x, W);
  }
}
inline uint64_t rreg_w(const Cpu& c, uint8_t off, unsigned w) {
  switch (w) {
    case 1: return rreg<1>(c, off);
    case 2: return rreg<2>(c, off);
    case 4: return rreg<4>(c, off);
    default: return rreg<8>(c, off);
  }
}
inline void wreg_w(Cpu& c, uint8_t off, unsigned w, uint64_t v) {
  switch (w) {
    case 1: wreg<1>(c, off, v); break;
    case 2: wreg<2>(c, off, v); break;
    case 4: wreg<4>(c, off, v); break;
    default: wreg<8>(c, off, v); break;
  }
}
inline uint64_t rmem_w(Cpu& c, uint64_t a, unsigned w) {
  switch (w) {
    case 1: return c.rd<uint8_t>(a);
    case 2: return c.rd<uint16_t>(a);
    case 4: return c.rd<uint32_t>(a);
    default: return c.rd<uint64_t>(a);
  }
}
inline void wmem_w(Cpu& c, uint64_t a, unsigned w, uint64_t v) {
  switch (w) {
    case 1: c.wr<uint8_t>(a, uint8_t(v)); break;
    case 2: c.wr<uint16_t>(a, uint16_t(v)); break;
    case 4: c.wr<uint32_t>(a, uint32_t(v)); break;
    default: c.wr<uint64_t>(a, v); break;
  }
}

// ---- two-operand ALU ----
enum Alu { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST };

// Live = false: the decoder proved the status flags dead (Op::flags_dead; decode_flagless.cpp
// swaps the handler), so the lazy-flag state is not written at all.
template <Alu A, int W, K D, K S, bool Live = true> void alu(Cpu& c, const Op& o) {
  using U = typename WT<W>::U;
  uint64_t addr = 0;
  U a;
  if constexpr (D == M) {
    addr = ea(c, o);
    a = c.rd<U>(addr);
  } else {
    a = U(rreg<W>(c, o.dst));
  }
  U b;
  if constexpr (S == R) b = U(rreg<W>(c, o.src));
  else if constexpr (S == M) b = c.rd<U>(ea(c, o));
  else b = U(o.imm);
  U r;
  LazyOp lz;
  uint64_t carry = 0;
  if constexpr (A == ADD) { r = U(a + b); lz = kLzAdd; }
  else if constexpr (A == OR) { r = U(a | b); lz = kLzLogic; }
  else if constexpr (A == ADC) { carry = c.cf(); r = U(a + b + carry); lz = kLzAdc; }
  else if constexpr (A == SBB) { carry = c.cf(); r = U(a - b - carry); lz = kLzSbb; }
  else if constexpr (A == AND || A == TEST) { r = U(a & b); lz = kLzLogic; }
  else if constexpr (A == SUB || A == CMP) { r = U(a - b); lz = kLzSub; }
  else { r = U(a ^ b); lz = kLzLogic; }
  if constexpr (A != CMP && A != TEST) {
    if constexpr (D == M) c.wr<U>(addr, r);
    else wreg<W>(c, o.dst, r);
  }
  if constexpr (Live) {
    c.lz_carry = carry;
    c.set_lazy(lz, W, r, a, b);
  } else {
    (void)carry;
    (void)lz;
  }
}

// ---- INC DEC NEG NOT ----
enum Un { INC, DEC, NEG, NOT };
template <Un A, int W, K D, bool Live = true> void unary(Cpu& c, const Op& o) {
  using U = typename WT<W>::U;
  uint64_t addr = 0;
  U a;
  if constexpr (D == M) { addr = ea(c, o); a = c.rd<U>(addr); }
  else a = U(rreg<W>(c, o.dst));
  U r;
  if constexpr (A == INC) r = U(a + 1);
  else if constexpr (A == DEC) r = U(a - 1);
  else if constexpr (A == NEG) r = U(0 - a);
  else r = U(~a);
  if constexpr (D == M) c.wr<U>(addr, r);
  else wreg<W>(c, o.dst, r);
  if constexpr (!Live) {
  } else if constexpr (A == INC || A == DEC) {
    c.lz_carry = c.cf();
    c.set_lazy(A == INC ? kLzInc : kLzDec, W, r, a, 1);
  } else if constexpr (A == NEG) {
    c.lz_carry = 0;
    c.set_lazy(kLzSub, W, r, 0, a);
  }
}

// ---- shifts and rotates (APM vol. 3: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR) ----
enum Sh { SHL, SHR, SAR, ROL, ROR, RCL, RCR };
inline uint64_t szp(uint64_t r, unsigned w) {
  uint64_t f = 0;
  r = trunc(r, w);
  if (r == 0) f |= kZF;
  if ((r >> (w * 8 - 1)) & 1) f |= kSF;
  if (parity_even(r)) f |= kPF;
  return f;
}
template <Sh A, int W, K D, K C> void shift(Cpu& c, const Op& o) {
  using U = typename WT<W>::U;
  constexpr unsigned bits = W * 8;
  uint64_t addr = 0;
  U a;
  if constexpr (D == M) { addr = ea(c, o); a = c.rd<U>(addr); }
  else a = U(rreg<W>(c, o.dst));
  unsigned n;
  if constexpr (C == One) n = 1;
  else if constexpr (C == Cl) n = unsigned(c.gpr[RCX]);
  else n = unsigned(o.imm);
  n &= (W == 8 ? 0x3F : 0x1F);
  if (n == 0) {  // count 0: flags untouched; a 32-bit register is still zero-extended (APM vol. 1 §3.1.2.3;
    if constexpr (D == R && W == 4) wreg<W>(c, o.dst, a);  // what the host CPU does, cpu_difftest seed 1449)
    return;
  }
  U r;
  bool cfo = false, of = false;
  if constexpr (A == SHL) {
    r = n < bits ? U(a << n) : 0;
    cfo = n <= bits && ((a >> (bits - n)) & 1);
    of = bool((r >> (bits - 1)) & 1) != cfo;
  } else if constexpr (A == SHR) {
    r = n < bits ? U(a >> n) : 0;
    cfo = n <= bits && ((a >> (n - 1)) & 1);
    of = (a >> (bits - 1)) & 1;
  } else if constexpr (A == SAR) {
    using S = typename WT<W>::S;
    const unsigned m = n < bits ? n : bits - 1;
    r = U(S(a) >> m);
    cfo = (S(a) >> (n - 1 < bits ? n - 1 : bits - 1)) & 1;
    of = false;
  } else if constexpr (A == ROL) {
    const unsigned m = n % bits;
    r = m ? U((a << m) | (a >> (bits - m))) : a;
    cfo = r & 1;
    of = bool((r >> (bits - 1)) & 1) != cfo;
  } else if constexpr (A == ROR) {
    const unsigned m = n % bits;
    r = m ? U((a >> m) | (a << (bits - m))) : a;
    cfo = (r >> (bits - 1)) & 1;
    of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
  } else {  // RCL / RCR through carry, one bit at a time (rare in compiled code)
    const unsigned m = n % (bits + 1);
    bool cf = c.cf();
    r = a;
    for (unsigned i = 0; i < m; ++i) {
      if constexpr (A == RCL) {
        const bool out = (r >> (bits - 1)) & 1;
        r = U((r << 1) | U(cf));
        cf = out;
      } else {
        const bool out = r & 1;
        r = U((r >> 1) | (U(cf) << (bits - 1)));
        cf = out;
      }
    }
    cfo = cf;
    if constexpr (A == RCL) of = bool((r >> (bits - 1)) & 1) != cfo;
    else of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
  }
  if constexpr (D == M) c.wr<U>(addr, r);
  else wreg<W>(c, o.dst, r);
  if (o.flags_dead) return;
  if constexpr (A == SHL || A == SHR || A == SAR) {
    c.set_status(szp(r, W) | (cfo ? kCF : 0) | (of ? kOF : 0));
  } else {
    const uint64_t f = c.status_flags() & ~(kCF | kOF);
    c.set_status(f | (cfo ? kCF : 0) | (of ? kOF : 0));
  }
}

// ---- data movement ----
template <int W, K D, K S> void mov(Cpu& c, const Op& o) {
  using U = typename WT<W>::U;
  U v;
  if constexpr (S == R) v = U(rreg<W>(c, o.src));
  else if constexpr (S == M) v = c.rd<U>(ea(c, o));
  else v = U(o.imm);
  if constexpr (D == M) c.wr<U>(ea(c, o), v);
  else wreg<W>(c, o.dst, v);
}
template <int W, int W2, bool Signed, K S> void movx(Cpu& c, const Op& o) {
  using U2 = typename WT<W2>::U;
  using S2 = typename WT<W2>::S;
  U2 v;
  if constexpr (S == M) v = c.rd<U2>(ea(c, o));
  else v = U2(rreg<W2>(c, o.src));
  wreg<W>(c, o.dst, Signed ? uint64_t(int64_t(S2(v))) : uint64_t(v));
}
template <int W> void lea(Cpu& c, const Op& o) {
  uint64_t off = c.gpr[o.base] + (c.gpr[o.index] << o.scale) + uint64_t(o.disp);
  if (o.asz32) off = uint32_t(off);
  wreg<W>(c, o.dst, off);
}
template <int W> void cmov(Cpu& c, const Op& o, uint64_t v) {
  if (c.cond(o.cc)) wreg<W>(c, o.dst, v);
  else if constexpr (W == 4) wreg<4>(c, o.dst, rreg<4>(c, o.dst));  // 32-bit CMOV zero-extends even if false
}
template <int W, K S> void cmovcc(Cpu& c, const Op& o) {
  using U = typename WT<W>::U;
  uint64_t v;
  if constexpr (S == M) v = c.rd<U>(ea(c, o));  // the load happens (and can fault) either way
  else v = rreg<W>(c, o.src);
  cmov<W>(c, o, v);
}
template <K D> void setcc(Cpu& c, const Op& o) {
  const uint8_t v = c.cond(o.cc);
  if constexpr (D == M) c.wr<uint8_t>(ea(c, o), v);
  else wreg<1>(c, o.dst, v);
}

// ---- IMUL r, r/m[, imm] at 32 and 64 bits (APM vol. 3 "IMUL"): truncated signed product,
// CF = OF = the product does not fit; SF/ZF/PF from the result as the host CPU leaves them
// (exec_misc.cpp's imul2, which keeps the 16-bit form). BearSSL's m31/i31 arithmetic is
// mostly 64-bit IMUL of 32-bit limbs, so this one is specialised per width and source.
template <int W, K S, bool Imm> void imul2w(Cpu& c, const Op& o) {
  static_assert(W == 4 || W == 8);
  using U = typename WT<W>::U;
  using SI = typename WT<W>::S;
  const U a = Imm ? U(o.imm) : U(rreg<W>(c, o.dst));
  U b;
  if constexpr (S == M) b = c.rd<U>(ea(c, o));
  else b = U(rreg<W>(c, o.src));
  SI lo;
  const bool ovf = __builtin_mul_overflow(SI(a), SI(b), &lo);
  wreg<W>(c, o.dst, U(lo));
  if (!o.flags_dead) c.set_status(szp(U(lo), W) | (ovf ? kCF | kOF : 0));
}

// ---- stack ----
inline void push64(Cpu& c, uint64_t v) {
  const uint64_t sp = c.gpr[RSP] - 8;
  c.wr<uint64_t>(sp, v);
  c.gpr[RSP] = sp;
}
inline uint64_t pop64(Cpu& c) {
  const uint64_t v = c.rd<uint64_t>(c.gpr[RSP]);
  c.gpr[RSP] += 8;
  return v;
}

// ---- control flow ----
inline void jcc(Cpu& c, const Op& o) {
  if (c.cond(o.cc)) c.gpr[kRip] += o.imm;
}
inline void jmp_rel(Cpu& c, const Op& o) { c.gpr[kRip] += o.imm; }
inline void call_rel(Cpu& c, const Op& o) {
  push64(c, c.gpr[kRip]);
  c.gpr[kRip] += o.imm;
}
template <K S> void jmp_ind(Cpu& c, const Op& o) {
  c.gpr[kRip] = S == M ? c.rd<uint64_t>(ea(c, o)) : c.gpr[o.src >> 3];
}
template <K S> void call_ind(Cpu& c, const Op& o) {
  const uint64_t t = S == M ? c.rd<uint64_t>(ea(c, o)) : c.gpr[o.src >> 3];
  push64(c, c.gpr[kRip]);
  c.gpr[kRip] = t;
}
inline void ret(Cpu& c, const Op& o) {
  const uint64_t t = c.rd<uint64_t>(c.gpr[RSP]);
  c.gpr[RSP] += 8 + o.imm;
  c.gpr[kRip] = t;
}

}  // namespace redoubt::sim::cpu::exec
