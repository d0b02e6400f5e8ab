// The generator's machinery (private to tools/cpu_difftest): the random source, the emission and
// flag-tracking helpers, and the Gen class whose instruction classes live in gen_integer.cpp
// (ALU, multiply/divide, shifts, bit operations, moves/conversions, LEA, exchanges) and
// gen_data.cpp (MOV, strings, stack, flags, SSE, Jcc). generator.cpp explains the flag rule.
#pragma once
#include <cstdio>
#include <cstring>
#include <iterator>

#include "tools/cpu_difftest/encoder.hpp"
#include "tools/cpu_difftest/generator.hpp"

namespace redoubt::difftest::gen {

inline constexpr uint64_t kAll = kStatus;
inline constexpr int kRSP = 4;

// Flags read by condition code cc (SDM vol. 2 Appendix B.1, Table B-1).
inline uint64_t cc_reads(unsigned cc) {
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

  void alu();
  void test();
  void unary();
  void mul();
  void div();
  unsigned count();
  Fx shift_fx(unsigned op, unsigned w, unsigned cnt);
  void shift();
  void shiftd();
  void bitop();
  void bitscan();
  void movx();
  void convert();
  void setcmov();
  void lea();
  void xchg();
  void bswap();
  void mov();
  void string();
  void stack();
  void flags();
  void branch();
  void sse();
  Rng rng_;
  const GenOptions& opt_;
  Sequence& s_;
  Encoder enc_;
  uint64_t defined_ = kAll;
  bool df_ = false;
  int depth_ = 0;
  uint32_t avoid_ = 0;  // registers a memory operand's base/index must not use
};

}  // namespace redoubt::difftest::gen
