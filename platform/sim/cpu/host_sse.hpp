// The host CPU's own SSE/SSE2 instructions, one thunk each, used by the
// interpreter so that results (rounding, NaN propagation, DAZ/FTZ, exception
// flags, RCP/RSQRT approximations) are exactly what an x86-64 CPU computes.
// Floating-point thunks run with the MXCSR passed in (the caller's host MXCSR
// is saved and restored around the instruction) and return the MXCSR after it.
// Requires an x86-64 host (the simulator already does: see docs/simulator-cpu.md).
#pragma once
#include <cstdint>

#include "platform/sim/cpu/sse_state.hpp"

namespace redoubt::sim::cpu::host {

// d = op(d, s); m: MXCSR in/out (integer and bitwise thunks leave it alone).
using XThunk = void (*)(Xmm& d, const Xmm& s, uint32_t& m);
// d = op(d, g): CVTSI2SS/SD from a 32- or 64-bit integer.
using GThunk = void (*)(Xmm& d, uint64_t g, uint32_t& m);
// GPR = op(s): CVT(T)SS2SI/SD2SI, MOVMSKPS/PD, PMOVMSKB.
using RThunk = uint64_t (*)(const Xmm& s, uint32_t& m);
// (U)COMISS/SD: returns RFLAGS' status flags after comparing d with s.
using FThunk = uint64_t (*)(const Xmm& d, const Xmm& s, uint32_t& m);

// X(lowercase mnemonic, Zydis mnemonic suffix)
// Integer and bitwise operations: no MXCSR involvement.
#define RD_SSE_INT_OPS(X)                                                                                      \
  X(pand, PAND) X(pandn, PANDN) X(por, POR) X(pxor, PXOR) X(paddb, PADDB) X(paddw, PADDW) X(paddd, PADDD)     \
  X(paddq, PADDQ) X(paddsb, PADDSB) X(paddsw, PADDSW) X(paddusb, PADDUSB) X(paddusw, PADDUSW) X(psubb, PSUBB) \
  X(psubw, PSUBW) X(psubd, PSUBD) X(psubq, PSUBQ) X(psubsb, PSUBSB) X(psubsw, PSUBSW) X(psubusb, PSUBUSB)     \
  X(psubusw, PSUBUSW) X(pcmpeqb, PCMPEQB) X(pcmpeqw, PCMPEQW) X(pcmpeqd, PCMPEQD) X(pcmpgtb, PCMPGTB)         \
  X(pcmpgtw, PCMPGTW) X(pcmpgtd, PCMPGTD) X(pmullw, PMULLW) X(pmulhw, PMULHW) X(pmulhuw, PMULHUW)             \
  X(pmuludq, PMULUDQ) X(pmaddwd, PMADDWD) X(psadbw, PSADBW) X(pavgb, PAVGB) X(pavgw, PAVGW) X(pminub, PMINUB) \
  X(pmaxub, PMAXUB) X(pminsw, PMINSW) X(pmaxsw, PMAXSW) X(psllw, PSLLW) X(pslld, PSLLD) X(psllq, PSLLQ)       \
  X(psrlw, PSRLW) X(psrld, PSRLD) X(psrlq, PSRLQ) X(psraw, PSRAW) X(psrad, PSRAD) X(punpcklbw, PUNPCKLBW)     \
  X(punpcklwd, PUNPCKLWD) X(punpckldq, PUNPCKLDQ) X(punpcklqdq, PUNPCKLQDQ) X(punpckhbw, PUNPCKHBW)           \
  X(punpckhwd, PUNPCKHWD) X(punpckhdq, PUNPCKHDQ) X(punpckhqdq, PUNPCKHQDQ) X(packsswb, PACKSSWB)             \
  X(packssdw, PACKSSDW) X(packuswb, PACKUSWB) X(andps, ANDPS) X(andnps, ANDNPS) X(orps, ORPS) X(xorps, XORPS) \
  X(andpd, ANDPD) X(andnpd, ANDNPD) X(orpd, ORPD) X(xorpd, XORPD) X(unpcklps, UNPCKLPS) X(unpckhps, UNPCKHPS) \
  X(unpcklpd, UNPCKLPD) X(unpckhpd, UNPCKHPD) X(movhlps, MOVHLPS) X(movlhps, MOVLHPS) X(movss, MOVSS)         \
  X(movsd, MOVSD)

// Floating-point operations (MXCSR rounding, DAZ/FTZ, flags).
#define RD_SSE_FP_OPS(X)                                                                                          \
  X(addps, ADDPS) X(addss, ADDSS) X(addpd, ADDPD) X(addsd, ADDSD) X(subps, SUBPS) X(subss, SUBSS) X(subpd, SUBPD) \
  X(subsd, SUBSD) X(mulps, MULPS) X(mulss, MULSS) X(mulpd, MULPD) X(mulsd, MULSD) X(divps, DIVPS) X(divss, DIVSS) \
  X(divpd, DIVPD) X(divsd, DIVSD) X(sqrtps, SQRTPS) X(sqrtss, SQRTSS) X(sqrtpd, SQRTPD) X(sqrtsd, SQRTSD)          \
  X(minps, MINPS) X(minss, MINSS) X(minpd, MINPD) X(minsd, MINSD) X(maxps, MAXPS) X(maxss, MAXSS) X(maxpd, MAXPD) \
  X(maxsd, MAXSD) X(rcpps, RCPPS) X(rcpss, RCPSS) X(rsqrtps, RSQRTPS) X(rsqrtss, RSQRTSS) X(cvtss2sd, CVTSS2SD)   \
  X(cvtsd2ss, CVTSD2SS) X(cvtps2pd, CVTPS2PD) X(cvtpd2ps, CVTPD2PS) X(cvtdq2ps, CVTDQ2PS) X(cvtps2dq, CVTPS2DQ)    \
  X(cvttps2dq, CVTTPS2DQ) X(cvtdq2pd, CVTDQ2PD) X(cvtpd2dq, CVTPD2DQ) X(cvttpd2dq, CVTTPD2DQ)

// To a GPR (32- and 64-bit destination).
#define RD_SSE_TO_GPR_OPS(X) \
  X(cvtss2si, CVTSS2SI) X(cvttss2si, CVTTSS2SI) X(cvtsd2si, CVTSD2SI) X(cvttsd2si, CVTTSD2SI)

#define RD_SSE_DECL_X(n, M) void n(Xmm& d, const Xmm& s, uint32_t& m);
RD_SSE_INT_OPS(RD_SSE_DECL_X)
RD_SSE_FP_OPS(RD_SSE_DECL_X)
#undef RD_SSE_DECL_X
#define RD_SSE_DECL_R(n, M) uint64_t n##_32(const Xmm& s, uint32_t& m); uint64_t n##_64(const Xmm& s, uint32_t& m);
RD_SSE_TO_GPR_OPS(RD_SSE_DECL_R)
#undef RD_SSE_DECL_R

uint64_t movmskps(const Xmm& s, uint32_t& m);
uint64_t movmskpd(const Xmm& s, uint32_t& m);
uint64_t pmovmskb(const Xmm& s, uint32_t& m);
void cvtsi2ss_32(Xmm& d, uint64_t g, uint32_t& m);
void cvtsi2ss_64(Xmm& d, uint64_t g, uint32_t& m);
void cvtsi2sd_32(Xmm& d, uint64_t g, uint32_t& m);
void cvtsi2sd_64(Xmm& d, uint64_t g, uint32_t& m);
uint64_t comiss(const Xmm& d, const Xmm& s, uint32_t& m);
uint64_t ucomiss(const Xmm& d, const Xmm& s, uint32_t& m);
uint64_t comisd(const Xmm& d, const Xmm& s, uint32_t& m);
uint64_t ucomisd(const Xmm& d, const Xmm& s, uint32_t& m);

// CMPccPS/SS/PD/SD with predicate p (0-7: EQ LT LE UNORD NEQ NLT NLE ORD).
XThunk cmpps(unsigned p);
XThunk cmpss(unsigned p);
XThunk cmppd(unsigned p);
XThunk cmpsd(unsigned p);

}  // namespace redoubt::sim::cpu::host
