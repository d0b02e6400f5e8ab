// The generator: random CPL-3 64-bit instruction sequences, encoded by encoder.hpp.
//
// Undefined flags (the mask rule, docs/simulator-cpu.md "Differential tester"): the generator
// tracks which of OF SF ZF AF PF CF are *defined* after each instruction, from the "Flags
// Affected" sections of Intel SDM vol. 2 and AMD APM vol. 3 — a flag counts as defined only if
// both vendors define it. An instruction that reads a flag (ADC, SBB, RCL, RCR, CMC, SETcc,
// CMOVcc, LAHF, PUSHF) is preceded by a flag-defining ALU instruction when one it reads is
// undefined, so an undefined flag never flows into a register or memory. The final comparison,
// and the comparison at a fault, mask the flags undefined at that point.
#include "tools/cpu_difftest/generator.hpp"

#include <cstring>
#include <iterator>

#include "tools/cpu_difftest/encoder.hpp"

namespace redoubt::difftest {

const char* class_name(unsigned c) {
  static const char* const n[] = {"alu", "test", "unary", "mul", "div", "shift", "shiftd", "bitop", "bitscan",
                                  "movx", "convert", "setcmov", "lea", "xchg", "bswap", "mov", "string",
                                  "stack", "flags", "sse", "jcc"};
  return c < kNumClasses ? n[c] : "?";
}

namespace {

constexpr uint64_t kAll = kStatus;
constexpr int kRSP = 4;

// Flags read by condition code cc (SDM vol. 2 Appendix B.1, Table B-1).
uint64_t cc_reads(unsigned cc) {
  switch (cc >> 1) {
    case 0: return kOF;
    case 1: return kCF;
    case 2: return kZF;
    case 3: return kCF | kZF;
    case 4: return kSF;
    case 5: return kPF;
    case 6: return kSF | kOF;
    default: return kZF | kSF | kOF;
  }
}

// xoshiro256** seeded through splitmix64 (Blackman & Vigna): a seed costs four words to set up,
// not mt19937_64's 312 (which dominated the tester's profile).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      w = z ^ (z >> 31);
    }
  }
  uint64_t operator()() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

class Gen {
 public:
  Gen(uint64_t seed, const GenOptions& o, Sequence& s) : rng_(seed), opt_(o), s_(s), enc_(s.code, kCode) {}

  void run() {
    init_state();
    const unsigned n = opt_.min_insns + unsigned(rng_() % (opt_.max_insns - opt_.min_insns + 1));
    unsigned classes[kNumClasses], nc = 0;
    for (unsigned c = 0; c < kNumClasses; ++c)
      if (opt_.classes >> c & 1) classes[nc++] = c;
    for (unsigned i = 0; i < n && nc; ++i) one(classes[rng_() % nc]);
    s_.defined_end = defined_;
  }

 private:
  // ---- randomness ----
  uint64_t r(uint64_t n) { return rng_() % n; }
  bool chance(unsigned pct) { return r(100) < pct; }
  uint64_t value() {
    static const uint64_t special[] = {0, 1, 2, ~0ull, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
                                       0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
                                       0xFFFFFFFF80000000, 0xFFFFFFFFFFFF8000, 0xFFFFFFFFFFFFFF80};
    switch (r(6)) {
      case 0: return special[r(std::size(special))];
      case 1: return r(64);
      case 2: return uint64_t(-int64_t(r(64)));
      case 3: return special[r(std::size(special))] + r(3) - 1;
      default: return rng_();
    }
  }
  int gpr() { int g; do g = int(r(16)); while (g == kRSP); return g; }
  int addr_gpr() { int g; do g = gpr(); while (avoid_ >> g & 1); return g; }  // base/index of a memory operand
  int gpr_w(unsigned w) { return w == 1 && chance(15) ? kAH + int(r(4)) : gpr(); }
  unsigned width() { static const unsigned w[] = {1, 2, 4, 8}; return w[r(4)]; }
  unsigned width_nb() { static const unsigned w[] = {2, 4, 8}; return w[r(3)]; }

  void init_state() {
    Regs& g = s_.init;
    for (int i = 0; i < 16; ++i) g.gpr[i] = value();
    g.gpr[kRSP] = kStackTop;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 2; ++j) g.xmm[i][j] = chance(30) ? value() : rng_();
    g.rflags = (rng_() & kStatus) | 2;
    df_ = false;
    for (size_t i = 0; i < kScratchSize; i += 8) {
      const uint64_t v = rng_();
      std::memcpy(s_.mem + i, &v, 8);
    }
    if (chance(20)) std::memset(s_.mem + 0x200 + r(0x800), 0, 64);  // zeros for BSF/CMPS/SCAS
  }

  // ---- emission ----
  struct Fx { uint64_t reads = 0, defines = 0, undefines = 0; };
  bool begin_ok_ = true;
  size_t mark_ = 0;
  void begin() { mark_ = s_.code.size(); }
  void commit(const char* form, const Fx& fx) {
    Insn in;
    in.off = uint32_t(mark_);
    in.len = uint8_t(s_.code.size() - mark_);
    in.defined_before = defined_;
    in.form = form;
    s_.insns.push_back(in);
    defined_ = (defined_ | fx.defines) & ~fx.undefines;
  }
  // An instruction that reads flags: define them first if needed.
  void need(uint64_t reads) {
    if ((reads & ~defined_) == 0) return;
    begin();
    const int a = chance(50) ? 7 : 0;  // CMP or ADD r64, r64: all six defined
    emit({0, false, true, false, false, {uint8_t(a << 3 | 1)}, gpr()}, Rm::r(gpr()));
    commit(a ? "cmp r/m64, r64 (defines flags)" : "add r/m64, r64 (defines flags)", {0, kAll, 0});
  }
  bool emit(EncodeSpec s, const Rm& rm) { return enc_.emit(s, rm); }
  void raw(std::initializer_list<uint8_t> b) { s_.code.insert(s_.code.end(), b); }
  void rex_raw(bool w, int reg_b, std::initializer_list<uint8_t> rest, bool p66 = false) {
    if (p66) s_.code.push_back(0x66);
    if (w || reg_b >= 8) s_.code.push_back(uint8_t(0x40 | (w ? 8 : 0) | (reg_b >= 8 ? 1 : 0)));
    s_.code.insert(s_.code.end(), rest);
  }
  // MOV r32, imm32 (B8+r; zero-extends): a setup instruction, recorded like any other.
  void set_reg32(int g, uint32_t v, const char* why) {
    begin();
    rex_raw(false, g, {uint8_t(0xB8 + (g & 7)), uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)});
    commit(why, {});
    mark_ = s_.code.size();  // an instruction whose operand this sets up starts after it
  }
  void set_reg64s(int g, int32_t v, const char* why) {  // MOV r/m64, simm32 (REX.W C7 /0)
    begin();
    emit({0, false, true, false, false, {0xC7}, 0, true, uint64_t(uint32_t(v)), 4}, Rm::r(g));
    commit(why, {});
    mark_ = s_.code.size();
  }

  // A memory operand at a random scratch address (aligned to `align`), addressed in one of
  // four ways; base/index registers get set up by MOV first.
  MemOp mem(unsigned size, unsigned align = 1, uint64_t lo = 0x100, uint64_t hi = 0xC00) {
    uint64_t t = kScratch + lo + r(hi - lo - size);
    t &= ~uint64_t(align - 1);
    MemOp m;
    m.target = t;
    switch (r(4)) {
      case 0: m.kind = MemOp::kAbs; break;
      case 1: m.kind = MemOp::kRip; break;
      case 2: {
        m.kind = MemOp::kBase;
        m.base = addr_gpr();
        m.disp = chance(70) ? int32_t(r(256)) - 128 : int32_t(r(0x10000)) - 0x8000;
        set_reg32(m.base, uint32_t(t - m.disp), "mov r32, imm32 (base)");
        break;
      }
      default: {
        m.kind = MemOp::kBaseIndex;
        m.base = addr_gpr();
        do m.index = addr_gpr(); while (m.index == m.base);
        static const int sc[] = {1, 2, 4, 8};
        m.scale = sc[r(4)];
        m.disp = int32_t(r(256)) - 128;
        const uint32_t k = uint32_t(r(32));
        set_reg32(m.index, k, "mov r32, imm32 (index)");
        set_reg32(m.base, uint32_t(t - m.disp - int64_t(k) * m.scale), "mov r32, imm32 (base)");
      }
    }
    return m;
  }
  Rm rm_operand(unsigned w, unsigned mem_pct = 35) {
    if (chance(mem_pct)) return Rm::at(mem(w));
    return Rm::r(gpr_w(w));
  }
  uint64_t imm_for(unsigned w, int& len) {
    len = w == 1 ? 1 : w == 2 ? 2 : 4;
    return value();
  }
  EncodeSpec spec(unsigned w, std::initializer_list<uint8_t> op, int regfield) {
    EncodeSpec s;
    s.p66 = w == 2;
    s.rexw = w == 8;
    s.byte_regs = w == 1;
    s.opcode = op;
    s.regfield = regfield;
    return s;
  }
  // Emits; on an AH-with-REX conflict retries with a plain low register.
  void emit_retry(EncodeSpec s, Rm rm) {
    if (emit(s, rm)) return;
    if (s.regfield >= kAH) s.regfield = s.regfield - kAH;  // AH.. -> AL..BL
    if (!rm.mem && rm.reg >= kAH) rm.reg -= kAH;
    emit(s, rm);
  }

  // ---- the classes ----
  void one(unsigned c) {
    switch (c) {
      case kAlu: alu(); break;
      case kTest: test(); break;
      case kUnary: unary(); break;
      case kMul: mul(); break;
      case kDiv: div(); break;
      case kShift: shift(); break;
      case kShiftD: shiftd(); break;
      case kBitOp: bitop(); break;
      case kBitScan: bitscan(); break;
      case kMovx: movx(); break;
      case kConvert: convert(); break;
      case kSetCmov: setcmov(); break;
      case kLea: lea(); break;
      case kXchg: xchg(); break;
      case kBswap: bswap(); break;
      case kMov: mov(); break;
      case kString: string(); break;
      case kStack: stack(); break;
      case kFlags: flags(); break;
      case kSse: sse(); break;
      case kBranch: branch(); break;
    }
  }

  void alu() {
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

  void test() {
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

  void unary() {
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

  void mul() {
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

  void div() {
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
  unsigned count() {
    static const unsigned c[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255};
    return chance(70) ? c[r(std::size(c))] : unsigned(r(256));
  }
  // Shift/rotate flags (SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"; APM vol. 3 same names):
  // masked count 0: nothing; OF defined only for a masked count of 1; AF undefined for shifts;
  // CF undefined for a count >= the width; rotates touch CF and OF only.
  Fx shift_fx(unsigned op, unsigned w, unsigned cnt) {
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
  void shift() {
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
  void shiftd() {
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
  void bitop() {
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
  void bitscan() {
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

  void movx() {
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

  void convert() {
    static const uint8_t pre[] = {0x66, 0, 0x48};
    const unsigned k = unsigned(r(6));
    begin();
    if (pre[k % 3]) s_.code.push_back(pre[k % 3]);
    s_.code.push_back(k < 3 ? 0x98 : 0x99);
    commit(k < 3 ? "cbw/cwde/cdqe" : "cwd/cdq/cqo", {});
  }

  void setcmov() {
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
  void lea() {
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

  void xchg() {
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
  void bswap() {
    const int g = gpr();
    const bool w = chance(50);
    begin();
    rex_raw(w, g, {0x0F, uint8_t(0xC8 + (g & 7))});
    commit("bswap", {});
  }

  void mov() {
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
  void string() {
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

  void stack() {
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
  void flags() {
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

  // Jcc rel8 over one instruction of a flag/register class (it and its setup are skipped when the
  // branch is taken): conditions evaluated from lazy flags at a block end, blocks chained both ways.
  // A flag counts as defined afterwards only if it is on both paths.
  void branch() {
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

  // SSE/SSE2 (CPUID.1:EDX.SSE/SSE2 = 1 in the model): integer, moves, a few FP forms.
  void sse() {
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

  Rng rng_;
  const GenOptions& opt_;
  Sequence& s_;
  Encoder enc_;
  uint64_t defined_ = kAll;
  bool df_ = false;
  int depth_ = 0;
  uint32_t avoid_ = 0;  // registers a memory operand's base/index must not use
};

}  // namespace

void generate(uint64_t seed, const GenOptions& opt, Sequence& out) {
  out.seed = seed;
  out.code.clear();
  out.insns.clear();
  out.init = Regs{};
  Gen g(seed, opt, out);
  g.run();
}

}  // namespace redoubt::difftest
