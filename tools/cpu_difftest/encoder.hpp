// A small x86-64 encoder for the differential tester's generator (Intel SDM vol. 2A
// §2.1-2.2: legacy prefixes, REX, opcode, ModRM, SIB, displacement, immediate).
#pragma once
#include <cstdint>
#include <vector>

namespace redoubt::difftest {

// 8-bit register numbers 16..19 are AH, CH, DH, BH (ModRM 4..7 without REX, §2.2.1.2).
inline constexpr int kAH = 16;

struct MemOp {
  enum Kind { kAbs, kRip, kBase, kBaseIndex } kind = kAbs;
  int base = -1, index = -1, scale = 1;
  int32_t disp = 0;
  uint64_t target = 0;  // kAbs / kRip: the linear address
  bool addr32 = false;  // 67h
};

// A ModRM r/m operand: a register (0-15, or kAH.. for byte registers) or memory.
struct Rm {
  bool mem = false;
  int reg = 0;
  MemOp m;
  static Rm r(int n) { Rm x; x.reg = n; return x; }
  static Rm at(const MemOp& mo) { Rm x; x.mem = true; x.m = mo; return x; }
};

struct EncodeSpec {
  uint8_t rep = 0;        // F2/F3 or 0 (also the SSE mandatory prefix)
  bool p66 = false;
  bool rexw = false;
  bool byte_regs = false; // register operands are 8-bit (4..7 need REX, kAH.. forbid it)
  bool force_rex = false; // an empty REX (40h): SPL..DIL as the source of MOVZX/MOVSX
  std::vector<uint8_t> opcode;
  int regfield = 0;       // ModRM.reg: a register or an opcode extension (/digit)
  bool has_modrm = true;
  uint64_t imm = 0;
  int imm_len = 0;
  bool lock = false;      // F0h
};

class Encoder {
 public:
  Encoder(std::vector<uint8_t>& out, uint64_t base) : out_(out), base_(base) {}

  // false: not encodable (AH..BH together with a REX prefix); nothing is emitted then.
  bool emit(const EncodeSpec& s, const Rm& rm) {
    bool rex_needed = s.rexw || s.force_rex, rex_forbidden = false;
    uint8_t rex = 0x40 | (s.rexw ? 8 : 0);
    auto note_reg = [&](int r, uint8_t bit) {
      if (r >= kAH) { rex_forbidden = true; return; }
      if (r >= 8) { rex |= bit; rex_needed = true; }
      if (s.byte_regs && r >= 4 && r < 8) rex_needed = true;
    };
    if (s.has_modrm) {
      note_reg(s.regfield, 4);
      if (!rm.mem) note_reg(rm.reg, 1);
      else {
        if (rm.m.base >= 8) { rex |= 1; rex_needed = true; }
        if (rm.m.index >= 8) { rex |= 2; rex_needed = true; }
      }
    }
    if (rex_needed && rex_forbidden) return false;
    if (s.lock) out_.push_back(0xF0);
    if (s.p66) out_.push_back(0x66);
    if (rm.mem && rm.m.addr32) out_.push_back(0x67);
    if (s.rep) out_.push_back(s.rep);
    if (rex_needed) out_.push_back(rex);
    out_.insert(out_.end(), s.opcode.begin(), s.opcode.end());
    size_t rip_patch = 0;
    if (s.has_modrm) {
      const uint8_t reg = uint8_t((s.regfield >= kAH ? s.regfield - kAH + 4 : s.regfield) & 7);
      if (!rm.mem) {
        const int r = rm.reg >= kAH ? rm.reg - kAH + 4 : rm.reg;
        out_.push_back(uint8_t(0xC0 | reg << 3 | (r & 7)));
      } else {
        const MemOp& m = rm.m;
        switch (m.kind) {
          case MemOp::kAbs:  // mod 00, rm 100, SIB no base / no index + disp32 (§2.1.5 Table 2-3 note)
            out_.push_back(uint8_t(0x04 | reg << 3));
            out_.push_back(0x25);
            put32(uint32_t(m.target));
            break;
          case MemOp::kRip:  // mod 00, rm 101: RIP + disp32 (§2.2.1.6)
            out_.push_back(uint8_t(0x05 | reg << 3));
            rip_patch = out_.size();
            put32(0);
            break;
          case MemOp::kBase:
          case MemOp::kBaseIndex: {
            const bool d8 = m.disp >= -128 && m.disp <= 127;
            const uint8_t mod = d8 ? 0x40 : 0x80;  // always a displacement: RBP/R13 need one anyway
            const bool sib = m.kind == MemOp::kBaseIndex || (m.base & 7) == 4;
            out_.push_back(uint8_t(mod | reg << 3 | (sib ? 4 : (m.base & 7))));
            if (sib) {
              const uint8_t ss = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;
              const uint8_t idx = m.kind == MemOp::kBaseIndex ? uint8_t(m.index & 7) : 4;
              out_.push_back(uint8_t(ss << 6 | idx << 3 | (m.base & 7)));
            }
            if (d8) out_.push_back(uint8_t(int8_t(m.disp)));
            else put32(uint32_t(m.disp));
            break;
          }
        }
      }
    }
    for (int i = 0; i < s.imm_len; ++i) out_.push_back(uint8_t(s.imm >> (8 * i)));
    if (rip_patch) {
      const int64_t rel = int64_t(rm.m.target) - int64_t(base_ + out_.size());
      for (int i = 0; i < 4; ++i) out_[rip_patch + i] = uint8_t(uint64_t(rel) >> (8 * i));
    }
    return true;
  }

 private:
  void put32(uint32_t v) { for (int i = 0; i < 4; ++i) out_.push_back(uint8_t(v >> (8 * i))); }
  std::vector<uint8_t>& out_;
  uint64_t base_;
};

}  // namespace redoubt::difftest
