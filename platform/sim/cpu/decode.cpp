// Zydis -> Op: decode a block once, choose a specialised handler per
// instruction, and compute flag liveness inside the block.
#include <Zydis/Zydis.h>

#include <cstring>

#include "platform/sim/cpu/decode.hpp"
#include "platform/sim/cpu/decode_sse.hpp"
#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/exec_mode.hpp"

namespace redoubt::sim::cpu {

using namespace exec;

// Register -> byte offset into Cpu::gpr, or -1.
int gpr_off(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
    const int i = r - ZYDIS_REGISTER_AL;
    if (i < 4) return i * 8;
    if (i < 8) return (i - 4) * 8 + 1;  // AH CH DH BH
    return (i - 4) * 8;                 // SPL.. DIL, R8B..R15B
  }
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return (r - ZYDIS_REGISTER_AX) * 8;
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return (r - ZYDIS_REGISTER_EAX) * 8;
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return (r - ZYDIS_REGISTER_RAX) * 8;
  return -1;
}
int gpr_index(ZydisRegister r) {  // address registers
  if (r == ZYDIS_REGISTER_NONE) return kZero;
  if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP) return kRip;
  const int o = gpr_off(r);
  return o < 0 ? -1 : o / 8;
}
uint8_t seg_number(ZydisRegister r) {
  return r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS ? uint8_t(r - ZYDIS_REGISTER_ES) : uint8_t(3);
}
bool set_mem_operand(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o) {
  for (unsigned i = 0; i < in.operand_count_visible; ++i) {
    const auto& op = ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY ||
        (op.mem.type != ZYDIS_MEMOP_TYPE_MEM && op.mem.type != ZYDIS_MEMOP_TYPE_AGEN))
      continue;
    const auto& mo = op.mem;
    const int b = gpr_index(mo.base), x = gpr_index(mo.index);
    if (b < 0 || x < 0) return false;
    o.base = uint8_t(b);
    o.index = uint8_t(x);
    o.scale = uint8_t(mo.scale == 8 ? 3 : mo.scale == 4 ? 2 : mo.scale == 2 ? 1 : 0);
    o.disp = mo.disp.has_displacement ? mo.disp.value : 0;
    o.seg = seg_number(mo.segment);  // ES/CS/SS/DS bases read as 0 in 64-bit mode (Cpu::update_mode)
    o.asz32 = in.address_width == 32;
    return true;
  }
  return false;
}

namespace {

// ---- handler tables over width and operand kinds ----
template <template <int> class F> Handler by_w(unsigned w) {
  switch (w) {
    case 1: return F<1>::h;
    case 2: return F<2>::h;
    case 4: return F<4>::h;
    default: return F<8>::h;
  }
}
#define RD_BYW(name, expr)                          \
  template <int W> struct name {                    \
    static constexpr Handler h = expr;              \
  };

template <Alu A, K D, K S> struct AluT {
  template <int W> struct F { static constexpr Handler h = &alu<A, W, D, S>; };
};
template <Alu A> Handler alu_h(unsigned w, K d, K s) {
  if (d == R && s == R) return by_w<AluT<A, R, R>::template F>(w);
  if (d == R && s == M) return by_w<AluT<A, R, M>::template F>(w);
  if (d == R && s == I) return by_w<AluT<A, R, I>::template F>(w);
  if (d == M && s == R) return by_w<AluT<A, M, R>::template F>(w);
  return by_w<AluT<A, M, I>::template F>(w);
}
Handler alu_any(Alu a, unsigned w, K d, K s) {
  switch (a) {
    case ADD: return alu_h<ADD>(w, d, s);
    case OR: return alu_h<OR>(w, d, s);
    case ADC: return alu_h<ADC>(w, d, s);
    case SBB: return alu_h<SBB>(w, d, s);
    case AND: return alu_h<AND>(w, d, s);
    case SUB: return alu_h<SUB>(w, d, s);
    case XOR: return alu_h<XOR>(w, d, s);
    case CMP: return alu_h<CMP>(w, d, s);
    default: return alu_h<TEST>(w, d, s);
  }
}
template <Un A, K D> struct UnT {
  template <int W> struct F { static constexpr Handler h = &unary<A, W, D>; };
};
template <Un A> Handler un_h(unsigned w, K d) {
  return d == M ? by_w<UnT<A, M>::template F>(w) : by_w<UnT<A, R>::template F>(w);
}
Handler un_any(Un a, unsigned w, K d) {
  switch (a) {
    case INC: return un_h<INC>(w, d);
    case DEC: return un_h<DEC>(w, d);
    case NEG: return un_h<NEG>(w, d);
    default: return un_h<NOT>(w, d);
  }
}
template <Sh A, K D, K C> struct ShT {
  template <int W> struct F { static constexpr Handler h = &shift<A, W, D, C>; };
};
template <Sh A> Handler sh_h(unsigned w, K d, K c) {
  if (d == R) {
    if (c == One) return by_w<ShT<A, R, One>::template F>(w);
    if (c == Cl) return by_w<ShT<A, R, Cl>::template F>(w);
    return by_w<ShT<A, R, I>::template F>(w);
  }
  if (c == One) return by_w<ShT<A, M, One>::template F>(w);
  if (c == Cl) return by_w<ShT<A, M, Cl>::template F>(w);
  return by_w<ShT<A, M, I>::template F>(w);
}
Handler sh_any(Sh a, unsigned w, K d, K c) {
  switch (a) {
    case SHL: return sh_h<SHL>(w, d, c);
    case SHR: return sh_h<SHR>(w, d, c);
    case SAR: return sh_h<SAR>(w, d, c);
    case ROL: return sh_h<ROL>(w, d, c);
    case ROR: return sh_h<ROR>(w, d, c);
    case RCL: return sh_h<RCL>(w, d, c);
    default: return sh_h<RCR>(w, d, c);
  }
}
template <K D, K S> struct MovT {
  template <int W> struct F { static constexpr Handler h = &mov<W, D, S>; };
};
Handler mov_h(unsigned w, K d, K s) {
  if (d == R && s == R) return by_w<MovT<R, R>::template F>(w);
  if (d == R && s == M) return by_w<MovT<R, M>::template F>(w);
  if (d == R && s == I) return by_w<MovT<R, I>::template F>(w);
  if (d == M && s == R) return by_w<MovT<M, R>::template F>(w);
  return by_w<MovT<M, I>::template F>(w);
}
template <int W, bool Sg, K S> Handler movx_w2(unsigned w2) {
  if constexpr (W == 2) return w2 == 1 ? &movx<2, 1, Sg, S> : nullptr;
  else if constexpr (W == 4) return w2 == 1 ? &movx<4, 1, Sg, S> : w2 == 2 ? &movx<4, 2, Sg, S> : nullptr;
  else return w2 == 1 ? &movx<8, 1, Sg, S> : w2 == 2 ? &movx<8, 2, Sg, S> : w2 == 4 ? &movx<8, 4, Sg, S> : nullptr;
}
template <bool Sg, K S> Handler movx_h(unsigned w, unsigned w2) {
  switch (w) {
    case 2: return movx_w2<2, Sg, S>(w2);
    case 4: return movx_w2<4, Sg, S>(w2);
    case 8: return movx_w2<8, Sg, S>(w2);
    default: return nullptr;
  }
}
template <int W> struct LeaT { static constexpr Handler h = &lea<W>; };
template <K S> struct CmovT {
  template <int W> struct F { static constexpr Handler h = &cmovcc<W, S>; };
};

// Condition code (encoding order) of jcc/setcc/cmovcc mnemonics.
int cc_of(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_CMOVO: return 0;
    case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_CMOVNO: return 1;
    case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_CMOVB: return 2;
    case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_CMOVNB: return 3;
    case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_CMOVZ: return 4;
    case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_CMOVNZ: return 5;
    case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_CMOVBE: return 6;
    case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_SETNBE: case ZYDIS_MNEMONIC_CMOVNBE: return 7;
    case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_CMOVS: return 8;
    case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_CMOVNS: return 9;
    case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_CMOVP: return 10;
    case ZYDIS_MNEMONIC_JNP: case ZYDIS_MNEMONIC_SETNP: case ZYDIS_MNEMONIC_CMOVNP: return 11;
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_CMOVL: return 12;
    case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_CMOVNL: return 13;
    case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_CMOVLE: return 14;
    case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_SETNLE: case ZYDIS_MNEMONIC_CMOVNLE: return 15;
    default: return -1;
  }
}

}  // namespace

using Info = DecodeInfo;

// Fills o.fn (and operand fields); false: not supported (-> #UD).
bool select(const ZydisDecodedInstruction& in, const ZydisDecodedOperand* ops, Op& o, Info& info) {
  const ZydisMnemonic m = in.mnemonic;
  const unsigned nv = in.operand_count_visible;
  // Operand kinds and fields.
  K kind[3] = {R, R, R};
  int mem_i = -1;
  for (unsigned i = 0; i < in.operand_count; ++i) {
    const auto& op = ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      info.may_fault = true;
      if (op.mem.type == ZYDIS_MEMOP_TYPE_MEM || op.mem.type == ZYDIS_MEMOP_TYPE_AGEN) {
        if (i < nv && mem_i < 0) mem_i = int(i);
      }
    }
  }
  for (unsigned i = 0; i < nv && i < 3; ++i) {
    const auto& op = ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) kind[i] = M;
    else if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) kind[i] = I;
    else kind[i] = R;
  }
  if (mem_i >= 0 && !set_mem_operand(in, ops, o)) return false;
  auto reg = [&](unsigned i) -> int { return ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr_off(ops[i].reg.value) : -1; };
  auto imm = [&](unsigned i) -> uint64_t { return ops[i].imm.is_signed ? uint64_t(ops[i].imm.value.s) : ops[i].imm.value.u; };
  const unsigned w0 = nv ? ops[0].size / 8 : in.operand_width / 8;
  o.w = uint8_t(w0 ? w0 : 8);
  auto set_dst_src = [&]() -> bool {
    if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.dst = uint8_t(r); }
    if (nv > 1 && kind[1] == R) { const int r = reg(1); if (r < 0) return false; o.src = uint8_t(r); }
    if (nv > 1 && kind[1] == I) o.imm = trunc(imm(1), o.w);
    return true;
  };
  const bool rep = in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
  const bool repne = in.attributes & ZYDIS_ATTRIB_HAS_REPNE;
  // ---- SSE/SSE2 (decode_sse.cpp): every one may fault (#UD/#NM/#XM), none ends the block ----
  if (const int r = select_sse(in, ops, o); r >= 0) {
    info.may_fault = true;
    return r == 1;
  }

  switch (m) {
    // ---- ALU ----
    case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST: {
      static const std::pair<ZydisMnemonic, Alu> map[] = {
          {ZYDIS_MNEMONIC_ADD, ADD}, {ZYDIS_MNEMONIC_OR, OR}, {ZYDIS_MNEMONIC_ADC, ADC}, {ZYDIS_MNEMONIC_SBB, SBB},
          {ZYDIS_MNEMONIC_AND, AND}, {ZYDIS_MNEMONIC_SUB, SUB}, {ZYDIS_MNEMONIC_XOR, XOR}, {ZYDIS_MNEMONIC_CMP, CMP},
          {ZYDIS_MNEMONIC_TEST, TEST}};
      Alu a = ADD;
      for (auto& [mm, aa] : map) if (mm == m) a = aa;
      if (nv != 2 || (kind[0] == M && kind[1] == M) || kind[0] == I) return false;
      K d = kind[0], s = kind[1];
      if (d == M && s == R && (a == TEST)) { d = R; s = M; o.dst = uint8_t(reg(1)); o.fn = alu_any(a, o.w, d, s); return true; }
      if (!set_dst_src()) return false;
      o.fn = alu_any(a, o.w, d, s);
      return true;
    }
    case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT: {
      if (!set_dst_src()) return false;
      const Un u = m == ZYDIS_MNEMONIC_INC ? INC : m == ZYDIS_MNEMONIC_DEC ? DEC : m == ZYDIS_MNEMONIC_NEG ? NEG : NOT;
      o.fn = un_any(u, o.w, kind[0]);
      return true;
    }
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: {
      const Sh a = m == ZYDIS_MNEMONIC_SHL ? SHL : m == ZYDIS_MNEMONIC_SHR ? SHR
                 : m == ZYDIS_MNEMONIC_SAR ? SAR : m == ZYDIS_MNEMONIC_ROL ? ROL : m == ZYDIS_MNEMONIC_ROR ? ROR
                 : m == ZYDIS_MNEMONIC_RCL ? RCL : RCR;
      if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.dst = uint8_t(r); }
      K c;
      if (nv < 2) c = One;
      else if (kind[1] == I) { o.imm = imm(1); c = o.imm == 1 ? One : I; }
      else c = Cl;
      o.fn = sh_any(a, o.w, kind[0], c);
      return true;
    }
    case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD: {  // r/m, r, imm8 | CL
      if (nv != 3) return false;
      o.cc = uint8_t((kind[0] == M ? 1 : 0) | (m == ZYDIS_MNEMONIC_SHRD ? 2 : 0) | (kind[2] == I ? 0 : 4));
      if (kind[0] == R) o.dst = uint8_t(reg(0));
      o.src = uint8_t(reg(1));
      if (kind[2] == I) o.imm = imm(2);
      o.fn = &shxd;
      return true;
    }
    case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_IMUL: case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV: {
      const bool sg = m == ZYDIS_MNEMONIC_IMUL || m == ZYDIS_MNEMONIC_IDIV;
      if (m == ZYDIS_MNEMONIC_IMUL && nv >= 2) {
        const int d = reg(0);
        if (d < 0) return false;
        o.dst = uint8_t(d);
        unsigned si = 1;
        if (nv == 3) { o.imm = trunc(imm(2), o.w); o.cc = 4; }
        if (kind[si] == M) o.cc |= 1;
        else { const int r = reg(si); if (r < 0) return false; o.src = uint8_t(r); }
        if (nv == 2) o.cc &= ~4;
        o.fn = &imul2;
        if (o.w == 4 || o.w == 8) {  // the specialised forms (exec.hpp imul2w)
          const bool mem = o.cc & 1, im = o.cc & 4;
          if (o.w == 8) o.fn = mem ? (im ? &imul2w<8, M, true> : &imul2w<8, M, false>) : (im ? &imul2w<8, R, true> : &imul2w<8, R, false>);
          else o.fn = mem ? (im ? &imul2w<4, M, true> : &imul2w<4, M, false>) : (im ? &imul2w<4, R, true> : &imul2w<4, R, false>);
        }
        return true;
      }
      if (kind[0] == M) o.cc = 1;
      else { const int r = reg(0); if (r < 0) return false; o.src = uint8_t(r); }
      if (sg) o.cc |= 2;
      o.fn = (m == ZYDIS_MNEMONIC_DIV || m == ZYDIS_MNEMONIC_IDIV) ? &div1 : &mul1;
      if (o.fn == &div1) info.may_fault = true;
      return true;
    }
    // ---- data movement ----
    case ZYDIS_MNEMONIC_MOV: {
      if (nv != 2) return false;
      const auto& a = ops[0];
      const auto& b = ops[1];
      auto cls = [](ZydisRegister r) { return ZydisRegisterGetClass(r); };
      if (a.type == ZYDIS_OPERAND_TYPE_REGISTER && (cls(a.reg.value) == ZYDIS_REGCLASS_CONTROL || cls(a.reg.value) == ZYDIS_REGCLASS_DEBUG)) {
        const bool cr = cls(a.reg.value) == ZYDIS_REGCLASS_CONTROL;
        o.cc = uint8_t(0x10 | (a.reg.value - (cr ? ZYDIS_REGISTER_CR0 : ZYDIS_REGISTER_DR0)));
        o.src = uint8_t(gpr_off(b.reg.value));
        o.fn = cr ? &mov_cr : &mov_dr;
        info.ends = info.may_fault = true;
        return true;
      }
      if (b.type == ZYDIS_OPERAND_TYPE_REGISTER && (cls(b.reg.value) == ZYDIS_REGCLASS_CONTROL || cls(b.reg.value) == ZYDIS_REGCLASS_DEBUG)) {
        const bool cr = cls(b.reg.value) == ZYDIS_REGCLASS_CONTROL;
        o.cc = uint8_t(b.reg.value - (cr ? ZYDIS_REGISTER_CR0 : ZYDIS_REGISTER_DR0));
        o.dst = uint8_t(gpr_off(a.reg.value));
        o.fn = cr ? &mov_cr : &mov_dr;
        info.ends = info.may_fault = true;
        return true;
      }
      if (a.type == ZYDIS_OPERAND_TYPE_REGISTER && cls(a.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        o.cc = uint8_t(a.reg.value - ZYDIS_REGISTER_ES) | (kind[1] == M ? 8 : 0);
        if (kind[1] == R) o.src = uint8_t(gpr_off(b.reg.value));
        o.fn = &mov_to_sreg;
        info.ends = info.may_fault = true;
        return true;
      }
      if (b.type == ZYDIS_OPERAND_TYPE_REGISTER && cls(b.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        o.cc = uint8_t(b.reg.value - ZYDIS_REGISTER_ES) | (kind[0] == M ? 8 : 0);
        if (kind[0] == R) o.dst = uint8_t(gpr_off(a.reg.value));
        o.fn = &mov_from_sreg;
        return true;
      }
      if (!set_dst_src()) return false;
      if (kind[1] == I && o.w == 8) o.imm = imm(1);
      o.fn = mov_h(o.w, kind[0], kind[1]);
      return true;
    }
    case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD: {
      const int d = reg(0);
      if (d < 0) return false;
      o.dst = uint8_t(d);
      o.w2 = uint8_t(ops[1].size / 8);
      if (kind[1] == R) { const int r = reg(1); if (r < 0) return false; o.src = uint8_t(r); }
      const bool sg = m != ZYDIS_MNEMONIC_MOVZX;
      if (o.w2 == o.w) {  // MOVSXD r32, r/m32 is a plain move
        o.fn = mov_h(o.w, R, kind[1]);
        return true;
      }
      o.fn = sg ? (kind[1] == M ? movx_h<true, M>(o.w, o.w2) : movx_h<true, R>(o.w, o.w2))
                : (kind[1] == M ? movx_h<false, M>(o.w, o.w2) : movx_h<false, R>(o.w, o.w2));
      return o.fn != nullptr;
    }
    case ZYDIS_MNEMONIC_LEA: {
      const int d = reg(0);
      if (d < 0) return false;
      o.dst = uint8_t(d);
      o.seg = 0;
      o.fn = by_w<LeaT>(o.w);
      info.may_fault = false;
      return true;
    }
    case ZYDIS_MNEMONIC_XCHG: {
      if (kind[0] == M) { o.cc = 1; o.src = uint8_t(reg(1)); }
      else if (kind[1] == M) { o.cc = 1; o.src = uint8_t(reg(0)); }
      else { o.dst = uint8_t(reg(0)); o.src = uint8_t(reg(1)); }
      o.fn = &xchg;
      return true;
    }
    case ZYDIS_MNEMONIC_CMPXCHG: case ZYDIS_MNEMONIC_XADD: {
      if (kind[0] == M) o.cc = 1;
      else o.dst = uint8_t(reg(0));
      o.src = uint8_t(reg(1));
      o.fn = m == ZYDIS_MNEMONIC_XADD ? &xadd : &cmpxchg;
      return true;
    }
    case ZYDIS_MNEMONIC_BSWAP: o.dst = uint8_t(reg(0)); o.fn = &bswap; return true;
    case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC: {
      o.cc = m == ZYDIS_MNEMONIC_BT ? 0 : m == ZYDIS_MNEMONIC_BTS ? 1 : m == ZYDIS_MNEMONIC_BTR ? 2 : 3;
      if (kind[0] == M) o.cc |= 4;
      else o.dst = uint8_t(reg(0));
      if (kind[1] == I) { o.cc |= 8; o.imm = imm(1); }
      else o.src = uint8_t(reg(1));
      o.fn = &bt;
      return true;
    }
    case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: {
      if (in.attributes & ZYDIS_ATTRIB_HAS_REP) return false;
      o.dst = uint8_t(reg(0));
      o.cc = m == ZYDIS_MNEMONIC_BSR ? 1 : 0;
      if (kind[1] == M) o.cc |= 4;
      else o.src = uint8_t(reg(1));
      o.fn = &bsf;
      return true;
    }
    case ZYDIS_MNEMONIC_CBW: case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CDQE:
      o.w = uint8_t(in.operand_width / 8); o.cc = 0; o.fn = &cvt; return true;
    case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_CDQ: case ZYDIS_MNEMONIC_CQO:
      o.w = uint8_t(in.operand_width / 8); o.cc = 1; o.fn = &cvt; return true;
    default: break;
  }
  if (const int cc = cc_of(m); cc >= 0) {
    o.cc = uint8_t(cc);
    if (ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {  // jcc rel
      o.imm = imm(0);
      o.fn = &jcc;
      info.ends = true;
      return true;
    }
    if (std::strncmp(ZydisMnemonicGetString(m), "set", 3) == 0) {
      if (kind[0] == R) o.dst = uint8_t(reg(0));
      o.fn = kind[0] == M ? &setcc<M> : &setcc<R>;
      return true;
    }
    o.dst = uint8_t(reg(0));
    if (kind[1] == R) o.src = uint8_t(reg(1));
    o.fn = kind[1] == M ? by_w<CmovT<M>::template F>(o.w) : by_w<CmovT<R>::template F>(o.w);
    return true;
  }
  switch (m) {
    // ---- control flow ----
    case ZYDIS_MNEMONIC_JMP:
      info.ends = true;
      if (kind[0] == I) { o.imm = imm(0); o.fn = &jmp_rel; return true; }
      if (ops[0].type == ZYDIS_OPERAND_TYPE_POINTER || o.w != 8) return false;
      if (kind[0] == R) o.src = uint8_t(reg(0));
      o.fn = kind[0] == M ? &jmp_ind<M> : &jmp_ind<R>;
      return true;
    case ZYDIS_MNEMONIC_CALL:
      info.ends = info.may_fault = true;
      if (kind[0] == I) { o.imm = imm(0); o.fn = &call_rel; return true; }
      if (ops[0].type == ZYDIS_OPERAND_TYPE_POINTER || o.w != 8) return false;
      if (kind[0] == R) o.src = uint8_t(reg(0));
      o.fn = kind[0] == M ? &call_ind<M> : &call_ind<R>;
      return true;
    case ZYDIS_MNEMONIC_RET:
      if (in.operand_width != 64) return false;
      info.ends = info.may_fault = true;
      o.imm = nv ? imm(0) : 0;
      o.fn = &ret;
      return true;
    case ZYDIS_MNEMONIC_PUSH:
      info.may_fault = true;
      o.w = uint8_t(in.operand_width / 8);
      if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.src = uint8_t(r); o.cc = 0; }
      else if (kind[0] == M) o.cc = 1;
      else { o.cc = 2; o.imm = imm(0); }
      o.fn = &push_rm;
      return true;
    case ZYDIS_MNEMONIC_POP:
      info.may_fault = true;
      o.w = uint8_t(in.operand_width / 8);
      if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.dst = uint8_t(r); o.cc = 0; }
      else o.cc = 1;
      o.fn = &pop_rm;
      return true;
    case ZYDIS_MNEMONIC_LEAVE: info.may_fault = true; o.fn = &leave; return true;
    case ZYDIS_MNEMONIC_CLC: o.cc = 0; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_STC: o.cc = 1; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_CMC: o.cc = 2; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_CLD: o.cc = 3; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_STD: o.cc = 4; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_LAHF: o.cc = 5; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_SAHF: o.cc = 6; o.fn = &flagop; return true;
    case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_ENDBR64: case ZYDIS_MNEMONIC_ENDBR32:
      o.fn = &nop; return true;
    case ZYDIS_MNEMONIC_PAUSE: o.fn = &exec::pause; info.ends = true; return true;
    // ---- strings ----
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ:
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ: {
      if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_XMM)
        return false;  // SSE MOVSD/CMPSD
      const bool mv = m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW || m == ZYDIS_MNEMONIC_MOVSD || m == ZYDIS_MNEMONIC_MOVSQ;
      const bool st = m == ZYDIS_MNEMONIC_STOSB || m == ZYDIS_MNEMONIC_STOSW || m == ZYDIS_MNEMONIC_STOSD || m == ZYDIS_MNEMONIC_STOSQ;
      const bool ld = m == ZYDIS_MNEMONIC_LODSB || m == ZYDIS_MNEMONIC_LODSW || m == ZYDIS_MNEMONIC_LODSD || m == ZYDIS_MNEMONIC_LODSQ;
      const bool sc = m == ZYDIS_MNEMONIC_SCASB || m == ZYDIS_MNEMONIC_SCASW || m == ZYDIS_MNEMONIC_SCASD || m == ZYDIS_MNEMONIC_SCASQ;
      o.cc = mv ? 0 : st ? 1 : ld ? 2 : sc ? 3 : 4;
      o.w = uint8_t(in.operand_width / 8);
      o.w2 = repne ? 2 : rep ? 1 : 0;
      o.asz32 = in.address_width == 32;
      o.seg = 3;  // the source is DS:rSI unless overridden; the destination is always ES:rDI
      for (unsigned i = 0; i < in.operand_count; ++i)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.base != ZYDIS_REGISTER_RDI &&
            ops[i].mem.base != ZYDIS_REGISTER_EDI) {
          o.seg = seg_number(ops[i].mem.segment);
          if (ops[i].size) o.w = uint8_t(ops[i].size / 8);
        } else if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].size) {
          o.w = uint8_t(ops[i].size / 8);
        }
      o.fn = &string_op;
      info.may_fault = true;
      return true;
    }
    // ---- system ----
    case ZYDIS_MNEMONIC_CPUID: o.fn = &exec::cpuid; break;
    case ZYDIS_MNEMONIC_RDTSC: o.fn = &exec::rdtsc; break;
    case ZYDIS_MNEMONIC_RDTSCP: o.fn = &exec::rdtscp; break;
    case ZYDIS_MNEMONIC_HLT: o.fn = &exec::hlt; break;
    case ZYDIS_MNEMONIC_INVLPG: o.fn = &exec::invlpg; break;
    case ZYDIS_MNEMONIC_INVLPGA: o.fn = &exec::invlpga; break;
    case ZYDIS_MNEMONIC_VMMCALL: o.cc = 0; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_VMRUN: o.cc = 1; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_VMLOAD: o.cc = 2; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_VMSAVE: o.cc = 3; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_STGI: o.cc = 4; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_CLGI: o.cc = 5; o.fn = &svm_insn; break;
    case ZYDIS_MNEMONIC_SKINIT: o.cc = 6; o.fn = &svm_insn; break;
    // VMX (Intel SDM vol. 3C ch. 31). o.w2 bit 0: the r/m operand is memory. VMREAD r/m, r
    // (dst = r/m, src = encoding); VMWRITE r, r/m and INVEPT/INVVPID r, m128 (src = register).
    case ZYDIS_MNEMONIC_VMXON: case ZYDIS_MNEMONIC_VMXOFF: case ZYDIS_MNEMONIC_VMCLEAR:
    case ZYDIS_MNEMONIC_VMPTRLD: case ZYDIS_MNEMONIC_VMPTRST: case ZYDIS_MNEMONIC_VMREAD:
    case ZYDIS_MNEMONIC_VMWRITE: case ZYDIS_MNEMONIC_VMLAUNCH: case ZYDIS_MNEMONIC_VMRESUME:
    case ZYDIS_MNEMONIC_VMCALL: case ZYDIS_MNEMONIC_INVEPT: case ZYDIS_MNEMONIC_INVVPID: {
      const ZydisMnemonic order[] = {ZYDIS_MNEMONIC_VMXON, ZYDIS_MNEMONIC_VMXOFF, ZYDIS_MNEMONIC_VMCLEAR,
                                     ZYDIS_MNEMONIC_VMPTRLD, ZYDIS_MNEMONIC_VMPTRST, ZYDIS_MNEMONIC_VMREAD,
                                     ZYDIS_MNEMONIC_VMWRITE, ZYDIS_MNEMONIC_VMLAUNCH, ZYDIS_MNEMONIC_VMRESUME,
                                     ZYDIS_MNEMONIC_VMCALL, ZYDIS_MNEMONIC_INVEPT, ZYDIS_MNEMONIC_INVVPID};
      for (unsigned i = 0; i < 12; ++i)
        if (order[i] == m) o.cc = uint8_t(i);
      o.w2 = mem_i >= 0 ? 1 : 0;
      const bool reg_first = m == ZYDIS_MNEMONIC_VMWRITE || m == ZYDIS_MNEMONIC_INVEPT || m == ZYDIS_MNEMONIC_INVVPID;
      for (unsigned i = 0; i < nv && i < 2; ++i) {
        if (kind[i] != R) continue;
        const int r = reg(i);
        if (r < 0) return false;
        if (m == ZYDIS_MNEMONIC_VMREAD) (i == 0 ? o.dst : o.src) = uint8_t(r);
        else if (reg_first) (i == 0 ? o.src : o.dst) = uint8_t(r);
      }
      o.fn = &vmx_insn;
      break;
    }
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: {
      const bool isin = m == ZYDIS_MNEMONIC_IN;
      const auto& data = ops[isin ? 0 : 1];
      const auto& port = ops[isin ? 1 : 0];
      o.w = uint8_t(data.size / 8);
      o.cc = isin ? 1 : 0;
      if (port.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) o.imm = port.imm.value.u & 0xFF;
      else o.cc |= 4;
      o.fn = &io;
      break;
    }
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD: {
      const bool isin = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
      o.cc = (isin ? 1 : 0) | 2 | 4;
      o.w = uint8_t(in.operand_width / 8);
      if (m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_OUTSB) o.w = 1;
      o.w2 = rep ? 1 : 0;
      o.asz32 = in.address_width == 32;
      o.seg = isin ? 0 : 3;  // INS: ES:rDI; OUTS: DS:rSI unless overridden
      for (unsigned i = 0; i < in.operand_count; ++i)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && !isin) o.seg = seg_number(ops[i].mem.segment);
      o.fn = &io;
      break;
    }
    case ZYDIS_MNEMONIC_RDMSR: o.fn = &exec::rdmsr; break;
    case ZYDIS_MNEMONIC_WRMSR: o.fn = &exec::wrmsr; break;
    case ZYDIS_MNEMONIC_LGDT: o.cc = 0; o.fn = &desc_table; break;
    case ZYDIS_MNEMONIC_LIDT: o.cc = 1; o.fn = &desc_table; break;
    case ZYDIS_MNEMONIC_SGDT: o.cc = 2; o.fn = &desc_table; break;
    case ZYDIS_MNEMONIC_SIDT: o.cc = 3; o.fn = &desc_table; break;
    case ZYDIS_MNEMONIC_LTR:
      if (kind[0] == M) o.cc = 1;
      else o.src = uint8_t(reg(0));
      o.fn = &ltr;
      break;
    case ZYDIS_MNEMONIC_STR: case ZYDIS_MNEMONIC_SLDT:
      o.cc = uint8_t((m == ZYDIS_MNEMONIC_SLDT ? 1 : 0) | (kind[0] == M ? 2 : 0));
      if (kind[0] == R) {
        const int r = reg(0);
        if (r < 0) return false;
        o.dst = uint8_t(r);
      }
      o.fn = &store_sys_selector;
      break;
    case ZYDIS_MNEMONIC_SMSW:
      o.cc = kind[0] == M ? 1 : 0;
      if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.dst = uint8_t(r); }
      o.fn = &smsw;
      break;
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: {
      const int d = reg(0);
      if (d < 0) return false;
      o.dst = uint8_t(d);
      o.cc = kind[1] == M ? 1 : 0;
      if (kind[1] == R) { const int r = reg(1); if (r < 0) return false; o.src = uint8_t(r); }
      o.fn = m == ZYDIS_MNEMONIC_LAR ? &lar : &lsl;
      break;
    }
    case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
      o.cc = uint8_t((kind[0] == M ? 1 : 0) | (m == ZYDIS_MNEMONIC_VERW ? 2 : 0));
      if (kind[0] == R) { const int r = reg(0); if (r < 0) return false; o.src = uint8_t(r); }
      o.fn = &verrw;
      break;
    case ZYDIS_MNEMONIC_CLI: o.fn = &exec::cli; break;
    case ZYDIS_MNEMONIC_STI: o.fn = &exec::sti; break;
    case ZYDIS_MNEMONIC_PUSHFQ: o.fn = &pushf; break;
    case ZYDIS_MNEMONIC_POPFQ: o.fn = &popf; break;
    case ZYDIS_MNEMONIC_INT: o.imm = ops[0].imm.value.u & 0xFF; o.fn = &intn; break;
    case ZYDIS_MNEMONIC_INT3: o.fn = &int3; break;
    case ZYDIS_MNEMONIC_SWAPGS: o.fn = &exec::swapgs; break;
    case ZYDIS_MNEMONIC_WBINVD: o.cc = 0; o.fn = &cache_insn; break;
    case ZYDIS_MNEMONIC_INVD: o.cc = 1; o.fn = &cache_insn; break;
    default: return false;
  }
  info.ends = info.may_fault = true;  // every system instruction ends its block
  return true;
}

}  // namespace redoubt::sim::cpu
