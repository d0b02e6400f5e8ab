// Segment descriptors and the packed attribute word of a segment register's
// hidden cache (AMD APM vol. 2 §4.7-§4.8, the VMCB segment "attrib" format of
// Appendix B: descriptor bits 47:40 in attrib[7:0], bits 55:52 in attrib[11:8]).
#pragma once
#include <cstdint>

namespace redoubt::x86 {

// attrib[3:0]: type. For code/data (S=1), bit 3 says code, and bits 2:0 are
// C/R/A (code: conforming, readable, accessed) or E/W/A (data: expand-down, writable, accessed).
inline constexpr uint16_t kSegTypeMask = 0xF;
inline constexpr uint16_t kSegAccessed = 1u << 0;
inline constexpr uint16_t kSegReadable = 1u << 1;    // code segments
inline constexpr uint16_t kSegWritable = 1u << 1;    // data segments
inline constexpr uint16_t kSegConforming = 1u << 2;  // code segments
inline constexpr uint16_t kSegExpandDown = 1u << 2;  // data segments
inline constexpr uint16_t kSegCode = 1u << 3;
inline constexpr uint16_t kSegS = 1u << 4;           // 1: code/data, 0: system (TSS, LDT, gates)
inline constexpr unsigned kSegDplShift = 5;
inline constexpr uint16_t kSegDplMask = 3u << kSegDplShift;
inline constexpr uint16_t kSegPresent = 1u << 7;
inline constexpr uint16_t kSegAvl = 1u << 8;
inline constexpr uint16_t kSegL = 1u << 9;           // 64-bit code segment (long mode only, §4.8.1)
inline constexpr uint16_t kSegDb = 1u << 10;         // D (code: 32-bit default) / B (stack: 32-bit ESP)
inline constexpr uint16_t kSegG = 1u << 11;          // limit in 4 KiB units

inline constexpr unsigned seg_dpl(uint16_t attrib) { return (attrib & kSegDplMask) >> kSegDplShift; }

// Selector fields (APM vol. 2 §4.5.1).
inline constexpr uint16_t kSelRplMask = 3;
inline constexpr uint16_t kSelTi = 1u << 2;          // 1: LDT
inline constexpr uint16_t kSelIndexMask = 0xFFF8;

// Segment register numbers in instruction encoding order (ModRM.reg of MOV Sreg).
enum SegReg : uint8_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5 };

// A raw 8-byte code/data descriptor's fields (APM vol. 2 Figure 4-14/4-15).
inline constexpr uint16_t desc_attrib(uint64_t d) { return uint16_t(((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 8)); }
inline constexpr uint32_t desc_base(uint64_t d) { return uint32_t(((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)); }
inline constexpr uint32_t desc_limit(uint64_t d) {
  const uint32_t raw = uint32_t((d & 0xFFFF) | (((d >> 48) & 0xF) << 16));
  return (d >> 55) & 1 ? (raw << 12) | 0xFFF : raw;  // G: 4 KiB granularity
}
inline constexpr uint64_t kDescAccessedBit = 1ull << 40;

// The flat 4 GiB 64-bit code descriptor 0x00AF9A000000FFFF (L=1, D=0, G=1, P, DPL 0, execute/read).
static_assert(desc_attrib(0x00AF9A000000FFFFull) == (0xA | kSegS | kSegPresent | kSegL | kSegG));
static_assert(desc_limit(0x00AF9A000000FFFFull) == 0xFFFFFFFFu);
static_assert(desc_base(0xFF0000FF12340000ull) == 0xFFFF1234u);

}  // namespace redoubt::x86
