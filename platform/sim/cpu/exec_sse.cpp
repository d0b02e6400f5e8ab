// SSE/SSE2 instruction semantics (AMD APM vol. 4 "128-bit media
// instructions"; enable and exception rules: APM vol. 2 §11.3, §11.5).
// Arithmetic runs on the host CPU (host_sse.hpp); data movement, shuffles and
// immediate shifts are done here.
#include "platform/sim/cpu/exec_sse.hpp"

#include <cstring>

#include "arch/x86/sse.hpp"
#include "platform/sim/cpu/host_sse.hpp"
#include "platform/sim/cpu/sse_precision.hpp"

namespace redoubt::sim::cpu::exec::sse {

using namespace redoubt::x86;

namespace {

// APM vol. 2 §11.3: 128-bit media instructions #UD when CR0.EM=1 or CR4.OSFXSR=0,
// and #NM when CR0.TS=1 (the #UD conditions take priority).
[[noreturn, gnu::noinline]] void unavailable(Cpu& c) {
  if ((c.cr0 & kCr0Em) || !(c.cr4 & kCr4Osfxsr)) c.ud();
  c.fault(kVectorNM, 0, false);
}
inline void check(Cpu& c) {
  if (((c.cr0 & (kCr0Em | kCr0Ts)) | (~c.cr4 & kCr4Osfxsr)) != 0) [[unlikely]]
    unavailable(c);
}

Xmm load(Cpu& c, uint64_t a, unsigned n, bool aligned) {
  if (aligned && (a & 15)) c.gp(0);  // APM vol. 4: misaligned 128-bit operand of a legacy SSE instruction
  Xmm v;
  switch (n) {
    case 16: v.q[0] = c.rd<uint64_t>(a); v.q[1] = c.rd<uint64_t>(a + 8); break;
    case 8: v.q[0] = c.rd<uint64_t>(a); break;
    case 4: v.q[0] = c.rd<uint32_t>(a); break;
    default: v.q[0] = c.rd<uint16_t>(a); break;
  }
  return v;
}
// Write access to [a, a+n) checked on both pages before any byte is written; a fault on
// the second page reports its first byte (the address where the access enters it).
void check_writable(Cpu& c, uint64_t a, unsigned n) {
  c.translate(a, kWrite);
  if (((a ^ (a + n - 1)) >> 12) != 0) c.translate((a | 0xFFF) + 1, kWrite);
}
void store(Cpu& c, uint64_t a, unsigned n, const Xmm& v, bool aligned, bool high = false) {
  if (aligned && (a & 15)) c.gp(0);
  if (n == 16) {
    if ((a & 0xFFF) > 0xFF0) check_writable(c, a, 16);
    c.wr<uint64_t>(a, v.q[0]);
    c.wr<uint64_t>(a + 8, v.q[1]);
    return;
  }
  const uint64_t q = high ? v.q[1] : v.q[0];
  switch (n) {
    case 8: c.wr<uint64_t>(a, q); break;
    case 4: c.wr<uint32_t>(a, uint32_t(q)); break;
    default: c.wr<uint16_t>(a, uint16_t(q)); break;
  }
}
inline Xmm source(Cpu& c, const Op& o) {
  if (!o.w2) return c.sse.xmm[o.src];
  return load(c, ea(c, o), o.w2, o.cc & kSseAlign);
}

// The MXCSR a host thunk runs with: the guest's control bits, every exception masked
// and no flags, so the host never traps and the flags returned are this instruction's.
inline uint32_t host_mxcsr(const Cpu& c) { return (c.sse.mxcsr & ~kMxcsrFlags) | kMxcsrMasks; }

// APM vol. 2 §11.5: an unmasked SIMD exception leaves the destination unchanged and
// raises #XM, or #UD when CR4.OSXMMEXCPT=0. Pre-computation exceptions (IE, DE, ZE)
// are reported without the post-computation ones (OE, UE, PE).
[[noreturn, gnu::noinline]] void simd_exception(Cpu& c, uint32_t raised, uint32_t unmasked_ctl) {
  constexpr uint32_t kPre = kMxcsrIE | kMxcsrDE | kMxcsrZE;
  if (raised & unmasked_ctl & kPre) raised &= kPre;
  c.sse.mxcsr |= raised;
  if (!(c.cr4 & kCr4Osxmmexcpt)) c.ud();
  c.fault(kVectorXM, 0, false);
}
// The flags an instruction raised (host run with everything masked: `after`), checked
// against the guest's masks. Underflow is signalled on tininess alone when unmasked
// (APM vol. 1 §4.5.1.5) but only with inexactness when masked: a second host run with
// FTZ set exposes tininess. After an unmasked overflow/underflow, PE is the inexactness
// with an unbounded exponent (sse_precision.hpp): `unbounded_pe` supplies it.
template <class F, class G> uint32_t raised_flags(Cpu& c, uint32_t after, F&& rerun, G&& unbounded_pe) {
  uint32_t raised = after & kMxcsrFlags;
  const uint32_t unmasked_ctl = ~(c.sse.mxcsr >> kMxcsrMaskShift) & kMxcsrFlags;
  if ((unmasked_ctl & kMxcsrUE) && !(raised & kMxcsrUE)) {
    uint32_t m = host_mxcsr(c) | kMxcsrFtz;
    rerun(m);
    raised |= m & kMxcsrUE;
  }
  if (raised & unmasked_ctl) [[unlikely]] {
    constexpr uint32_t kPre = kMxcsrIE | kMxcsrDE | kMxcsrZE;
    const uint32_t un = raised & unmasked_ctl;
    if ((un & (kMxcsrOE | kMxcsrUE)) && !(un & kPre)) raised = (raised & ~kMxcsrPE) | unbounded_pe(raised);
    simd_exception(c, raised, unmasked_ctl);
  }
  return raised;
}
constexpr auto kKeepPe = [](uint32_t raised) { return raised & kMxcsrPE; };

}  // namespace

// ---------------------------------------------------------------- arithmetic

void xop(Cpu& c, const Op& o) {
  check(c);
  const Xmm s = source(c, o);
  const auto f = reinterpret_cast<host::XThunk>(o.imm);
  Xmm& d = c.sse.xmm[o.dst];
  if (!(o.cc & kSseFp)) {
    uint32_t unused = 0;
    f(d, s, unused);
    return;
  }
  Xmm r = d;
  uint32_t m = host_mxcsr(c);
  f(r, s, m);
  c.sse.mxcsr |= raised_flags(
      c, m, [&](uint32_t& m2) { Xmm t = d; f(t, s, m2); },
      [&](uint32_t raised) {
        return o.w ? sse_precision::pe_after_unmasked_overflow_underflow(o.w, d, s, c.sse.mxcsr) : raised & kMxcsrPE;
      });
  d = r;
}
void cmp(Cpu& c, const Op& o) { xop(c, o); }

void cvt_from_gpr(Cpu& c, const Op& o) {
  check(c);
  const uint64_t g = o.w2 ? rmem_w(c, ea(c, o), o.w2) : rreg_w(c, o.src, o.w);
  const auto f = reinterpret_cast<host::GThunk>(o.imm);
  Xmm& d = c.sse.xmm[o.dst];
  Xmm r = d;
  uint32_t m = host_mxcsr(c);
  f(r, g, m);
  c.sse.mxcsr |= raised_flags(c, m, [&](uint32_t& m2) { Xmm t = d; f(t, g, m2); }, kKeepPe);
  d = r;
}

void to_gpr(Cpu& c, const Op& o) {
  check(c);
  const Xmm s = source(c, o);
  const auto f = reinterpret_cast<host::RThunk>(o.imm);
  uint32_t m = host_mxcsr(c);
  const uint64_t r = f(s, m);
  if (o.cc & kSseFp) c.sse.mxcsr |= raised_flags(c, m, [&](uint32_t& m2) { f(s, m2); }, kKeepPe);
  wreg_w(c, o.dst, o.w, r);
}

void comi(Cpu& c, const Op& o) {
  check(c);
  const Xmm s = source(c, o);
  const auto f = reinterpret_cast<host::FThunk>(o.imm);
  uint32_t m = host_mxcsr(c);
  const uint64_t fl = f(c.sse.xmm[o.dst], s, m);
  c.sse.mxcsr |= raised_flags(c, m, [&](uint32_t& m2) { f(c.sse.xmm[o.dst], s, m2); }, kKeepPe);
  c.set_status(fl);
}

// ---------------------------------------------------------------- moves

void mov_rr(Cpu& c, const Op& o) {
  check(c);
  c.sse.xmm[o.dst] = c.sse.xmm[o.src];
}
void mov_load(Cpu& c, const Op& o) {
  check(c);
  c.sse.xmm[o.dst] = load(c, ea(c, o), o.w2, o.cc & kSseAlign);
}
void mov_store(Cpu& c, const Op& o) {
  check(c);
  store(c, ea(c, o), o.w2, c.sse.xmm[o.src], o.cc & kSseAlign, o.cc & kSseHigh);
}
void movq_rr(Cpu& c, const Op& o) {
  check(c);
  c.sse.xmm[o.dst] = Xmm{{c.sse.xmm[o.src].q[0], 0}};
}
void mov_half_load(Cpu& c, const Op& o) {
  check(c);
  const uint64_t v = c.rd<uint64_t>(ea(c, o));
  c.sse.xmm[o.dst].q[(o.cc & kSseHigh) ? 1 : 0] = v;
}
void movd_from_gpr(Cpu& c, const Op& o) {
  check(c);
  c.sse.xmm[o.dst] = Xmm{{rreg_w(c, o.src, o.w), 0}};
}
void movd_to_gpr(Cpu& c, const Op& o) {
  check(c);
  wreg_w(c, o.dst, o.w, c.sse.xmm[o.src].q[0]);
}
void movnti(Cpu& c, const Op& o) { wmem_w(c, ea(c, o), o.w, rreg_w(c, o.src, o.w)); }

void maskmovdqu(Cpu& c, const Op& o) {
  check(c);
  const Xmm v = c.sse.xmm[o.dst], mask = c.sse.xmm[o.src];
  uint8_t vb[16], mb[16];
  std::memcpy(vb, v.q, 16);
  std::memcpy(mb, mask.q, 16);
  uint64_t off = c.gpr[RDI];
  if (o.asz32) off = uint32_t(off);
  const uint64_t a = c.seg_base[o.seg] + off;
  bool any = false;
  for (uint8_t b : mb) any |= (b & 0x80) != 0;
  if (!any) return;
  check_writable(c, a, 16);  // all-or-nothing
  for (unsigned i = 0; i < 16; ++i)
    if (mb[i] & 0x80) c.wr<uint8_t>(a + i, vb[i]);
}

// ---------------------------------------------------------------- shuffles and immediate shifts

namespace {
template <class T, unsigned N> struct Lanes {
  T v[N];
  static Lanes of(const Xmm& x) { Lanes l; std::memcpy(l.v, x.q, 16); return l; }
  Xmm xmm() const { Xmm x; std::memcpy(x.q, v, 16); return x; }
};
using U32x4 = Lanes<uint32_t, 4>;
using U16x8 = Lanes<uint16_t, 8>;
}  // namespace

void shufps(Cpu& c, const Op& o) {
  check(c);
  const auto s = U32x4::of(source(c, o)), d = U32x4::of(c.sse.xmm[o.dst]);
  const unsigned i = unsigned(o.imm);
  const U32x4 r{{d.v[i & 3], d.v[(i >> 2) & 3], s.v[(i >> 4) & 3], s.v[(i >> 6) & 3]}};
  c.sse.xmm[o.dst] = r.xmm();
}
void shufpd(Cpu& c, const Op& o) {
  check(c);
  const Xmm s = source(c, o), d = c.sse.xmm[o.dst];
  c.sse.xmm[o.dst] = Xmm{{d.q[o.imm & 1], s.q[(o.imm >> 1) & 1]}};
}
void pshufd(Cpu& c, const Op& o) {
  check(c);
  const auto s = U32x4::of(source(c, o));
  const unsigned i = unsigned(o.imm);
  const U32x4 r{{s.v[i & 3], s.v[(i >> 2) & 3], s.v[(i >> 4) & 3], s.v[(i >> 6) & 3]}};
  c.sse.xmm[o.dst] = r.xmm();
}
void pshuflw(Cpu& c, const Op& o) {
  check(c);
  const auto s = U16x8::of(source(c, o));
  auto r = s;
  for (unsigned k = 0; k < 4; ++k) r.v[k] = s.v[(o.imm >> (2 * k)) & 3];
  c.sse.xmm[o.dst] = r.xmm();
}
void pshufhw(Cpu& c, const Op& o) {
  check(c);
  const auto s = U16x8::of(source(c, o));
  auto r = s;
  for (unsigned k = 0; k < 4; ++k) r.v[4 + k] = s.v[4 + ((o.imm >> (2 * k)) & 3)];
  c.sse.xmm[o.dst] = r.xmm();
}

namespace {
// Counts above the element width give 0 (logical) or the sign (arithmetic): APM vol. 4 PSRLW/PSRAW.
template <class T> Xmm shift_lanes(const Xmm& x, unsigned n, uint8_t kind) {
  using S = std::make_signed_t<T>;
  constexpr unsigned bits = sizeof(T) * 8;
  Lanes<T, 16 / sizeof(T)> l = Lanes<T, 16 / sizeof(T)>::of(x);
  for (T& e : l.v) {
    if (kind == kShiftRightArith) e = T(S(e) >> (n < bits ? n : bits - 1));
    else if (n >= bits) e = 0;
    else e = kind == kShiftLeft ? T(e << n) : T(e >> n);
  }
  return l.xmm();
}
}  // namespace

void shift_imm(Cpu& c, const Op& o) {
  check(c);
  const Xmm x = c.sse.xmm[o.dst];
  const unsigned n = unsigned(o.imm & 0xFF);
  switch (o.w) {
    case 2: c.sse.xmm[o.dst] = shift_lanes<uint16_t>(x, n, o.w2); break;
    case 4: c.sse.xmm[o.dst] = shift_lanes<uint32_t>(x, n, o.w2); break;
    default: c.sse.xmm[o.dst] = shift_lanes<uint64_t>(x, n, o.w2); break;
  }
}
void byte_shift(Cpu& c, const Op& o) {
  check(c);
  uint8_t in[16], out[16] = {};
  std::memcpy(in, c.sse.xmm[o.dst].q, 16);
  const unsigned n = unsigned(o.imm & 0xFF);
  if (n < 16) {
    if (o.w2) std::memcpy(out + n, in, 16 - n);  // PSLLDQ
    else std::memcpy(out, in + n, 16 - n);       // PSRLDQ
  }
  std::memcpy(c.sse.xmm[o.dst].q, out, 16);
}
void pextrw(Cpu& c, const Op& o) {
  check(c);
  const auto s = U16x8::of(c.sse.xmm[o.src]);
  wreg_w(c, o.dst, o.w, s.v[o.imm & 7]);
}
void pinsrw(Cpu& c, const Op& o) {
  check(c);
  const uint16_t v = o.w2 ? c.rd<uint16_t>(ea(c, o)) : uint16_t(c.gpr[o.src >> 3]);
  auto d = U16x8::of(c.sse.xmm[o.dst]);
  d.v[o.imm & 7] = v;
  c.sse.xmm[o.dst] = d.xmm();
}

// ---------------------------------------------------------------- MXCSR, FXSAVE/FXRSTOR, cache control

void ldmxcsr(Cpu& c, const Op& o) {
  check(c);
  const uint32_t v = c.rd<uint32_t>(ea(c, o));
  if (v & ~kMxcsrWritable) c.gp(0);  // APM vol. 4 LDMXCSR: reserved bits set
  c.sse.mxcsr = v;
}
void stmxcsr(Cpu& c, const Op& o) {
  check(c);
  c.wr<uint32_t>(ea(c, o), c.sse.mxcsr);
}

namespace {
// FXSAVE/FXRSTOR: #NM when CR0.EM or CR0.TS is set (APM vol. 4 FXSAVE), #GP(0) when the
// operand is not 16-byte aligned. CR4.OSFXSR=0 leaves XMM and MXCSR out of the image; with
// EFER.FFXSR at CPL 0 in 64-bit mode the XMM registers are skipped (fast FXSAVE, APM vol. 2 §3.1.7).
uint64_t fx_checks(Cpu& c, const Op& o) {
  if (c.cr0 & (kCr0Em | kCr0Ts)) c.fault(kVectorNM, 0, false);
  const uint64_t a = ea(c, o);
  if (a & 15) c.gp(0);
  return a;
}
bool fx_mxcsr(const Cpu& c) { return c.cr4 & kCr4Osfxsr; }
bool fx_xmm(const Cpu& c) { return fx_mxcsr(c) && !((c.efer & kEferFfxsr) && c.cpl == 0); }
}  // namespace

void fxsave(Cpu& c, const Op& o) {
  const uint64_t a = fx_checks(c, o);
  check_writable(c, a, 512);  // all-or-nothing: the image may straddle one page boundary
  const SseState& s = c.sse;
  FxsaveImage img;
  std::memset(&img, 0, sizeof img);
  img.fcw = s.fcw;
  img.fsw = s.fsw;
  img.ftw = s.ftw;
  img.fop = s.fop;
  img.fip = s.fip;
  img.fdp = s.fdp;
  img.mxcsr = s.mxcsr;
  img.mxcsr_mask = kMxcsrWritable;
  for (unsigned i = 0; i < 8; ++i) std::memcpy(img.st[i], s.st[i], 10);
  for (unsigned i = 0; i < 16; ++i) std::memcpy(img.xmm[i], s.xmm[i].q, 16);
  uint64_t q[64];
  std::memcpy(q, &img, 512);
  const bool mx = fx_mxcsr(c), xmm = fx_xmm(c);
  for (unsigned i = 0; i < 52; ++i) {  // bytes 0-415; 416-511 are not written
    if (!mx && i == 3) {               // bytes 24-31: MXCSR, MXCSR_MASK
      continue;
    }
    if (!xmm && i >= 20) break;        // bytes 160-415: XMM0-15
    c.wr<uint64_t>(a + 8 * i, q[i]);
  }
}

void fxrstor(Cpu& c, const Op& o) {
  const uint64_t a = fx_checks(c, o);
  uint64_t q[52];
  for (unsigned i = 0; i < 52; ++i) q[i] = c.rd<uint64_t>(a + 8 * i);
  FxsaveImage img;
  std::memset(&img, 0, sizeof img);
  std::memcpy(&img, q, sizeof q);
  const bool mx = fx_mxcsr(c), xmm = fx_xmm(c);
  if (mx && (img.mxcsr & ~kMxcsrWritable)) c.gp(0);  // APM vol. 4 FXRSTOR: reserved MXCSR bits
  SseState& s = c.sse;
  s.fcw = img.fcw;
  s.fsw = img.fsw;
  s.ftw = img.ftw;
  s.fop = img.fop;
  s.fip = img.fip;
  s.fdp = img.fdp;
  for (unsigned i = 0; i < 8; ++i) std::memcpy(s.st[i], img.st[i], 10);
  if (mx) s.mxcsr = img.mxcsr;
  if (xmm)
    for (unsigned i = 0; i < 16; ++i) std::memcpy(s.xmm[i].q, img.xmm[i], 16);
}

void fence(Cpu&, const Op&) {}
void clflush(Cpu& c, const Op& o) { c.translate(ea(c, o), kRead); }

}  // namespace redoubt::sim::cpu::exec::sse
