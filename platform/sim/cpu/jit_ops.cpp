// The instructions the translator emits inline. Each is recognised by the handler the decoder
// chose for it (decode.cpp), so operand kinds and widths are the handler's template arguments,
// and each emits what that handler does, in the same order where a fault can intervene (a
// store that faults leaves the lazy flags and the registers as the handler would).
#include <unordered_map>

#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/jit_emit.hpp"

namespace redoubt::sim::cpu {

using namespace exec;
using Xbyak::Reg64;

namespace {

enum class Kind : uint8_t { alu, unary, shift, mov, movx, lea, imul, cmov, setcc, jcc, jmp, call, ret, jmp_ind,
                            call_ind, push, pop, nop };
struct Desc {
  Kind kind;
  uint8_t sub = 0;  // Alu / Un / Sh
  uint8_t w = 8, w2 = 0;
  K d = R, s = R;
  bool live = true, sign = false;
};
using Table = std::unordered_map<Handler, Desc>;

template <Alu A, int W, bool Live> void add_alu(Table& t) {
  t[&alu<A, W, R, R, Live>] = {Kind::alu, uint8_t(A), W, 0, R, R, Live};
  t[&alu<A, W, R, M, Live>] = {Kind::alu, uint8_t(A), W, 0, R, M, Live};
  t[&alu<A, W, R, I, Live>] = {Kind::alu, uint8_t(A), W, 0, R, I, Live};
  t[&alu<A, W, M, R, Live>] = {Kind::alu, uint8_t(A), W, 0, M, R, Live};
  t[&alu<A, W, M, I, Live>] = {Kind::alu, uint8_t(A), W, 0, M, I, Live};
}
template <Un A, int W, bool Live> void add_un(Table& t) {
  t[&unary<A, W, R, Live>] = {Kind::unary, uint8_t(A), W, 0, R, R, Live};
  t[&unary<A, W, M, Live>] = {Kind::unary, uint8_t(A), W, 0, M, R, Live};
}
template <Sh A, int W> void add_sh(Table& t) {
  t[&shift<A, W, R, One>] = {Kind::shift, uint8_t(A), W, 0, R, One};
  t[&shift<A, W, R, I>] = {Kind::shift, uint8_t(A), W, 0, R, I};
  t[&shift<A, W, R, Cl>] = {Kind::shift, uint8_t(A), W, 0, R, Cl};
}
template <int W> void add_width(Table& t) {
  add_alu<ADD, W, true>(t), add_alu<OR, W, true>(t), add_alu<AND, W, true>(t), add_alu<SUB, W, true>(t);
  add_alu<XOR, W, true>(t), add_alu<CMP, W, true>(t), add_alu<TEST, W, true>(t);
  add_alu<ADD, W, false>(t), add_alu<OR, W, false>(t), add_alu<AND, W, false>(t), add_alu<SUB, W, false>(t);
  add_alu<XOR, W, false>(t);
  add_un<INC, W, true>(t), add_un<DEC, W, true>(t), add_un<NEG, W, true>(t), add_un<NOT, W, true>(t);
  add_un<INC, W, false>(t), add_un<DEC, W, false>(t), add_un<NEG, W, false>(t);
  add_sh<SHL, W>(t), add_sh<SHR, W>(t), add_sh<SAR, W>(t), add_sh<ROL, W>(t), add_sh<ROR, W>(t);
  t[&mov<W, R, R>] = {Kind::mov, 0, W, 0, R, R};
  t[&mov<W, R, M>] = {Kind::mov, 0, W, 0, R, M};
  t[&mov<W, R, I>] = {Kind::mov, 0, W, 0, R, I};
  t[&mov<W, M, R>] = {Kind::mov, 0, W, 0, M, R};
  t[&mov<W, M, I>] = {Kind::mov, 0, W, 0, M, I};
  t[&lea<W>] = {Kind::lea, 0, W};
  if constexpr (W >= 2) {
    t[&cmovcc<W, R>] = {Kind::cmov, 0, W, 0, R, R};
    t[&cmovcc<W, M>] = {Kind::cmov, 0, W, 0, R, M};
  }
}
template <int W, int W2, bool Sg> void add_movx(Table& t) {
  t[&movx<W, W2, Sg, R>] = {Kind::movx, 0, W, W2, R, R, true, Sg};
  t[&movx<W, W2, Sg, M>] = {Kind::movx, 0, W, W2, R, M, true, Sg};
}
template <int W> void add_imul(Table& t) {
  t[&imul2w<W, R, false>] = {Kind::imul, 0, W, 0, R, R, true, false};
  t[&imul2w<W, M, false>] = {Kind::imul, 0, W, 0, R, M, true, false};
  t[&imul2w<W, R, true>] = {Kind::imul, 0, W, 0, R, R, true, true};  // sign: the immediate form
  t[&imul2w<W, M, true>] = {Kind::imul, 0, W, 0, R, M, true, true};
}

const Table& table() {
  static const Table t = [] {
    Table m;
    add_width<1>(m), add_width<2>(m), add_width<4>(m), add_width<8>(m);
    add_movx<2, 1, false>(m), add_movx<4, 1, false>(m), add_movx<4, 2, false>(m);
    add_movx<8, 1, false>(m), add_movx<8, 2, false>(m), add_movx<8, 4, false>(m);
    add_movx<2, 1, true>(m), add_movx<4, 1, true>(m), add_movx<4, 2, true>(m);
    add_movx<8, 1, true>(m), add_movx<8, 2, true>(m), add_movx<8, 4, true>(m);
    add_imul<4>(m), add_imul<8>(m);
    m[&setcc<R>] = {Kind::setcc, 0, 1, 0, R};
    m[&setcc<M>] = {Kind::setcc, 0, 1, 0, M};
    m[&jcc] = {Kind::jcc};
    m[&jmp_rel] = {Kind::jmp};
    m[&call_rel] = {Kind::call};
    m[&ret] = {Kind::ret};
    m[&jmp_ind<R>] = {Kind::jmp_ind, 0, 8, 0, R, R};
    m[&jmp_ind<M>] = {Kind::jmp_ind, 0, 8, 0, R, M};
    m[&call_ind<R>] = {Kind::call_ind, 0, 8, 0, R, R};
    m[&call_ind<M>] = {Kind::call_ind, 0, 8, 0, R, M};
    m[&push_rm] = {Kind::push};
    m[&pop_rm] = {Kind::pop};
    m[&nop] = {Kind::nop};
    return m;
  }();
  return t;
}

// Host register of width w.
Xbyak::Reg sized(const Reg64& r, unsigned w) {
  switch (w) {
    case 1: return r.cvt8();
    case 2: return r.cvt16();
    case 4: return r.cvt32();
    default: return r;
  }
}

bool fits32(int64_t v) { return v == int32_t(v); }

}  // namespace

// One x86 ALU operation on host registers of width w: dst op= src (the host's flags are the
// guest's: same instruction, same operand size).
static void alu_op(Emitter& e, Alu a, const Xbyak::Reg& d, const Xbyak::Reg& s) {
  switch (a) {
    case ADD: e.add(d, s); break;
    case OR: e.or_(d, s); break;
    case AND: case TEST: e.and_(d, s); break;
    case SUB: case CMP: e.sub(d, s); break;
    default: e.xor_(d, s); break;
  }
}

bool Emitter::native(const Op& op) {
  const Table& t = table();
  const auto it = t.find(op.fn);
  if (it == t.end()) return false;
  const Desc& d = it->second;
  const unsigned w = d.w;
  switch (d.kind) {
    case Kind::nop:
      return true;

    case Kind::alu: {
      const Alu a = Alu(d.sub);
      const bool writes = a != CMP && a != TEST;
      const LazyOp lz = (a == ADD) ? kLzAdd : (a == SUB || a == CMP) ? kLzSub : kLzLogic;
      auto load_b = [&] {  // -> rcx
        if (d.s == R) load_reg(rcx, op.src, w);
        else mov(rcx, uint64_t(op.imm));  // already truncated to the operand size
      };
      if (d.s == M) {  // r, [m]
        ea(op);
        load_mem(w);
        mov(rcx, rax);
        load_reg(rax, op.dst, w);
      } else if (d.d == M) {  // [m], r/imm
        ea(op);
        load_mem(w);
        load_b();
      } else {
        load_reg(rax, op.dst, w);
        load_b();
      }
      mov(rdx, rax);
      alu_op(*this, a, sized(rdx, w), sized(rcx, w));
      if (writes && d.d == M) {
        // The store comes first: if it faults, the flags and registers are as before (exec::alu).
        mov(rbp, rax);
        mov(rcx, rdx);
        store_mem(w);
        if (d.live) {
          load_b();
          mov(rax, rbp);
          mov(rdx, rax);
          alu_op(*this, a, sized(rdx, w), sized(rcx, w));
          lazy(lz, w, rdx, rax, rcx);
        }
        stop_check();
        return true;
      }
      if (writes) store_reg(op.dst, w, rdx);  // mov: the host flags stay the result's
      if (d.live) {
        if (w == 4) mov(edx, edx);  // lz_res holds the zero-extended result (mov keeps the flags)
        lazy(lz, w, rdx, rax, rcx);
      }
      hf_ = d.live;
      return true;
    }

    case Kind::unary: {
      const Un u = Un(d.sub);
      if (d.d == M && d.live && u != NOT) return false;  // rare: the handler does it
      if (d.live && (u == INC || u == DEC) && !hf_) return false;  // needs CF as it was
      if (d.d == M) {
        ea(op);
        load_mem(w);
      } else {
        load_reg(rax, op.dst, w);
      }
      if (d.live && (u == INC || u == DEC)) {  // lz_carry = CF before (INC/DEC keep CF)
        setc(r12b);
        movzx(r12d, r12b);
      }
      mov(rdx, rax);
      const Xbyak::Reg r = sized(rdx, w);
      switch (u) {
        case INC: inc(r); break;
        case DEC: dec(r); break;
        case NEG: neg(r); break;
        default: not_(r); break;
      }
      if (d.d == M) {
        mov(rcx, rdx);
        store_mem(w);
        stop_check();
        return true;
      }
      store_reg(op.dst, w, rdx);
      if (!d.live || u == NOT) {
        if (u != NOT) hf_ = false;
        return true;
      }
      if (w == 4) mov(edx, edx);
      if (u == NEG) {
        mov(rcx, rax);
        mov(eax, 0);
        lazy(kLzSub, w, rdx, rax, rcx);  // set_lazy(kLzSub, W, r, 0, a), lz_carry = 0
      } else {
        mov(ecx, 1);
        lazy(u == INC ? kLzInc : kLzDec, w, rdx, rax, rcx, false);
        mov(field(o_.lz_carry, 8), r12);
      }
      hf_ = true;
      return true;
    }

    case Kind::shift: {
      if (!op.flags_dead) return false;  // the handler materialises the flags
      const Sh sh = Sh(d.sub);
      const unsigned mask = w == 8 ? 0x3F : 0x1F;
      load_reg(rax, op.dst, w);
      const Xbyak::Reg r = sized(rax, w);
      if (d.s == Cl) {
        load_reg(rcx, RCX * 8, 4);
        switch (sh) {
          case SHL: shl(r, cl); break;
          case SHR: shr(r, cl); break;
          case SAR: sar(r, cl); break;
          case ROL: rol(r, cl); break;
          default: ror(r, cl); break;
        }
      } else {
        const unsigned n = (d.s == One ? 1u : unsigned(op.imm)) & mask;
        if (n == 0) {  // count 0: only the 32-bit zero extension (exec::shift)
          if (w == 4) store_reg(op.dst, 4, rax);
          return true;
        }
        switch (sh) {
          case SHL: shl(r, uint8_t(n)); break;
          case SHR: shr(r, uint8_t(n)); break;
          case SAR: sar(r, uint8_t(n)); break;
          case ROL: rol(r, uint8_t(n)); break;
          default: ror(r, uint8_t(n)); break;
        }
      }
      store_reg(op.dst, w, rax);
      hf_ = false;
      return true;
    }

    case Kind::mov:
      if (d.d == R) {
        if (d.s == R) load_reg(rax, op.src, w);
        else if (d.s == M) ea(op), load_mem(w);
        else mov(rax, w == 8 ? op.imm : trunc(op.imm, w));
        store_reg(op.dst, w, rax);
        return true;
      }
      if (d.s == R) load_reg(rcx, op.src, w);
      ea(op);
      if (d.s != R) mov(rcx, w == 8 ? op.imm : trunc(op.imm, w));
      store_mem(w);
      stop_check();
      return true;

    case Kind::movx: {
      if (d.s == M) ea(op), load_mem(d.w2);
      else load_reg(rax, op.src, d.w2);
      if (d.sign) {
        const Xbyak::Reg dst = sized(rax, w == 8 ? 8 : w == 4 ? 4 : 2);
        if (d.w2 == 4) movsxd(rax, eax);
        else movsx(dst, sized(rax, d.w2));
      }
      store_reg(op.dst, w, rax);
      return true;
    }

    case Kind::lea:
      ea(op, false);
      mov(rax, r12);
      store_reg(op.dst, w, rax);
      return true;

    case Kind::imul: {
      if (!op.flags_dead) return false;
      if (d.s == M) ea(op), load_mem(w), mov(rcx, rax);
      else load_reg(rcx, op.src, w);
      if (d.sign) mov(rax, w == 8 ? op.imm : trunc(op.imm, 4));
      else load_reg(rax, op.dst, w);
      imul(sized(rax, w), sized(rcx, w));
      store_reg(op.dst, w, rax);
      hf_ = false;
      return true;
    }

    case Kind::cmov: {
      if (hf_ && d.s == R) {
        load_reg(rax, op.dst, w);
        load_reg(rcx, op.src, w);
        const Xbyak::Reg a = sized(rax, w), b = sized(rcx, w);
        switch (op.cc) {
          case 0: cmovo(a, b); break;
          case 1: cmovno(a, b); break;
          case 2: cmovb(a, b); break;
          case 3: cmovnb(a, b); break;
          case 4: cmovz(a, b); break;
          case 5: cmovnz(a, b); break;
          case 6: cmovbe(a, b); break;
          case 7: cmovnbe(a, b); break;
          case 8: cmovs(a, b); break;
          case 9: cmovns(a, b); break;
          case 10: cmovp(a, b); break;
          case 11: cmovnp(a, b); break;
          case 12: cmovl(a, b); break;
          case 13: cmovnl(a, b); break;
          case 14: cmovle(a, b); break;
          default: cmovnle(a, b); break;
        }
        store_reg(op.dst, w, rax);  // a 32-bit CMOV zero-extends even when false (exec::cmov)
        return true;
      }
      cond_to_ebp(op.cc);
      if (d.s == M) ea(op), load_mem(w), mov(rcx, rax);  // the load happens (and may fault) either way
      else load_reg(rcx, op.src, w);
      load_reg(rax, op.dst, w);
      test(ebp, ebp);
      cmovnz(sized(rax, w == 2 ? 2 : w), sized(rcx, w == 2 ? 2 : w));
      store_reg(op.dst, w, rax);
      hf_ = false;
      return true;
    }

    case Kind::setcc:
      cond_to_ebp(op.cc);
      if (d.d == R) {
        store_reg(op.dst, 1, rbp);
        return true;
      }
      ea(op);
      mov(ecx, ebp);
      store_mem(1);
      stop_check();
      return true;

    case Kind::jcc: {
      const int64_t taken = int64_t(next_) + int64_t(op.imm);
      if (!fits32(taken)) return false;
      cond_to_ebp(op.cc);
      lea(rax, ptr[r13 + int32_t(next_)]);
      lea(rcx, ptr[r13 + int32_t(taken)]);
      test(ebp, ebp);
      cmovnz(rax, rcx);
      mov(g(kRip * 8, 8), rax);
      wrote_rip_ = true;
      hf_ = false;
      return true;
    }

    case Kind::jmp: {
      const int64_t target = int64_t(next_) + int64_t(op.imm);
      if (!fits32(target)) return false;
      lea(rax, ptr[r13 + int32_t(target)]);
      mov(g(kRip * 8, 8), rax);
      wrote_rip_ = true;
      return true;
    }

    case Kind::call:
    case Kind::call_ind: {
      if (d.kind == Kind::call) {
        const int64_t target = int64_t(next_) + int64_t(op.imm);
        if (!fits32(target)) return false;
        lea(rbp, ptr[r13 + int32_t(target)]);
      } else if (d.s == M) {
        ea(op);
        load_mem(8);
        mov(rbp, rax);
      } else {
        load_reg(rbp, op.src & ~7u, 8);
      }
      // push64: the store, then RSP (a faulting store leaves RSP as it was).
      load_reg(r12, RSP * 8, 8);
      lea(r12, ptr[r12 - 8]);
      lea(rcx, ptr[r13 + int32_t(next_)]);
      store_mem(8);
      store_reg(RSP * 8, 8, r12);
      mov(g(kRip * 8, 8), rbp);
      wrote_rip_ = true;
      stop_check();
      return true;
    }

    case Kind::ret:
      load_reg(r12, RSP * 8, 8);
      load_mem(8);
      lea(rcx, ptr[r12 + int32_t(8 + op.imm)]);
      store_reg(RSP * 8, 8, rcx);
      mov(g(kRip * 8, 8), rax);
      wrote_rip_ = true;
      return true;

    case Kind::jmp_ind:
      if (d.s == M) ea(op), load_mem(8);
      else load_reg(rax, op.src & ~7u, 8);
      mov(g(kRip * 8, 8), rax);
      wrote_rip_ = true;
      return true;

    case Kind::push:
      if (op.w != 8 || op.cc == 1) return false;
      if (op.cc == 0) load_reg(rcx, op.src & ~7u, 8);
      else mov(rcx, op.imm);
      load_reg(r12, RSP * 8, 8);
      lea(r12, ptr[r12 - 8]);
      store_mem(8);
      store_reg(RSP * 8, 8, r12);
      stop_check();
      return true;

    case Kind::pop:
      if (op.w != 8 || op.cc != 0) return false;
      load_reg(r12, RSP * 8, 8);
      load_mem(8);
      lea(rcx, ptr[r12 + 8]);
      store_reg(RSP * 8, 8, rcx);
      store_reg(op.dst & ~7u, 8, rax);
      return true;
  }
  return false;
}

}  // namespace redoubt::sim::cpu
