// The generator's integer classes (gen_impl.hpp): ALU, TEST, unary, multiply, divide, shifts, bit
// operations, MOVZX/MOVSX, conversions, SETcc/CMOVcc, LEA, exchanges, BSWAP.
#include "tools/cpu_difftest/gen_impl.hpp"

namespace redoubt::difftest::gen {

void Gen::alu() {
  static const char* const names[] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
  const unsigned a = unsigned(r(8)), w = width();
  const bool logic = a == 1 || a == 4 || a == 6;
  const Fx fx{(a == 2 || a == 3) ? kCF : 0, logic ? kAll & ~kAF : kAll, logic ? kAF : 0};
  need(fx.reads);
  const uint8_t wb = w == 1 ? 0 : 1;
  const unsigned form = unsigned(r(5));
  Rm rm = form == 4 ? Rm::r(0) : rm_operand(w);
  // LOCK (SDM vol. 2A "LOCK"): valid on a memory destination of ADD..XOR (not CMP); with a
  // register destination or on CMP it is #UD, which the host raises and the model must too.
  const bool lock = form != 1 && form != 4 && (rm.mem ? chance(15) : chance(2));
  begin();
  int il = 0;
  switch (form) {
    case 0: { auto s = spec(w, {uint8_t(a << 3 | wb)}, gpr_w(w)); s.lock = lock; emit_retry(s, rm); break; }  // r/m, r
    case 1: emit_retry(spec(w, {uint8_t(a << 3 | 2 | wb)}, gpr_w(w)), rm); break;        // r, r/m
    case 2: {                                                                            // r/m, imm
      auto s = spec(w, {uint8_t(w == 1 ? 0x80 : 0x81)}, int(a));
      s.imm = imm_for(w, il); s.imm_len = il; s.lock = lock;
      emit_retry(s, rm);
      break;
    }
    case 3: {                                                                            // r/m, simm8
      auto s = spec(w == 1 ? 2 : w, {0x83}, int(a));
      if (w == 1) { s = spec(1, {0x80}, int(a)); }
      s.imm = value(); s.imm_len = 1; s.lock = lock;
      emit_retry(s, rm);
      break;
    }
    default: {                                                                           // AL/AX/EAX/RAX, imm
      auto s = spec(w, {uint8_t(a << 3 | 4 | wb)}, 0);
      s.has_modrm = false;
      s.imm = imm_for(w, il); s.imm_len = il;
      emit(s, rm);
    }
  }
  static char f[48];
  std::snprintf(f, sizeof f, "%s%s (form %u) %u-bit", lock ? "lock " : "", names[a], form, w * 8);
  commit(f, fx);
}

void Gen::test() {
  const unsigned w = width();
  const uint8_t wb = w == 1 ? 0 : 1;
  begin();
  int il = 0;
  switch (r(3)) {
    case 0: emit_retry(spec(w, {uint8_t(0x84 | wb)}, gpr_w(w)), rm_operand(w)); break;
    case 1: { auto s = spec(w, {uint8_t(0xF6 | wb)}, 0); s.imm = imm_for(w, il); s.imm_len = il; emit_retry(s, rm_operand(w)); break; }
    default: { auto s = spec(w, {uint8_t(0xA8 | wb)}, 0); s.has_modrm = false; s.imm = imm_for(w, il); s.imm_len = il; emit(s, Rm::r(0)); }
  }
  commit("test", {0, kAll & ~kAF, kAF});
}

void Gen::unary() {
  const unsigned w = width(), k = unsigned(r(4));
  const uint8_t wb = w == 1 ? 0 : 1;
  begin();
  static const char* const n[] = {"inc", "dec", "neg", "not"};
  if (k < 2) {
    emit_retry(spec(w, {uint8_t(0xFE | wb)}, int(k)), rm_operand(w));
    commit(n[k], {0, kAll & ~kCF, 0});  // CF unaffected
  } else {
    emit_retry(spec(w, {uint8_t(0xF6 | wb)}, k == 2 ? 3 : 2), rm_operand(w));
    commit(n[k], {0, k == 2 ? kAll : 0, 0});
  }
}

void Gen::mul() {
  const unsigned k = unsigned(r(4));
  const Fx fx{0, kCF | kOF, kSF | kZF | kAF | kPF};  // SDM MUL/IMUL: SF ZF AF PF undefined
  begin();
  if (k < 2) {  // MUL / IMUL r/m (one operand)
    const unsigned w = width();
    emit_retry(spec(w, {uint8_t(w == 1 ? 0xF6 : 0xF7)}, k == 0 ? 4 : 5), rm_operand(w));
    commit(k == 0 ? "mul r/m" : "imul r/m", fx);
  } else if (k == 2) {
    const unsigned w = width_nb();
    emit(spec(w, {0x0F, 0xAF}, gpr()), rm_operand(w));
    commit("imul r, r/m", fx);
  } else {
    const unsigned w = width_nb();
    const bool i8 = chance(50);
    auto s = spec(w, {uint8_t(i8 ? 0x6B : 0x69)}, gpr());
    s.imm = value(); s.imm_len = i8 ? 1 : w == 2 ? 2 : 4;
    emit(s, rm_operand(w));
    commit("imul r, r/m, imm", fx);
  }
}

void Gen::div() {
  const unsigned w = width();
  const bool sg = chance(50), safe = chance(93);
  avoid_ = 1u << 0 | 1u << 2;  // the dividend registers
  Rm d = rm_operand(w, 40);
  avoid_ = 0;
  if (!d.mem && (d.reg == 0 || d.reg == 2 || d.reg == kAH)) d.reg = 3 + int(r(2)) * 3;  // RBX or RSI
  if (safe) {
    begin();
    if (sg) {  // CBW/CWD/CDQ/CQO: sign-extend the dividend, so only MIN/-1 can overflow
      if (w == 1) raw({0x66, 0x98});
      else if (w == 2) raw({0x66, 0x99});
      else if (w == 4) raw({0x99});
      else raw({0x48, 0x99});
      commit("sign-extend dividend", {});
    } else {
      if (w == 1) raw({0xB4, 0x00});           // MOV AH, 0
      else if (w == 2) raw({0x66, 0x31, 0xD2});
      else raw({0x31, 0xD2});                  // XOR EDX, EDX
      commit("zero dividend high", w == 1 ? Fx{} : Fx{0, kAll & ~kAF, kAF});
    }
    begin();
    auto s = spec(w, {uint8_t(w == 1 ? 0x80 : 0x83)}, 1);  // OR r/m, 1: a non-zero divisor
    s.imm = 1; s.imm_len = 1;
    emit_retry(s, d);
    commit("or r/m, 1 (divisor)", {0, kAll & ~kAF, kAF});
  }
  begin();
  emit_retry(spec(w, {uint8_t(w == 1 ? 0xF6 : 0xF7)}, sg ? 7 : 6), d);
  commit(sg ? "idiv r/m" : "div r/m", {0, 0, kAll});  // DIV/IDIV: all six undefined
}

// Counts that matter: 0 (no flags change), 1 (OF defined), the width and beyond, masking.
unsigned Gen::count() {
  static const unsigned c[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255};
  return chance(70) ? c[r(std::size(c))] : unsigned(r(256));
}

// Shift/rotate flags (SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"; APM vol. 3 same names):
// masked count 0: nothing; OF defined only for a masked count of 1; AF undefined for shifts;
// CF undefined for a count >= the width; rotates touch CF and OF only.
Gen::Fx Gen::shift_fx(unsigned op, unsigned w, unsigned cnt) {
  const unsigned mc = cnt & (w == 8 ? 63 : 31);
  Fx fx;
  if (op == 2 || op == 3) fx.reads = kCF;
  if (mc == 0) return fx;
  const uint64_t of = mc == 1 ? kOF : 0;
  if (op <= 3) {
    fx.defines = kCF | of;
    fx.undefines = of ? 0 : kOF;
  } else {
    const bool big = mc >= w * 8;
    fx.defines = (big ? 0 : kCF) | kSF | kZF | kPF | of;
    fx.undefines = kAF | (big ? kCF : 0) | (of ? 0 : kOF);
  }
  return fx;
}

void Gen::shift() {
  static const unsigned ops[] = {0, 1, 2, 3, 4, 5, 7};
  static const char* const n[] = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};
  const unsigned op = ops[r(7)], w = width(), how = unsigned(r(3));
  const uint8_t wb = w == 1 ? 0 : 1;
  unsigned cnt = how == 1 ? 1 : count();
  const Fx fx = shift_fx(op, w, cnt);
  need(fx.reads);  // before MOV CL: the flag-defining instruction may write RCX
  if (how == 2) {  // CL
    begin();
    raw({0xB1, uint8_t(cnt)});
    commit("mov cl, imm8 (count)", {});
  }
  avoid_ = 1u << 1;  // RCX holds the count
  Rm d = rm_operand(w);
  avoid_ = 0;
  if (how == 2 && !d.mem && (d.reg == 1)) d.reg = 3;
  begin();
  if (how == 0) {
    auto s = spec(w, {uint8_t(0xC0 | wb)}, int(op));
    s.imm = cnt; s.imm_len = 1;
    emit_retry(s, d);
  } else {
    emit_retry(spec(w, {uint8_t((how == 1 ? 0xD0 : 0xD2) | wb)}, int(op)), d);
  }
  static char f[48];
  std::snprintf(f, sizeof f, "%s r/m%u, %s (count %u)", n[op], w * 8, how == 0 ? "imm8" : how == 1 ? "1" : "cl", cnt);
  commit(f, fx);
}

// SHLD/SHRD (SDM "SHLD", "SHRD"): count masked to 5/6 bits; a masked count above the
// operand width (16-bit forms) leaves the result and flags undefined: not generated.
void Gen::shiftd() {
  const unsigned w = width_nb();
  const bool right = chance(50), cl = chance(50);
  unsigned cnt = count(), mc = cnt & (w == 8 ? 63 : 31);
  if (mc > w * 8) mc = cnt = unsigned(r(w * 8 + 1));
  if (cl) { begin(); raw({0xB1, uint8_t(cnt)}); commit("mov cl, imm8 (count)", {}); }
  avoid_ = 1u << 1;
  Rm d = rm_operand(w);
  avoid_ = 0;
  int src = gpr();
  if (cl && !d.mem && d.reg == 1) d.reg = 3;
  begin();
  auto s = spec(w, {0x0F, uint8_t((right ? 0xAC : 0xA4) | (cl ? 1 : 0))}, src);
  if (!cl) { s.imm = cnt; s.imm_len = 1; }
  emit(s, d);
  Fx fx;
  if (mc) {
    const uint64_t of = mc == 1 ? kOF : 0;
    fx.defines = kCF | kSF | kZF | kPF | of;
    fx.undefines = kAF | (of ? 0 : kOF);
  }
  static char f[40];
  std::snprintf(f, sizeof f, "%s r/m%u, r, %s (count %u)", right ? "shrd" : "shld", w * 8, cl ? "cl" : "imm8", cnt);
  commit(f, fx);
}

// BT/BTS/BTR/BTC (SDM "BT": CF = the bit; OF SF AF PF undefined; APM: ZF undefined too).
void Gen::bitop() {
  const unsigned w = width_nb(), k = unsigned(r(4));
  static const char* const n[] = {"bt", "bts", "btr", "btc"};
  const Fx fx{0, kCF, kOF | kSF | kZF | kAF | kPF};
  Rm d = chance(40) ? Rm::at(mem(w, 1, 0x300, 0x900)) : Rm::r(gpr());
  if (chance(50)) {
    int off = gpr();
    if (d.mem) {
      while (off == d.m.base || off == d.m.index) off = gpr();
      set_reg64s(off, int32_t(r(320)) - 64, "mov r64, simm32 (bit offset)");
    }
    begin();
    static const uint8_t opc[] = {0xA3, 0xAB, 0xB3, 0xBB};
    emit(spec(w, {0x0F, opc[k]}, off), d);
  } else {
    begin();
    auto s = spec(w, {0x0F, 0xBA}, int(4 + k));
    s.imm = r(256); s.imm_len = 1;
    emit(s, d);
  }
  static char f[24];
  std::snprintf(f, sizeof f, "%s %u-bit", n[k], w * 8);
  commit(f, fx);
}

// BSF/BSR (SDM: ZF defined, CF OF SF AF PF undefined; a zero source leaves the destination
// undefined on Intel, unchanged on AMD: the source is made non-zero unless it is memory).
void Gen::bitscan() {
  const unsigned w = width_nb();
  const bool rev = chance(50);
  Rm s = rm_operand(w);
  int d = gpr();
  if (!s.mem && chance(95)) {
    begin();
    auto o = spec(w, {0x83}, 1); o.imm = 1u << r(7); o.imm_len = 1;  // OR r, 2^k: non-zero
    emit(o, s);
    commit("or r, imm8 (non-zero source)", {0, kAll & ~kAF, kAF});
  } else if (s.mem) {
    begin();
    auto o = spec(1, {0x80}, 1); o.imm = 0x10; o.imm_len = 1;      // OR byte [m], 10h
    emit(o, s);
    commit("or m8, imm8 (non-zero source)", {0, kAll & ~kAF, kAF});
  }
  begin();
  emit(spec(w, {0x0F, uint8_t(rev ? 0xBD : 0xBC)}, d), s);
  commit(rev ? "bsr" : "bsf", {0, kZF, kCF | kOF | kSF | kAF | kPF});
}

void Gen::movx() {
  const unsigned k = unsigned(r(5));
  begin();
  if (k < 4) {  // MOVZX/MOVSX r, r/m8 | r/m16
    const bool from8 = k % 2 == 0, sx = k >= 2;
    const unsigned w = from8 ? width_nb() : (chance(50) ? 4 : 8);
    Rm s = rm_operand(from8 ? 1 : 2);
    auto sp = spec(w, {0x0F, uint8_t((sx ? 0xBE : 0xB6) | (from8 ? 0 : 1))}, gpr());
    sp.byte_regs = false;
    if (from8 && !s.mem && s.reg >= 4 && s.reg < 8) sp.force_rex = true;  // SPL..DIL need REX
    if (from8 && !s.mem && s.reg >= kAH) {  // AH..BH: no REX, so a destination among EAX..EDI (not ESP)
      sp.rexw = false;
      sp.p66 = chance(50);
      do sp.regfield = int(r(8)); while (sp.regfield == kRSP);
    }
    emit(sp, s);
    commit(sx ? "movsx" : "movzx", {});
  } else {      // MOVSXD r64, r/m32
    emit(spec(8, {0x63}, gpr()), rm_operand(4));
    commit("movsxd", {});
  }
}

void Gen::convert() {
  static const uint8_t pre[] = {0x66, 0, 0x48};
  const unsigned k = unsigned(r(6));
  begin();
  if (pre[k % 3]) s_.code.push_back(pre[k % 3]);
  s_.code.push_back(k < 3 ? 0x98 : 0x99);
  commit(k < 3 ? "cbw/cwde/cdqe" : "cwd/cdq/cqo", {});
}

void Gen::setcmov() {
  const unsigned cc = unsigned(r(16));
  need(cc_reads(cc));
  begin();
  if (chance(50)) {
    emit_retry(spec(1, {0x0F, uint8_t(0x90 | cc)}, 0), rm_operand(1));
    commit("setcc", {});
  } else {
    const unsigned w = width_nb();
    emit(spec(w, {0x0F, uint8_t(0x40 | cc)}, gpr()), rm_operand(w));
    commit("cmovcc", {});
  }
}

// LEA computes the address without touching memory: any register as base/index.
void Gen::lea() {
  const unsigned w = width_nb();
  MemOp m;
  const unsigned k = unsigned(r(4));
  if (k == 0) { m.kind = MemOp::kRip; m.target = kScratch + r(0x1000); }
  else if (k == 1) { m.kind = MemOp::kBase; m.base = int(r(16)); m.disp = int32_t(value()); }
  else {
    m.kind = MemOp::kBaseIndex;
    m.base = int(r(16));
    do m.index = int(r(16)); while (m.index == kRSP);
    static const int sc[] = {1, 2, 4, 8};
    m.scale = sc[r(4)];
    m.disp = chance(50) ? int32_t(r(256)) - 128 : int32_t(value());
  }
  m.addr32 = m.kind != MemOp::kRip && chance(25);
  begin();
  emit(spec(w, {0x8D}, gpr()), Rm::at(m));
  commit(m.addr32 ? "lea (67h)" : "lea", {});
}

void Gen::xchg() {
  const unsigned k = unsigned(r(4));
  begin();
  if (k == 0) {
    const unsigned w = width();
    emit_retry(spec(w, {uint8_t(w == 1 ? 0x86 : 0x87)}, gpr_w(w)), rm_operand(w));
    commit("xchg r/m, r", {});
  } else if (k == 1) {
    const unsigned w = width_nb();
    int g = gpr();
    if (g == 0 && w != 8) g = 3;  // 90 is NOP, 66 90 too
    rex_raw(w == 8, g, {uint8_t(0x90 + (g & 7))}, w == 2);
    commit("xchg rax, r", {});
  } else if (k == 2) {
    const unsigned w = width();
    const Rm d = rm_operand(w);
    auto s = spec(w, {0x0F, uint8_t(w == 1 ? 0xC0 : 0xC1)}, gpr_w(w));
    s.lock = d.mem && chance(30);
    begin();
    emit_retry(s, d);
    commit(s.lock ? "lock xadd" : "xadd", {0, kAll, 0});
  } else {
    const unsigned w = width();
    const Rm d = rm_operand(w);
    auto s = spec(w, {0x0F, uint8_t(w == 1 ? 0xB0 : 0xB1)}, gpr_w(w));
    s.lock = d.mem && chance(30);
    begin();
    emit_retry(s, d);
    commit(s.lock ? "lock cmpxchg" : "cmpxchg", {0, kAll, 0});
  }
}

// BSWAP r32/r64 (the 16-bit form is undefined, SDM "BSWAP": not generated).
void Gen::bswap() {
  const int g = gpr();
  const bool w = chance(50);
  begin();
  rex_raw(w, g, {0x0F, uint8_t(0xC8 + (g & 7))});
  commit("bswap", {});
}

}  // namespace redoubt::difftest::gen
