// Exit qualification and VM-exit instruction information for exits 46 and 47
// (Intel SDM vol. 3C §28.2.1, §28.2.5 Tables 28-10 and 28-11).
#include "platform/sim/vmx/insn_info.hpp"

namespace redoubt::sim::vmx {

namespace {

// Bit positions shared by Tables 28-10 and 28-11.
constexpr unsigned kScaleShift = 0, kReg1Shift = 3, kAddrSizeShift = 7, kMemRegBit = 10, kOpSizeBit = 11;
constexpr unsigned kSegShift = 15, kIndexShift = 18, kIndexInvalidBit = 22, kBaseShift = 23, kBaseInvalidBit = 27;
constexpr unsigned kIdentityShift = 28;
enum Seg : uint32_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5 };

int64_t sext(uint64_t v, unsigned bytes) {
  const unsigned sh = 64 - 8 * bytes;
  return int64_t(v << sh) >> sh;
}

}  // namespace

bool decode_dt_exit(const uint8_t* b, size_t n, unsigned default_bits, bool gdtr_idtr, DtInsn id, DtExitInfo& out) {
  size_t i = 0;
  bool opsize = false, addrsize = false;
  int seg_override = -1;
  uint8_t rex = 0;
  // Legacy prefixes (Intel SDM vol. 2A §2.1.1), then REX in 64-bit mode (§2.2.1, it must come last).
  for (; i < n && i < 15; ++i) {
    const uint8_t p = b[i];
    if (p == 0x66) opsize = true;
    else if (p == 0x67) addrsize = true;
    else if (p == 0x26) seg_override = kEs;
    else if (p == 0x2E) seg_override = kCs;
    else if (p == 0x36) seg_override = kSs;
    else if (p == 0x3E) seg_override = kDs;
    else if (p == 0x64) seg_override = kFs;
    else if (p == 0x65) seg_override = kGs;
    else if (p == 0xF0 || p == 0xF2 || p == 0xF3) continue;
    else break;
  }
  if (default_bits == 64 && i < n && (b[i] & 0xF0) == 0x40) rex = b[i++];
  if (i + 3 > n || b[i] != 0x0F || (b[i + 1] != 0x01 && b[i + 1] != 0x00)) return false;
  if ((b[i + 1] == 0x01) != gdtr_idtr) return false;
  const uint8_t modrm = b[i + 2];
  i += 3;
  const unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
  if (reg > 3) return false;
  const unsigned asz = default_bits == 64 ? (addrsize ? 32 : 64) : ((default_bits == 16) != addrsize ? 16 : 32);
  const bool osz16 = default_bits == 16 ? !opsize : opsize;
  uint32_t info = uint32_t(id) << kIdentityShift;
  info |= (asz == 16 ? 0u : asz == 32 ? 1u : 2u) << kAddrSizeShift;
  if (gdtr_idtr) info |= (osz16 ? 0u : 1u) << kOpSizeBit;  // Table 28-10 bit 11 (undefined in 64-bit mode)
  if (mod == 3) {
    // Register operand (SLDT/STR/LLDT/LTR r16/r32/r64 only; 0F 01 mod 3 are other instructions).
    if (gdtr_idtr) return false;
    const unsigned r = rm | ((rex & 1) << 3);
    out.info = info | (1u << kMemRegBit) | (r << kReg1Shift) | (1u << kIndexInvalidBit) | (1u << kBaseInvalidBit);
    out.qual = 0;  // no displacement: 0 (§28.2.1)
    return true;
  }
  int base = -1, index = -1;
  unsigned scale = 0, disp_bytes = 0;
  bool ss_default = false;
  if (asz == 16) {
    // 16-bit ModR/M (vol. 2A Table 2-1): BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP / disp16, BX.
    static constexpr int kBase16[8] = {3, 3, 5, 5, -1, -1, 5, 3}, kIndex16[8] = {6, 7, 6, 7, 6, 7, -1, -1};
    base = kBase16[rm];
    index = kIndex16[rm];
    if (mod == 0 && rm == 6) base = -1;
    ss_default = base == 5;
    disp_bytes = mod == 1 ? 1 : (mod == 2 || (mod == 0 && rm == 6)) ? 2 : 0;
  } else {
    // 32/64-bit ModR/M and SIB (vol. 2A Tables 2-2, 2-3; REX.B/X extend base and index).
    if (rm == 4) {
      if (i >= n) return false;
      const uint8_t sib = b[i++];
      scale = sib >> 6;
      const unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2), bs = sib & 7;
      if (idx != 4) index = int(idx);  // index 100b without REX.X: none
      if (bs == 5 && mod == 0) {
        base = -1;
        disp_bytes = 4;
      } else {
        base = int(bs | ((rex & 1) << 3));
      }
    } else if (rm == 5 && mod == 0) {
      base = -1;  // disp32 (64-bit mode: RIP-relative; no base register either way)
      disp_bytes = 4;
    } else {
      base = int(rm | ((rex & 1) << 3));
    }
    if (mod == 1) disp_bytes = 1;
    if (mod == 2) disp_bytes = 4;
    ss_default = base == 4 || base == 5;  // RSP/RBP-based: SS (vol. 1 §3.7.4)
  }
  if (i + disp_bytes > n) return false;
  uint64_t disp = 0;
  for (unsigned k = disp_bytes; k-- > 0;) disp = (disp << 8) | b[i + k];
  const uint32_t segment = seg_override >= 0 ? uint32_t(seg_override) : ss_default ? uint32_t(kSs) : uint32_t(kDs);
  info |= scale << kScaleShift;  // undefined without an index register; the encoded value
  info |= segment << kSegShift;
  info |= index >= 0 ? uint32_t(index) << kIndexShift : 1u << kIndexInvalidBit;
  info |= base >= 0 ? uint32_t(base) << kBaseShift : 1u << kBaseInvalidBit;
  out.info = info;
  out.qual = disp_bytes ? uint64_t(sext(disp, disp_bytes)) : 0;
  return true;
}

}  // namespace redoubt::sim::vmx
