// The SSE/SSE2 opcode table and the random case generator (sse_cases.hpp).
#include "tests/platform/sim/cpu/sse_cases.hpp"

#include <cstring>
#include <iterator>

namespace redoubt::test::sse {

namespace {

enum Kind : uint8_t {
  kXX,     // xmm, xmm/m (either direction)
  kXMem,   // memory form only
  kXReg,   // register form only
  kXXI,    // xmm, xmm/m, imm8
  kShift,  // 66 0F 71/72/73 /ext xmm, imm8
  kRmGpr,  // ModRM.rm is a GPR or memory (MOVD/MOVQ, CVTSI2Sx, PINSRW)
  kRegGpr, // ModRM.reg is a GPR, rm xmm or memory (CVT*2SI, MOVMSK*, PEXTRW, MOVNTI)
  kMxcsr,  // LDMXCSR / STMXCSR m32
};

struct Form {
  const char* name;
  uint8_t pfx;      // 0, 66, F2, F3
  uint8_t op;       // byte after 0F
  Kind kind;
  uint8_t msz;      // memory operand bytes (0: register only); for GPR forms with REX.W: 8
  bool aligned;     // 16-byte aligned memory required
  bool fp;          // floating-point operands
  uint8_t ext = 0;  // ModRM.reg for kShift/kMxcsr
  bool imm = false; // imm8 follows (kRmGpr / kRegGpr)
  bool w_size = false;  // memory size follows REX.W (4 or 8)
  bool mem_only = false;
  bool reg_only = false;
};

constexpr uint8_t N = 0, P66 = 0x66, F2 = 0xF2, F3 = 0xF3;

const Form kForms[] = {
    {"movups", N, 0x10, kXX, 16, false, true}, {"movups_st", N, 0x11, kXX, 16, false, true},
    {"movupd", P66, 0x10, kXX, 16, false, true}, {"movupd_st", P66, 0x11, kXX, 16, false, true},
    {"movss", F3, 0x10, kXX, 4, false, true}, {"movss_st", F3, 0x11, kXX, 4, false, true},
    {"movsd", F2, 0x10, kXX, 8, false, true}, {"movsd_st", F2, 0x11, kXX, 8, false, true},
    {"movlps/movhlps", N, 0x12, kXX, 8, false, true}, {"movlps_st", N, 0x13, kXMem, 8, false, true},
    {"movlpd", P66, 0x12, kXMem, 8, false, true}, {"movlpd_st", P66, 0x13, kXMem, 8, false, true},
    {"unpcklps", N, 0x14, kXX, 16, true, true}, {"unpcklpd", P66, 0x14, kXX, 16, true, true},
    {"unpckhps", N, 0x15, kXX, 16, true, true}, {"unpckhpd", P66, 0x15, kXX, 16, true, true},
    {"movhps/movlhps", N, 0x16, kXX, 8, false, true}, {"movhps_st", N, 0x17, kXMem, 8, false, true},
    {"movhpd", P66, 0x16, kXMem, 8, false, true}, {"movhpd_st", P66, 0x17, kXMem, 8, false, true},
    {"movaps", N, 0x28, kXX, 16, true, true}, {"movaps_st", N, 0x29, kXX, 16, true, true},
    {"movapd", P66, 0x28, kXX, 16, true, true}, {"movapd_st", P66, 0x29, kXX, 16, true, true},
    {"cvtsi2ss", F3, 0x2A, kRmGpr, 4, false, true, 0, false, true},
    {"cvtsi2sd", F2, 0x2A, kRmGpr, 4, false, true, 0, false, true},
    {"movntps", N, 0x2B, kXMem, 16, true, true}, {"movntpd", P66, 0x2B, kXMem, 16, true, true},
    {"cvttss2si", F3, 0x2C, kRegGpr, 4, false, true}, {"cvttsd2si", F2, 0x2C, kRegGpr, 8, false, true},
    {"cvtss2si", F3, 0x2D, kRegGpr, 4, false, true}, {"cvtsd2si", F2, 0x2D, kRegGpr, 8, false, true},
    {"ucomiss", N, 0x2E, kXX, 4, false, true}, {"ucomisd", P66, 0x2E, kXX, 8, false, true},
    {"comiss", N, 0x2F, kXX, 4, false, true}, {"comisd", P66, 0x2F, kXX, 8, false, true},
    {"movmskps", N, 0x50, kRegGpr, 0, false, true}, {"movmskpd", P66, 0x50, kRegGpr, 0, false, true},
    {"sqrtps", N, 0x51, kXX, 16, true, true}, {"sqrtpd", P66, 0x51, kXX, 16, true, true},
    {"sqrtss", F3, 0x51, kXX, 4, false, true}, {"sqrtsd", F2, 0x51, kXX, 8, false, true},
    {"rsqrtps", N, 0x52, kXX, 16, true, true}, {"rsqrtss", F3, 0x52, kXX, 4, false, true},
    {"rcpps", N, 0x53, kXX, 16, true, true}, {"rcpss", F3, 0x53, kXX, 4, false, true},
    {"andps", N, 0x54, kXX, 16, true, true}, {"andpd", P66, 0x54, kXX, 16, true, true},
    {"andnps", N, 0x55, kXX, 16, true, true}, {"andnpd", P66, 0x55, kXX, 16, true, true},
    {"orps", N, 0x56, kXX, 16, true, true}, {"orpd", P66, 0x56, kXX, 16, true, true},
    {"xorps", N, 0x57, kXX, 16, true, true}, {"xorpd", P66, 0x57, kXX, 16, true, true},
    {"addps", N, 0x58, kXX, 16, true, true}, {"addpd", P66, 0x58, kXX, 16, true, true},
    {"addss", F3, 0x58, kXX, 4, false, true}, {"addsd", F2, 0x58, kXX, 8, false, true},
    {"mulps", N, 0x59, kXX, 16, true, true}, {"mulpd", P66, 0x59, kXX, 16, true, true},
    {"mulss", F3, 0x59, kXX, 4, false, true}, {"mulsd", F2, 0x59, kXX, 8, false, true},
    {"cvtps2pd", N, 0x5A, kXX, 8, false, true}, {"cvtpd2ps", P66, 0x5A, kXX, 16, true, true},
    {"cvtss2sd", F3, 0x5A, kXX, 4, false, true}, {"cvtsd2ss", F2, 0x5A, kXX, 8, false, true},
    {"cvtdq2ps", N, 0x5B, kXX, 16, true, true}, {"cvtps2dq", P66, 0x5B, kXX, 16, true, true},
    {"cvttps2dq", F3, 0x5B, kXX, 16, true, true},
    {"subps", N, 0x5C, kXX, 16, true, true}, {"subpd", P66, 0x5C, kXX, 16, true, true},
    {"subss", F3, 0x5C, kXX, 4, false, true}, {"subsd", F2, 0x5C, kXX, 8, false, true},
    {"minps", N, 0x5D, kXX, 16, true, true}, {"minpd", P66, 0x5D, kXX, 16, true, true},
    {"minss", F3, 0x5D, kXX, 4, false, true}, {"minsd", F2, 0x5D, kXX, 8, false, true},
    {"divps", N, 0x5E, kXX, 16, true, true}, {"divpd", P66, 0x5E, kXX, 16, true, true},
    {"divss", F3, 0x5E, kXX, 4, false, true}, {"divsd", F2, 0x5E, kXX, 8, false, true},
    {"maxps", N, 0x5F, kXX, 16, true, true}, {"maxpd", P66, 0x5F, kXX, 16, true, true},
    {"maxss", F3, 0x5F, kXX, 4, false, true}, {"maxsd", F2, 0x5F, kXX, 8, false, true},
    {"punpcklbw", P66, 0x60, kXX, 16, true, false}, {"punpcklwd", P66, 0x61, kXX, 16, true, false},
    {"punpckldq", P66, 0x62, kXX, 16, true, false}, {"packsswb", P66, 0x63, kXX, 16, true, false},
    {"pcmpgtb", P66, 0x64, kXX, 16, true, false}, {"pcmpgtw", P66, 0x65, kXX, 16, true, false},
    {"pcmpgtd", P66, 0x66, kXX, 16, true, false}, {"packuswb", P66, 0x67, kXX, 16, true, false},
    {"punpckhbw", P66, 0x68, kXX, 16, true, false}, {"punpckhwd", P66, 0x69, kXX, 16, true, false},
    {"punpckhdq", P66, 0x6A, kXX, 16, true, false}, {"packssdw", P66, 0x6B, kXX, 16, true, false},
    {"punpcklqdq", P66, 0x6C, kXX, 16, true, false}, {"punpckhqdq", P66, 0x6D, kXX, 16, true, false},
    {"movd/movq_load", P66, 0x6E, kRmGpr, 4, false, false, 0, false, true},
    {"movdqa", P66, 0x6F, kXX, 16, true, false}, {"movdqu", F3, 0x6F, kXX, 16, false, false},
    {"pshufd", P66, 0x70, kXXI, 16, true, false}, {"pshufhw", F3, 0x70, kXXI, 16, true, false},
    {"pshuflw", F2, 0x70, kXXI, 16, true, false},
    {"psrlw_imm", P66, 0x71, kShift, 0, false, false, 2}, {"psraw_imm", P66, 0x71, kShift, 0, false, false, 4},
    {"psllw_imm", P66, 0x71, kShift, 0, false, false, 6}, {"psrld_imm", P66, 0x72, kShift, 0, false, false, 2},
    {"psrad_imm", P66, 0x72, kShift, 0, false, false, 4}, {"pslld_imm", P66, 0x72, kShift, 0, false, false, 6},
    {"psrlq_imm", P66, 0x73, kShift, 0, false, false, 2}, {"psrldq", P66, 0x73, kShift, 0, false, false, 3},
    {"psllq_imm", P66, 0x73, kShift, 0, false, false, 6}, {"pslldq", P66, 0x73, kShift, 0, false, false, 7},
    {"pcmpeqb", P66, 0x74, kXX, 16, true, false}, {"pcmpeqw", P66, 0x75, kXX, 16, true, false},
    {"pcmpeqd", P66, 0x76, kXX, 16, true, false},
    {"movd/movq_store", P66, 0x7E, kRmGpr, 4, false, false, 0, false, true},
    {"movq_load", F3, 0x7E, kXX, 8, false, false},
    {"movdqa_st", P66, 0x7F, kXX, 16, true, false}, {"movdqu_st", F3, 0x7F, kXX, 16, false, false},
    {"ldmxcsr", N, 0xAE, kMxcsr, 4, false, false, 2}, {"stmxcsr", N, 0xAE, kMxcsr, 4, false, false, 3},
    {"cmpps", N, 0xC2, kXXI, 16, true, true}, {"cmppd", P66, 0xC2, kXXI, 16, true, true},
    {"cmpss", F3, 0xC2, kXXI, 4, false, true}, {"cmpsd", F2, 0xC2, kXXI, 8, false, true},
    {"movnti", N, 0xC3, kRegGpr, 4, false, false, 0, false, true, true},
    {"pinsrw", P66, 0xC4, kRmGpr, 2, false, false, 0, true},
    {"pextrw", P66, 0xC5, kRegGpr, 0, false, false, 0, true},
    {"shufps", N, 0xC6, kXXI, 16, true, true}, {"shufpd", P66, 0xC6, kXXI, 16, true, true},
    {"psrlw", P66, 0xD1, kXX, 16, true, false}, {"psrld", P66, 0xD2, kXX, 16, true, false},
    {"psrlq", P66, 0xD3, kXX, 16, true, false}, {"paddq", P66, 0xD4, kXX, 16, true, false},
    {"pmullw", P66, 0xD5, kXX, 16, true, false}, {"movq_store", P66, 0xD6, kXX, 8, false, false},
    {"pmovmskb", P66, 0xD7, kRegGpr, 0, false, false}, {"psubusb", P66, 0xD8, kXX, 16, true, false},
    {"psubusw", P66, 0xD9, kXX, 16, true, false}, {"pminub", P66, 0xDA, kXX, 16, true, false},
    {"pand", P66, 0xDB, kXX, 16, true, false}, {"paddusb", P66, 0xDC, kXX, 16, true, false},
    {"paddusw", P66, 0xDD, kXX, 16, true, false}, {"pmaxub", P66, 0xDE, kXX, 16, true, false},
    {"pandn", P66, 0xDF, kXX, 16, true, false}, {"pavgb", P66, 0xE0, kXX, 16, true, false},
    {"psraw", P66, 0xE1, kXX, 16, true, false}, {"psrad", P66, 0xE2, kXX, 16, true, false},
    {"pavgw", P66, 0xE3, kXX, 16, true, false}, {"pmulhuw", P66, 0xE4, kXX, 16, true, false},
    {"pmulhw", P66, 0xE5, kXX, 16, true, false}, {"cvttpd2dq", P66, 0xE6, kXX, 16, true, true},
    {"cvtdq2pd", F3, 0xE6, kXX, 8, false, false}, {"cvtpd2dq", F2, 0xE6, kXX, 16, true, true},
    {"movntdq", P66, 0xE7, kXMem, 16, true, false}, {"psubsb", P66, 0xE8, kXX, 16, true, false},
    {"psubsw", P66, 0xE9, kXX, 16, true, false}, {"pminsw", P66, 0xEA, kXX, 16, true, false},
    {"por", P66, 0xEB, kXX, 16, true, false}, {"paddsb", P66, 0xEC, kXX, 16, true, false},
    {"paddsw", P66, 0xED, kXX, 16, true, false}, {"pmaxsw", P66, 0xEE, kXX, 16, true, false},
    {"pxor", P66, 0xEF, kXX, 16, true, false}, {"psllw", P66, 0xF1, kXX, 16, true, false},
    {"pslld", P66, 0xF2, kXX, 16, true, false}, {"psllq", P66, 0xF3, kXX, 16, true, false},
    {"pmuludq", P66, 0xF4, kXX, 16, true, false}, {"pmaddwd", P66, 0xF5, kXX, 16, true, false},
    {"psadbw", P66, 0xF6, kXX, 16, true, false}, {"maskmovdqu", P66, 0xF7, kXReg, 0, false, false},
    {"psubb", P66, 0xF8, kXX, 16, true, false}, {"psubw", P66, 0xF9, kXX, 16, true, false},
    {"psubd", P66, 0xFA, kXX, 16, true, false}, {"psubq", P66, 0xFB, kXX, 16, true, false},
    {"paddb", P66, 0xFC, kXX, 16, true, false}, {"paddw", P66, 0xFD, kXX, 16, true, false},
    {"paddd", P66, 0xFE, kXX, 16, true, false},
};

// Floating-point bit patterns rich in the cases that matter for IEEE 754 and x86 conversions.
uint32_t f32(std::mt19937_64& r) {
  const uint32_t sign = uint32_t(r() & 1) << 31;
  const uint32_t man = uint32_t(r()) & 0x7FFFFF;
  switch (r() % 14) {
    case 0: return sign;                                          // ±0
    case 1: return sign | 0x7F800000;                             // ±inf
    case 2: return sign | 0x7FC00000 | (man & 0x3FFFFF);          // QNaN
    case 3: return sign | 0x7F800000 | ((man & 0x3FFFFF) | 1);    // SNaN
    case 4: return sign | man;                                    // denormal
    case 5: return sign | 0x00800000 | (man & 0xFF);              // near the smallest normal
    case 6: return sign | (0x7F7FFFFF - (man & 0xFF));              // near the largest normal
    case 7: return sign | (uint32_t(0x9D + r() % 6) << 23) | man;  // near 2^31..2^63 (conversion edges)
    case 8: return sign | (uint32_t(127 + r() % 24) << 23) | (man & ~0xFFu);  // integers, halves
    case 9: return sign | (uint32_t(1 + r() % 40) << 23) | man;  // tiny normals (underflow)
    case 10: return sign | (uint32_t(200 + r() % 54) << 23) | man;  // huge (overflow)
    default: return sign | (uint32_t(100 + r() % 56) << 23) | man;  // ordinary
  }
}
uint64_t f64(std::mt19937_64& r) {
  const uint64_t sign = (r() & 1) << 63;
  const uint64_t man = r() & 0xFFFFFFFFFFFFFull;
  switch (r() % 14) {
    case 0: return sign;
    case 1: return sign | 0x7FF0000000000000ull;
    case 2: return sign | 0x7FF8000000000000ull | (man & 0x7FFFFFFFFFFFFull);
    case 3: return sign | 0x7FF0000000000000ull | ((man & 0x7FFFFFFFFFFFFull) | 1);
    case 4: return sign | man;
    case 5: return sign | 0x0010000000000000ull | (man & 0xFF);
    case 6: return sign | (0x7FEFFFFFFFFFFFFFull - (man & 0xFF));
    case 7: return sign | (uint64_t(0x41D + r() % 0x24) << 52) | man;   // near 2^31..2^66
    case 8: return sign | (uint64_t(1023 + r() % 53) << 52) | (man & ~0xFFFFull);
    case 9: return sign | (uint64_t(0x36A + r() % 40) << 52) | man;    // float-denormal range (cvtsd2ss)
    case 10: return sign | (uint64_t(0x47F + r() % 8) << 52) | man;    // float-overflow range (cvtsd2ss)
    case 11: return sign | (uint64_t(1 + r() % 60) << 52) | man;       // tiny doubles
    default: return sign | (uint64_t(900 + r() % 250) << 52) | man;
  }
}
uint64_t qword(std::mt19937_64& r, bool fp) {
  if (!fp || r() % 8 == 0) {
    switch (r() % 4) {
      case 0: return r();
      case 1: return r() % 5 == 0 ? 0 : ~0ull;
      case 2: return r() & 0x8080808080808080ull;
      default: return r() & 0x00FF00FF7FFF8000ull;
    }
  }
  if (r() & 1) return f64(r);
  return uint64_t(f32(r)) | (uint64_t(f32(r)) << 32);
}
uint64_t gpr_value(std::mt19937_64& r) {
  switch (r() % 6) {
    case 0: return r();
    case 1: return r() & 0xFFFFFFFF;
    case 2: return uint64_t(int64_t(int32_t(r())) >> (r() % 32));
    case 3: return 1ull << (r() % 64);
    case 4: return (1ull << 63) - (r() % 3);
    default: return r() % 1000;
  }
}
uint32_t mxcsr_value(std::mt19937_64& r) {
  uint32_t m = uint32_t(r() % 4) << 13;      // rounding control
  if (r() & 1) m |= 1u << 6;                  // DAZ
  if (r() & 1) m |= 1u << 15;                 // FTZ
  m |= r() % 5 ? 0x3Fu << 7 : uint32_t(r() & 0x3F) << 7;  // masks: mostly all masked
  if (r() % 3 == 0) m |= uint32_t(r() & 0x3F);            // sticky flags already set
  return m;
}

int gpr_not_rsp(std::mt19937_64& r) {
  int g;
  do g = int(r() % 16); while (g == 4);
  return g;
}

}  // namespace

unsigned opcode_forms() { return unsigned(std::size(kForms)); }
const char* opcode_form_name(unsigned i) { return kForms[i].name; }

Case make_case(std::mt19937_64& r, unsigned form) {
  const Form& f = kForms[form];
  Case c;
  c.name = f.name;
  c.data.resize(kDataSize);
  for (size_t i = 0; i < kDataSize; i += 8) {
    const uint64_t q = qword(r, f.fp);
    std::memcpy(&c.data[i], &q, 8);
  }
  for (auto& x : c.regs.xmm) x = sim::cpu::Xmm{{qword(r, f.fp), qword(r, f.fp)}};
  for (auto& g : c.regs.gpr) g = gpr_value(r);
  c.regs.gpr[4] = 0;
  c.regs.rflags = 2 | (r() & 0x8D5);
  c.regs.mxcsr = mxcsr_value(r);

  const bool w = f.kind == kRmGpr || f.kind == kRegGpr ? (r() & 1) : (r() % 4 == 0);
  bool mem;
  if (f.kind == kXMem || f.kind == kMxcsr || f.mem_only) mem = true;
  else if (f.kind == kXReg || f.kind == kShift || f.msz == 0 || f.reg_only) mem = false;
  else mem = r() & 1;

  // ModRM fields: reg (0-15) and rm (register 0-15, or a base register for memory).
  const bool reg_is_gpr = f.kind == kRegGpr;
  const bool rm_is_gpr = f.kind == kRmGpr && !mem;
  unsigned reg = reg_is_gpr ? unsigned(gpr_not_rsp(r)) : unsigned(r() % 16);
  if (f.kind == kShift || f.kind == kMxcsr) reg = f.ext;
  // Memory operand addressing: [base+disp8], [base+index*scale+disp32] (SIB), [rip+disp32];
  // sometimes with 67h (32-bit effective address: the registers' high halves must not matter).
  enum { kBaseDisp8, kSib, kRipRel } mode = kBaseDisp8;
  const bool a32 = mem && r() % 6 == 0;
  unsigned rm = 0, index = 4, scale = 0;
  int32_t disp = 0;
  uint64_t a = 0;
  if (mem) {
    a = kData + 0x800 + 16 * (int64_t(r() % 96) - 48);
    if (!f.aligned) a += r() % 3 == 0 ? r() % 16 : 0;
    mode = r() % 4 == 0 ? kSib : r() % 5 == 0 ? kRipRel : kBaseDisp8;
    if (mode == kRipRel && a32) mode = kBaseDisp8;
    const uint64_t junk = a32 ? (r() << 32) : 0;
    if (mode == kBaseDisp8) {
      do rm = unsigned(r() % 16); while ((rm & 7) == 4);  // no SIB: base is not RSP/R12
      disp = int8_t(r());
      c.regs.gpr[rm] = (a - int64_t(disp)) + junk;
    } else if (mode == kSib) {
      do rm = unsigned(r() % 16); while (rm == 4);                   // base (R12 allowed via SIB)
      do index = unsigned(r() % 16); while (index == 4 || index == rm);  // RSP cannot be an index
      scale = unsigned(r() % 4);
      disp = int32_t(int64_t(r() % 4096) - 2048);
      const uint64_t iv = r() % 64;
      c.regs.gpr[index] = iv + (a32 ? (r() << 32) : 0);
      c.regs.gpr[rm] = (a - int64_t(disp) - (iv << scale)) + junk;
    }
    if (f.kind == kMxcsr && f.ext == 2) {  // LDMXCSR: a valid value at the operand
      const uint32_t v = mxcsr_value(r) | uint32_t(r() & 0x3F);
      std::memcpy(&c.data[a - kData], &v, 4);
    }
  } else {
    rm = rm_is_gpr ? unsigned(gpr_not_rsp(r)) : unsigned(r() % 16);
  }
  if (f.kind == kXReg && std::strcmp(f.name, "maskmovdqu") == 0) {
    c.regs.gpr[7] = kData + 0x400 + r() % 0x800;  // RDI: the implicit destination
  }
  // Encoding: [67] [prefix] [REX] 0F op ModRM [SIB] [disp] [imm8]
  if (a32) c.insn.push_back(0x67);
  if (f.pfx) c.insn.push_back(f.pfx);
  const unsigned x = mode == kSib ? index >> 3 : 0;
  const unsigned b = mode == kRipRel ? 0 : rm >> 3;
  const uint8_t rex = uint8_t(0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (x << 1) | b);
  if (rex != 0x40 || r() % 4 == 0) c.insn.push_back(rex);
  c.insn.push_back(0x0F);
  c.insn.push_back(f.op);
  size_t disp_at = 0;
  if (!mem) {
    c.insn.push_back(uint8_t(0xC0 | ((reg & 7) << 3) | (rm & 7)));
  } else if (mode == kBaseDisp8) {
    c.insn.push_back(uint8_t(0x40 | ((reg & 7) << 3) | (rm & 7)));
    c.insn.push_back(uint8_t(disp));
  } else {
    c.insn.push_back(uint8_t((mode == kSib ? 0x80 : 0x00) | ((reg & 7) << 3) | (mode == kSib ? 4 : 5)));
    if (mode == kSib) c.insn.push_back(uint8_t((scale << 6) | ((index & 7) << 3) | (rm & 7)));
    disp_at = c.insn.size();
    for (int i = 0; i < 4; ++i) c.insn.push_back(uint8_t(uint32_t(disp) >> (8 * i)));
  }
  if (f.kind == kXXI || f.kind == kShift || f.imm) {
    uint8_t imm = uint8_t(r());
    if (f.kind == kShift && r() % 2) imm = uint8_t(r() % 70);
    c.insn.push_back(imm);
  }
  if (mem && mode == kRipRel) {  // disp32 relative to the next instruction
    const int32_t d = int32_t(int64_t(a) - int64_t(kCode + c.insn.size()));
    for (int i = 0; i < 4; ++i) c.insn[disp_at + i] = uint8_t(uint32_t(d) >> (8 * i));
  }
  return c;
}

}  // namespace redoubt::test::sse
