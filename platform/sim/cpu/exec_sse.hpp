// SSE/SSE2 handlers (exec_sse.cpp), selected by decode_sse.cpp.
//
// Op fields for these handlers: dst/src are XMM numbers (0-15) or, for GPR
// operands, byte offsets into Cpu::gpr; w is the GPR operand width; w2 is the
// memory operand size in bytes (0: register form); cc holds kSse* flags; imm
// holds the host thunk (host_sse.hpp) or the instruction's imm8.
#pragma once
#include "platform/sim/cpu/exec.hpp"

namespace redoubt::sim::cpu::exec::sse {

inline constexpr uint8_t kSseAlign = 1;   // 16-byte memory operand must be aligned (#GP(0))
inline constexpr uint8_t kSseFp = 2;      // floating point: MXCSR in, flags out, #XM
inline constexpr uint8_t kSseHigh = 4;    // MOVHPS/MOVHPD: the high quadword

void xop(Cpu&, const Op&);           // xmm[dst] = thunk(xmm[dst], xmm[src] | mem)
void cvt_from_gpr(Cpu&, const Op&);  // CVTSI2SS/SD xmm, r/m32|64 (w = integer width)
void to_gpr(Cpu&, const Op&);        // GPR = thunk(xmm[src] | mem): CVT(T)S*2SI, MOVMSK*, PMOVMSKB
void comi(Cpu&, const Op&);          // (U)COMISS/SD -> ZF PF CF, OF SF AF cleared
void cmp(Cpu&, const Op&);           // CMPccPS/SS/PD/SD (thunk chosen by imm8 at decode)

void mov_rr(Cpu&, const Op&);        // xmm[dst] = xmm[src] (128 bits)
void mov_load(Cpu&, const Op&);      // xmm[dst] = zero-extended w2 bytes from memory
void mov_store(Cpu&, const Op&);     // memory = low w2 bytes of xmm[src] (or high 8 with kSseHigh)
void movq_rr(Cpu&, const Op&);       // xmm[dst] = low quadword of xmm[src], high quadword zeroed
void mov_half_load(Cpu&, const Op&); // MOVLPS/LPD/HPS/HPD load: one quadword replaced
void movd_from_gpr(Cpu&, const Op&); // MOVD/MOVQ xmm, r32/r64 (zero-extended)
void movd_to_gpr(Cpu&, const Op&);   // MOVD/MOVQ r32/r64, xmm
void movnti(Cpu&, const Op&);        // MOVNTI m32/m64, r (a GPR store: no SSE enable checks)
void maskmovdqu(Cpu&, const Op&);    // byte-masked store to [rDI]

void shufps(Cpu&, const Op&);
void shufpd(Cpu&, const Op&);
void pshufd(Cpu&, const Op&);
void pshuflw(Cpu&, const Op&);
void pshufhw(Cpu&, const Op&);
void shift_imm(Cpu&, const Op&);     // PSRLW/D/Q PSRAW/D PSLLW/D/Q xmm, imm8 (w = element bytes, w2 = kind)
void byte_shift(Cpu&, const Op&);    // PSRLDQ (w2 = 0) / PSLLDQ (w2 = 1) xmm, imm8
void pextrw(Cpu&, const Op&);
void pinsrw(Cpu&, const Op&);

void ldmxcsr(Cpu&, const Op&);
void stmxcsr(Cpu&, const Op&);
void fxsave(Cpu&, const Op&);        // w = 8: FXSAVE64 (64-bit FIP/FDP format)
void fxrstor(Cpu&, const Op&);
void fence(Cpu&, const Op&);         // SFENCE LFENCE MFENCE, PREFETCHh: no architectural effect
void clflush(Cpu&, const Op&);       // faults like a byte load, otherwise no effect

// Shift kinds for shift_imm (w2).
inline constexpr uint8_t kShiftLeft = 0, kShiftRightLogical = 1, kShiftRightArith = 2;

}  // namespace redoubt::sim::cpu::exec::sse
