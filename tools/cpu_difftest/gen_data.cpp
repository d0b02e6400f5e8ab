// The generator's data-movement and state classes (gen_impl.hpp): MOV, string instructions, the
// stack, the flags instructions, SSE/SSE2 and Jcc.
#include "tools/cpu_difftest/gen_impl.hpp"

namespace redoubt::difftest::gen {

void Gen::mov() {
  const unsigned k = unsigned(r(4)), w = width();
  const uint8_t wb = w == 1 ? 0 : 1;
  begin();
  int il = 0;
  if (k == 0) emit_retry(spec(w, {uint8_t(0x88 | wb)}, gpr_w(w)), rm_operand(w, 50));
  else if (k == 1) emit_retry(spec(w, {uint8_t(0x8A | wb)}, gpr_w(w)), rm_operand(w, 50));
  else if (k == 2) { auto s = spec(w, {uint8_t(0xC6 | wb)}, 0); s.imm = imm_for(w, il); s.imm_len = il; emit_retry(s, rm_operand(w, 50)); }
  else {  // B0+r / B8+r, including MOV r64, imm64
    const int g = gpr();
    const uint64_t v = value();
    rex_raw(w == 8, g, {uint8_t((w == 1 ? 0xB0 : 0xB8) + (g & 7))}, w == 2);
    if (w == 1 && g >= 4 && g < 8) s_.code.insert(s_.code.end() - 1, 0x40);  // SPL..DIL need REX
    for (unsigned i = 0; i < w; ++i) s_.code.push_back(uint8_t(v >> (8 * i)));
  }
  commit("mov", {});
}

// MOVS/STOS/LODS/CMPS/SCAS, with and without REP/REPE/REPNE, DF = 0 and 1, on the scratch page.
void Gen::string() {
  if (chance(30)) {
    begin();
    df_ = !df_;
    raw({uint8_t(df_ ? 0xFD : 0xFC)});
    commit(df_ ? "std" : "cld", {});
  }
  const unsigned k = unsigned(r(5)), w = width();
  static const uint8_t op[] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE};
  static const char* const n[] = {"movs", "stos", "lods", "cmps", "scas"};
  const bool cmp = k >= 3;
  const unsigned rep = unsigned(r(cmp ? 3 : 2));  // 0 none, 1 F3, 2 F2
  const uint32_t cnt = uint32_t(r(17));
  const uint32_t src = uint32_t(kScratch + (df_ ? 0x480 + r(0x180) : 0x200 + r(0x200)));
  const uint32_t dst = uint32_t(kScratch + (df_ ? 0x900 + r(0x180) : 0x500 + r(0x200)));
  if (k == 0 || k == 2 || k == 3) set_reg32(6, src, "mov esi, imm32");
  if (k != 2) set_reg32(7, dst, "mov edi, imm32");
  if (rep) set_reg32(1, cnt, "mov ecx, imm32 (count)");
  begin();
  if (w == 2) s_.code.push_back(0x66);
  if (rep) s_.code.push_back(rep == 1 ? 0xF3 : 0xF2);
  if (w == 8) s_.code.push_back(0x48);
  s_.code.push_back(uint8_t(op[k] | (w == 1 ? 0 : 1)));
  static char f[40];
  std::snprintf(f, sizeof f, "%s%s%u DF=%d count %u", rep == 1 ? "rep " : rep == 2 ? "repne " : "", n[k], w * 8,
                df_ ? 1 : 0, rep ? cnt : 1);
  commit(f, {0, cmp && (!rep || cnt) ? kAll : 0, 0});
}

void Gen::stack() {
  const unsigned k = unsigned(r(6));
  const bool can_pop = depth_ >= 16, can_push = depth_ < 0x180;
  begin();
  if (k == 0 && can_push) {
    const int g = gpr();
    const bool p16 = chance(15);
    rex_raw(false, g, {uint8_t(0x50 + (g & 7))}, p16);
    depth_ += p16 ? 2 : 8;
    commit(p16 ? "push r16" : "push r64", {});
  } else if (k == 1 && can_pop) {
    const int g = gpr();
    const bool p16 = chance(15);
    rex_raw(false, g, {uint8_t(0x58 + (g & 7))}, p16);
    depth_ -= p16 ? 2 : 8;
    commit(p16 ? "pop r16" : "pop r64", {});
  } else if (k == 2 && can_push) {
    const bool i8 = chance(50);
    const uint64_t v = value();
    s_.code.push_back(i8 ? 0x6A : 0x68);
    for (int i = 0; i < (i8 ? 1 : 4); ++i) s_.code.push_back(uint8_t(v >> (8 * i)));
    depth_ += 8;
    commit("push imm", {});
  } else if (k == 3 && can_push) {
    s_.code.resize(mark_);
    Rm m = Rm::at(mem(8));
    begin();
    auto s = spec(4, {0xFF}, 6);
    emit(s, m);
    depth_ += 8;
    commit("push m64", {});
  } else if (k == 4 && can_pop) {
    s_.code.resize(mark_);
    Rm m = Rm::at(mem(8, 1, 0x100, 0xC00));
    begin();
    emit(spec(4, {0x8F}, 0), m);
    depth_ -= 8;
    commit("pop m64", {});
  } else if (can_push) {
    need(kAll);  // PUSHF reads every status flag
    begin();
    raw({0x9C});
    depth_ += 8;
    commit("pushfq", {});
  } else {
    const int g = gpr();
    rex_raw(false, g, {uint8_t(0x58 + (g & 7))});
    depth_ -= 8;
    commit("pop r64", {});
  }
}

// PUSHF / POP / XOR with status and DF bits / PUSH / POPF; LAHF, SAHF, CLC, STC, CMC.
void Gen::flags() {
  const unsigned k = unsigned(r(6));
  if (k <= 1) {
    need(kAll);
    const int g = gpr();
    begin(); raw({0x9C}); commit("pushfq", {});
    begin(); rex_raw(false, g, {uint8_t(0x58 + (g & 7))}); commit("pop r64", {});
    const uint32_t bits = uint32_t(rng_() & (kStatus | (k ? kDF : 0)));
    begin();
    auto s = spec(8, {0x81}, 6); s.imm = bits; s.imm_len = 4;
    emit(s, Rm::r(g));
    commit("xor r64, imm32 (flag bits)", {0, kAll & ~kAF, kAF});
    begin(); rex_raw(false, g, {uint8_t(0x50 + (g & 7))}); commit("push r64", {});
    begin(); raw({0x9D}); commit("popfq", {0, kAll, 0});
    if (bits & kDF) df_ = !df_;
  } else if (k == 2) {
    need(kSF | kZF | kAF | kPF | kCF);
    begin(); raw({0x9F}); commit("lahf", {});
  } else if (k == 3) {
    begin(); raw({0x9E}); commit("sahf", {0, kSF | kZF | kAF | kPF | kCF, 0});
  } else {
    static const uint8_t op[] = {0xF8, 0xF9, 0xF5};
    const unsigned j = k - 4 + unsigned(r(2));
    if (j == 2) need(kCF);
    begin(); raw({op[j]});
    commit(j == 0 ? "clc" : j == 1 ? "stc" : "cmc", {0, kCF, 0});
  }
}

// SSE/SSE2 (CPUID.1:EDX.SSE/SSE2 = 1 in the model): integer, moves, a few FP forms.
void Gen::sse() {
  const int x = int(r(16)), y = int(r(16));
  const unsigned k = unsigned(r(8));
  auto xrm = [&](unsigned align) { return chance(30) ? Rm::at(mem(16, align)) : Rm::r(y); };
  EncodeSpec s;
  s.p66 = true;
  const char* form = "sse";
  if (k == 0) {  // MOVD/MOVQ xmm <-> r/m
    const bool q = chance(50), to_x = chance(50);
    s.rexw = q;
    s.opcode = {0x0F, uint8_t(to_x ? 0x6E : 0x7E)};
    s.regfield = x;
    Rm o = chance(30) ? Rm::at(mem(q ? 8 : 4)) : Rm::r(gpr());
    begin(); emit(s, o); commit(to_x ? "movd/movq xmm, r/m" : "movd/movq r/m, xmm", {}); return;
  }
  if (k == 1) {  // packed integer op xmm, xmm/m128
    static const uint8_t ops[] = {0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xEF, 0xDB, 0xEB, 0xDF, 0x74,
                                  0x75, 0x76, 0x64, 0x65, 0x66, 0xD5, 0xE5, 0xE4, 0xF4, 0x60, 0x61, 0x62, 0x6C,
                                  0x68, 0x69, 0x6A, 0x6D, 0x63, 0x6B, 0x67, 0xDA, 0xDE, 0xEA, 0xEE, 0xE0, 0xE3,
                                  0xF6, 0xF5, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9};
    s.opcode = {0x0F, ops[r(std::size(ops))]};
    s.regfield = x;
    Rm o = xrm(16);
    begin(); emit(s, o); commit("packed integer xmm, xmm/m128", {}); return;
  }
  if (k == 2) {  // PSHUFD / PSHUFLW / PSHUFHW
    const unsigned v = unsigned(r(3));
    s.p66 = v == 0;
    s.rep = v == 1 ? 0xF2 : v == 2 ? 0xF3 : 0;
    s.opcode = {0x0F, 0x70}; s.regfield = x; s.imm = r(256); s.imm_len = 1;
    Rm o = xrm(16);
    begin(); emit(s, o); commit("pshufd/lw/hw", {}); return;
  }
  if (k == 3) {  // shifts by imm8
    static const uint8_t grp[][2] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4}, {0x72, 6},
                                      {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
    const auto& g = grp[r(std::size(grp))];
    s.opcode = {0x0F, g[0]}; s.regfield = g[1]; s.imm = chance(70) ? r(20) : r(256); s.imm_len = 1;
    begin(); emit(s, Rm::r(x)); commit("psrl/psra/psll imm8", {}); return;
  }
  if (k == 4) {  // PMOVMSKB r32, xmm
    s.opcode = {0x0F, 0xD7}; s.regfield = gpr();
    begin(); emit(s, Rm::r(x)); commit("pmovmskb", {}); return;
  }
  if (k == 5) {  // MOVDQU load/store, MOVDQA reg
    const unsigned v = unsigned(r(3));
    s.p66 = v == 2;
    s.rep = v < 2 ? 0xF3 : 0;
    s.opcode = {0x0F, uint8_t(v == 1 ? 0x7F : 0x6F)};
    s.regfield = x;
    Rm o = v == 2 ? Rm::r(y) : Rm::at(mem(16));
    begin(); emit(s, o); commit(v == 0 ? "movdqu xmm, m128" : v == 1 ? "movdqu m128, xmm" : "movdqa xmm, xmm", {}); return;
  }
  if (k == 6) {  // scalar/packed FP arithmetic
    static const uint8_t ops[] = {0x58, 0x59, 0x5C, 0x5E, 0x51, 0x5D, 0x5F};
    const unsigned v = unsigned(r(4));  // ps, pd, ss, sd
    s.p66 = v == 1;
    s.rep = v == 2 ? 0xF3 : v == 3 ? 0xF2 : 0;
    s.opcode = {0x0F, ops[r(std::size(ops))]}; s.regfield = x;
    Rm o = chance(30) ? Rm::at(mem(v < 2 ? 16 : v == 2 ? 4 : 8, v < 2 ? 16 : 1)) : Rm::r(y);
    begin(); emit(s, o); commit("fp arith", {}); return;
  }
  // k == 7: CVTSI2SD/CVTTSD2SI/UCOMISD/COMISD
  const unsigned v = unsigned(r(4));
  if (v == 0) {
    s.p66 = false; s.rep = 0xF2; s.rexw = chance(50); s.opcode = {0x0F, 0x2A}; s.regfield = x;
    begin(); emit(s, Rm::r(gpr())); commit("cvtsi2sd", {}); return;
  }
  if (v == 1) {
    s.p66 = false; s.rep = 0xF2; s.rexw = chance(50); s.opcode = {0x0F, 0x2C}; s.regfield = gpr();
    begin(); emit(s, Rm::r(x)); commit("cvttsd2si", {}); return;
  }
  s.p66 = chance(50); s.opcode = {0x0F, uint8_t(v == 2 ? 0x2E : 0x2F)}; s.regfield = x;
  begin(); emit(s, Rm::r(y));
  commit("(u)comiss/sd", {0, kAll, 0});  // ZF PF CF from the compare, OF SF AF cleared
  (void)form;
}

// Jcc rel8 over one instruction of a flag/register class (it and its setup are skipped when the
// branch is taken): conditions evaluated from lazy flags at a block end, blocks chained both ways.
// A flag counts as defined afterwards only if it is on both paths.
void Gen::branch() {
  const unsigned cc = unsigned(r(16));
  need(cc_reads(cc));
  const uint64_t before = defined_;
  begin();
  const size_t at = s_.code.size();
  raw({uint8_t(0x70 | cc), 0});
  commit("jcc rel8", {});
  static const unsigned body[] = {kAlu, kTest, kUnary, kMul, kShift, kBitOp, kMovx, kSetCmov, kLea, kMov, kSse};
  one(body[r(std::size(body))]);
  const size_t skip = s_.code.size() - at - 2;
  if (skip > 127) {  // cannot happen with these classes (at most a few setup MOVs), but never emit a bad rel8
    s_.code.resize(at);
    s_.insns.pop_back();
    while (!s_.insns.empty() && s_.insns.back().off >= at) s_.insns.pop_back();
    defined_ = before;
    return;
  }
  s_.code[at + 1] = uint8_t(skip);
  defined_ &= before;
}

}  // namespace redoubt::difftest::gen
