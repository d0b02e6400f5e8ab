// Zydis -> Op for the SSE/SSE2 baseline of x86-64 (the 66/F2/F3 mandatory
// prefixes and REX.R/B for XMM8-15 are resolved by Zydis into the mnemonic and
// register). MMX-register forms are not modelled and decode to #UD.
#include "platform/sim/cpu/decode_sse.hpp"

#include "platform/sim/cpu/exec_sse.hpp"
#include "platform/sim/cpu/host_sse.hpp"
#include "platform/sim/cpu/sse_precision.hpp"

namespace redoubt::sim::cpu {

using namespace exec::sse;

namespace {

bool is_xmm(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_XMM;
}
bool is_mem(const ZydisDecodedOperand& op) { return op.type == ZYDIS_OPERAND_TYPE_MEMORY; }
bool is_gpr(const ZydisDecodedOperand& op) {
  if (op.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
  const ZydisRegisterClass k = ZydisRegisterGetClass(op.reg.value);
  return k == ZYDIS_REGCLASS_GPR32 || k == ZYDIS_REGCLASS_GPR64;
}
uint8_t xmm_of(const ZydisDecodedOperand& op) { return uint8_t(op.reg.value - ZYDIS_REGISTER_XMM0); }
uint8_t gpr_of(const ZydisDecodedOperand& op) {  // byte offset into Cpu::gpr (32/64-bit registers)
  const ZydisRegister r = op.reg.value;
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return reg_off(r - ZYDIS_REGISTER_RAX);
  return reg_off(r - ZYDIS_REGISTER_EAX);
}
uint8_t width(const ZydisDecodedOperand& op) { return uint8_t(op.size / 8); }

host::XThunk int_thunk(ZydisMnemonic m) {
  switch (m) {
#define RD_CASE(n, M) case ZYDIS_MNEMONIC_##M: return &host::n;
    RD_SSE_INT_OPS(RD_CASE)
#undef RD_CASE
    default: return nullptr;
  }
}
host::XThunk fp_thunk(ZydisMnemonic m) {
  switch (m) {
#define RD_CASE(n, M) case ZYDIS_MNEMONIC_##M: return &host::n;
    RD_SSE_FP_OPS(RD_CASE)
#undef RD_CASE
    default: return nullptr;
  }
}
host::RThunk to_gpr_thunk(ZydisMnemonic m, bool q) {
  switch (m) {
#define RD_CASE(n, M) case ZYDIS_MNEMONIC_##M: return q ? &host::n##_64 : &host::n##_32;
    RD_SSE_TO_GPR_OPS(RD_CASE)
#undef RD_CASE
    default: return nullptr;
  }
}
// The arithmetic behind a floating-point op, for PE after unmasked OE/UE (sse_precision.hpp).
uint8_t fp_shape(ZydisMnemonic m) {
  using namespace sse_precision;
  switch (m) {
    case ZYDIS_MNEMONIC_ADDPS: return shape(kAdd, false, 4);
    case ZYDIS_MNEMONIC_ADDSS: return shape(kAdd, false, 1);
    case ZYDIS_MNEMONIC_ADDPD: return shape(kAdd, true, 2);
    case ZYDIS_MNEMONIC_ADDSD: return shape(kAdd, true, 1);
    case ZYDIS_MNEMONIC_SUBPS: return shape(kSub, false, 4);
    case ZYDIS_MNEMONIC_SUBSS: return shape(kSub, false, 1);
    case ZYDIS_MNEMONIC_SUBPD: return shape(kSub, true, 2);
    case ZYDIS_MNEMONIC_SUBSD: return shape(kSub, true, 1);
    case ZYDIS_MNEMONIC_MULPS: return shape(kMul, false, 4);
    case ZYDIS_MNEMONIC_MULSS: return shape(kMul, false, 1);
    case ZYDIS_MNEMONIC_MULPD: return shape(kMul, true, 2);
    case ZYDIS_MNEMONIC_MULSD: return shape(kMul, true, 1);
    case ZYDIS_MNEMONIC_DIVPS: return shape(kDiv, false, 4);
    case ZYDIS_MNEMONIC_DIVSS: return shape(kDiv, false, 1);
    case ZYDIS_MNEMONIC_DIVPD: return shape(kDiv, true, 2);
    case ZYDIS_MNEMONIC_DIVSD: return shape(kDiv, true, 1);
    case ZYDIS_MNEMONIC_CVTSD2SS: return shape(kCvtD2S, true, 1);
    case ZYDIS_MNEMONIC_CVTPD2PS: return shape(kCvtD2S, true, 2);
    default: return 0;  // cannot overflow or underflow
  }
}
template <class F> uint64_t fn_bits(F f) { return reinterpret_cast<uint64_t>(f); }

}  // namespace

int select_sse(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o) {
  switch (in.meta.isa_set) {
    case ZYDIS_ISA_SET_SSE: case ZYDIS_ISA_SET_SSE2: case ZYDIS_ISA_SET_SSEMXCSR: case ZYDIS_ISA_SET_FXSAVE:
    case ZYDIS_ISA_SET_FXSAVE64: case ZYDIS_ISA_SET_CLFSH: case ZYDIS_ISA_SET_SSE_PREFETCH:
      break;
    default:
      return -1;
  }
  const unsigned nv = in.operand_count_visible;
  for (unsigned i = 0; i < nv; ++i)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[i].reg.value) == ZYDIS_REGCLASS_MMX)
      return 0;  // MMX forms (CVTPI2PS, MOVQ2DQ, PSHUFW, ...): MMX is not modelled
  const ZydisMnemonic m = in.mnemonic;
  const ZydisDecodedOperand& a = ops[0];
  const ZydisDecodedOperand& b = ops[1];
  // Legacy-SSE 128-bit memory operands must be 16-byte aligned except for the
  // explicitly unaligned moves (APM vol. 4 §"Alignment"; MOVUPS, MOVUPD, MOVDQU).
  const bool unaligned_ok = m == ZYDIS_MNEMONIC_MOVUPS || m == ZYDIS_MNEMONIC_MOVUPD || m == ZYDIS_MNEMONIC_MOVDQU;
  o.cc = 0;
  o.w = 0;
  o.w2 = 0;
  for (unsigned i = 0; i < nv; ++i)
    if (is_mem(ops[i])) {
      o.w2 = ops[i].size / 8 <= 16 ? uint8_t(ops[i].size / 8) : 0;
      if (ops[i].size == 128 && !unaligned_ok) o.cc |= kSseAlign;
    }
  // dst = xmm(op0), src = xmm(op1) or memory.
  auto two = [&](Handler h, uint64_t imm, uint8_t extra) -> int {
    if (!is_xmm(a) || !(is_xmm(b) || is_mem(b))) return 0;
    o.dst = xmm_of(a);
    if (is_xmm(b)) { o.src = xmm_of(b); o.w2 = 0; }
    o.imm = imm;
    o.cc |= extra;
    o.fn = h;
    return 1;
  };
  auto imm8 = [&](unsigned i) -> uint64_t { return ops[i].imm.value.u & 0xFF; };

  if (host::XThunk f = fp_thunk(m)) {
    o.w = fp_shape(m);
    return two(&xop, fn_bits(f), kSseFp);
  }
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSS: case ZYDIS_MNEMONIC_MOVSD:
      if (is_xmm(a) && is_xmm(b)) return two(&xop, fn_bits(int_thunk(m)), 0);
      [[fallthrough]];
    case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVAPD: case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQA: case ZYDIS_MNEMONIC_MOVDQU: case ZYDIS_MNEMONIC_MOVNTPS: case ZYDIS_MNEMONIC_MOVNTPD:
    case ZYDIS_MNEMONIC_MOVNTDQ:
      if (is_xmm(a) && is_xmm(b)) { o.dst = xmm_of(a); o.src = xmm_of(b); o.fn = &mov_rr; return 1; }
      if (is_xmm(a) && is_mem(b)) { o.dst = xmm_of(a); o.fn = &mov_load; return 1; }
      if (is_mem(a) && is_xmm(b)) { o.src = xmm_of(b); o.fn = &mov_store; return 1; }
      return 0;
    case ZYDIS_MNEMONIC_MOVD: case ZYDIS_MNEMONIC_MOVQ:
      if (is_xmm(a) && is_xmm(b)) { o.dst = xmm_of(a); o.src = xmm_of(b); o.fn = &movq_rr; return 1; }
      if (is_xmm(a) && is_gpr(b)) { o.dst = xmm_of(a); o.src = gpr_of(b); o.w = width(b); o.fn = &movd_from_gpr; return 1; }
      if (is_gpr(a) && is_xmm(b)) { o.dst = gpr_of(a); o.src = xmm_of(b); o.w = width(a); o.fn = &movd_to_gpr; return 1; }
      if (is_xmm(a) && is_mem(b)) { o.dst = xmm_of(a); o.fn = &mov_load; return 1; }
      if (is_mem(a) && is_xmm(b)) { o.src = xmm_of(b); o.fn = &mov_store; return 1; }
      return 0;
    case ZYDIS_MNEMONIC_MOVLPS: case ZYDIS_MNEMONIC_MOVLPD: case ZYDIS_MNEMONIC_MOVHPS: case ZYDIS_MNEMONIC_MOVHPD: {
      const bool high = m == ZYDIS_MNEMONIC_MOVHPS || m == ZYDIS_MNEMONIC_MOVHPD;
      if (high) o.cc |= kSseHigh;
      if (is_xmm(a) && is_mem(b)) { o.dst = xmm_of(a); o.fn = &mov_half_load; return 1; }
      if (is_mem(a) && is_xmm(b)) { o.src = xmm_of(b); o.w2 = 8; o.fn = &mov_store; return 1; }
      return 0;
    }
    case ZYDIS_MNEMONIC_MOVNTI:
      if (!is_mem(a) || !is_gpr(b)) return 0;
      o.src = gpr_of(b);
      o.w = width(b);
      o.fn = &movnti;
      return 1;
    case ZYDIS_MNEMONIC_MASKMOVDQU: {
      if (!is_xmm(a) || !is_xmm(b) || in.operand_count < 3 || !is_mem(ops[2])) return 0;
      o.dst = xmm_of(a);
      o.src = xmm_of(b);
      o.asz32 = ops[2].mem.base == ZYDIS_REGISTER_EDI;
      o.seg = ops[2].mem.segment == ZYDIS_REGISTER_FS ? 4 : ops[2].mem.segment == ZYDIS_REGISTER_GS ? 5 : 0;
      o.fn = &maskmovdqu;
      return 1;
    }
    case ZYDIS_MNEMONIC_CMPPS: return two(&cmp, fn_bits(host::cmpps(unsigned(imm8(2)))), kSseFp);
    case ZYDIS_MNEMONIC_CMPSS: return two(&cmp, fn_bits(host::cmpss(unsigned(imm8(2)))), kSseFp);
    case ZYDIS_MNEMONIC_CMPPD: return two(&cmp, fn_bits(host::cmppd(unsigned(imm8(2)))), kSseFp);
    case ZYDIS_MNEMONIC_CMPSD: return two(&cmp, fn_bits(host::cmpsd(unsigned(imm8(2)))), kSseFp);
    case ZYDIS_MNEMONIC_COMISS: return two(&comi, fn_bits(&host::comiss), 0);
    case ZYDIS_MNEMONIC_UCOMISS: return two(&comi, fn_bits(&host::ucomiss), 0);
    case ZYDIS_MNEMONIC_COMISD: return two(&comi, fn_bits(&host::comisd), 0);
    case ZYDIS_MNEMONIC_UCOMISD: return two(&comi, fn_bits(&host::ucomisd), 0);
    case ZYDIS_MNEMONIC_CVTSI2SS: case ZYDIS_MNEMONIC_CVTSI2SD: {
      if (!is_xmm(a) || !(is_gpr(b) || is_mem(b))) return 0;
      const bool q = b.size == 64, sd = m == ZYDIS_MNEMONIC_CVTSI2SD;
      o.dst = xmm_of(a);
      o.w = width(b);
      if (is_gpr(b)) { o.src = gpr_of(b); o.w2 = 0; }
      o.imm = sd ? (q ? fn_bits(&host::cvtsi2sd_64) : fn_bits(&host::cvtsi2sd_32))
                 : (q ? fn_bits(&host::cvtsi2ss_64) : fn_bits(&host::cvtsi2ss_32));
      o.fn = &cvt_from_gpr;
      return 1;
    }
    case ZYDIS_MNEMONIC_CVTSS2SI: case ZYDIS_MNEMONIC_CVTTSS2SI: case ZYDIS_MNEMONIC_CVTSD2SI:
    case ZYDIS_MNEMONIC_CVTTSD2SI: case ZYDIS_MNEMONIC_MOVMSKPS: case ZYDIS_MNEMONIC_MOVMSKPD:
    case ZYDIS_MNEMONIC_PMOVMSKB: {
      if (!is_gpr(a) || !(is_xmm(b) || is_mem(b))) return 0;
      o.dst = gpr_of(a);
      o.w = width(a);
      if (is_xmm(b)) { o.src = xmm_of(b); o.w2 = 0; }
      if (host::RThunk f = to_gpr_thunk(m, o.w == 8)) {
        o.imm = fn_bits(f);
        o.cc |= kSseFp;
      } else {
        if (!is_xmm(b)) return 0;
        o.imm = fn_bits(m == ZYDIS_MNEMONIC_MOVMSKPS ? &host::movmskps
                        : m == ZYDIS_MNEMONIC_MOVMSKPD ? &host::movmskpd : &host::pmovmskb);
      }
      o.fn = &to_gpr;
      return 1;
    }
    case ZYDIS_MNEMONIC_SHUFPS: return two(&shufps, imm8(2), 0);
    case ZYDIS_MNEMONIC_SHUFPD: return two(&shufpd, imm8(2), 0);
    case ZYDIS_MNEMONIC_PSHUFD: return two(&pshufd, imm8(2), 0);
    case ZYDIS_MNEMONIC_PSHUFLW: return two(&pshuflw, imm8(2), 0);
    case ZYDIS_MNEMONIC_PSHUFHW: return two(&pshufhw, imm8(2), 0);
    case ZYDIS_MNEMONIC_PSRLW: case ZYDIS_MNEMONIC_PSRLD: case ZYDIS_MNEMONIC_PSRLQ: case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD: case ZYDIS_MNEMONIC_PSLLW: case ZYDIS_MNEMONIC_PSLLD: case ZYDIS_MNEMONIC_PSLLQ: {
      if (b.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return two(&xop, fn_bits(int_thunk(m)), 0);
      if (!is_xmm(a)) return 0;
      const bool w16 = m == ZYDIS_MNEMONIC_PSRLW || m == ZYDIS_MNEMONIC_PSRAW || m == ZYDIS_MNEMONIC_PSLLW;
      const bool w64 = m == ZYDIS_MNEMONIC_PSRLQ || m == ZYDIS_MNEMONIC_PSLLQ;
      o.dst = xmm_of(a);
      o.w = w16 ? 2 : w64 ? 8 : 4;
      o.w2 = (m == ZYDIS_MNEMONIC_PSRAW || m == ZYDIS_MNEMONIC_PSRAD) ? kShiftRightArith
             : (m == ZYDIS_MNEMONIC_PSLLW || m == ZYDIS_MNEMONIC_PSLLD || m == ZYDIS_MNEMONIC_PSLLQ) ? kShiftLeft
                                                                                                  : kShiftRightLogical;
      o.imm = imm8(1);
      o.fn = &shift_imm;
      return 1;
    }
    case ZYDIS_MNEMONIC_PSRLDQ: case ZYDIS_MNEMONIC_PSLLDQ:
      if (!is_xmm(a)) return 0;
      o.dst = xmm_of(a);
      o.w2 = m == ZYDIS_MNEMONIC_PSLLDQ;
      o.imm = imm8(1);
      o.fn = &byte_shift;
      return 1;
    case ZYDIS_MNEMONIC_PEXTRW:
      if (!is_gpr(a) || !is_xmm(b)) return 0;
      o.dst = gpr_of(a);
      o.w = width(a);
      o.src = xmm_of(b);
      o.imm = imm8(2);
      o.fn = &pextrw;
      return 1;
    case ZYDIS_MNEMONIC_PINSRW:
      if (!is_xmm(a)) return 0;
      o.dst = xmm_of(a);
      if (is_gpr(b)) { o.src = gpr_of(b); o.w2 = 0; }
      else if (!is_mem(b)) return 0;
      o.imm = imm8(2);
      o.fn = &pinsrw;
      return 1;
    case ZYDIS_MNEMONIC_LDMXCSR: o.fn = &ldmxcsr; return is_mem(a);
    case ZYDIS_MNEMONIC_STMXCSR: o.fn = &stmxcsr; return is_mem(a);
    case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64:
      o.w = m == ZYDIS_MNEMONIC_FXSAVE64 ? 8 : 4;
      o.fn = &fxsave;
      return is_mem(a);
    case ZYDIS_MNEMONIC_FXRSTOR: case ZYDIS_MNEMONIC_FXRSTOR64:
      o.w = m == ZYDIS_MNEMONIC_FXRSTOR64 ? 8 : 4;
      o.fn = &fxrstor;
      return is_mem(a);
    case ZYDIS_MNEMONIC_SFENCE: case ZYDIS_MNEMONIC_LFENCE: case ZYDIS_MNEMONIC_MFENCE:
    case ZYDIS_MNEMONIC_PREFETCHNTA: case ZYDIS_MNEMONIC_PREFETCHT0: case ZYDIS_MNEMONIC_PREFETCHT1:
    case ZYDIS_MNEMONIC_PREFETCHT2:
      o.fn = &fence;
      return 1;
    case ZYDIS_MNEMONIC_CLFLUSH: o.fn = &clflush; return is_mem(a);
    default: break;
  }
  if (host::XThunk f = int_thunk(m)) return two(&xop, fn_bits(f), 0);
  return 0;  // an SSE/SSE2-set instruction outside the modelled list (none known): #UD
}

}  // namespace redoubt::sim::cpu
