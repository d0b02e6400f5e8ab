// The AMD Device Exclusion Vector (AMD APM vol. 2 §15.24 "Device Exclusion
// Vector (DEV)"): a bit per 4 KiB page of physical memory; a set bit blocks
// device (DMA) accesses to that page. Its registers sit behind a capability
// block in the host bridge's PCI configuration space and are reached
// indirectly: write (function << 8 | index) to DEV_OP, then read/write
// DEV_DATA ("DEV capability block", "DEV register access").
// On families 0Fh/10h the block lives in the northbridge's miscellaneous control
// function, bus 0 device 18h function 3, at 0xF0 (AMD BKDG 0Fh/10h, F3xF0-F8).
// Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::amd_dev {

// Where family 0Fh/10h put it (the simulated host bridge does the same).
inline constexpr uint8_t kBus = 0;
inline constexpr uint8_t kDevice = 0x18;
inline constexpr uint8_t kFunction = 3;
inline constexpr uint16_t kDeviceIdFamily10h = 0x1203;  // F3 "Miscellaneous Control"
inline constexpr uint8_t kCapOffset = 0xF0;

// DEV capability block (offsets from the capability pointer).
inline constexpr uint8_t kCapId = 0x0F;       // "Secure Device" capability
inline constexpr uint8_t kCapTypeDev = 0x0;   // header bits 18:16: 000b = DEV
inline constexpr uint8_t kCapHeader = 0x0;    // id[7:0] next[15:8] type[18:16]
inline constexpr uint8_t kDevOp = 0x4;        // function[15:8] index[7:0]
inline constexpr uint8_t kDevData = 0x8;
inline constexpr uint32_t kOpFunctionShift = 8;

// DEV_OP functions (§15.24).
enum Function : uint8_t {
  kDevBaseLo = 0,   // per domain: table base [31:12], size, P, V
  kDevBaseHi = 1,   // per domain: table base [63:32]
  kDevMap = 2,      // per map: bus/unit -> domain
  kDevCap = 3,      // revision, number of domains, number of maps
  kDevCr = 4,       // control
  kDevErrStatus = 5,
  kDevErrAddrLo = 6,
  kDevErrAddrHi = 7,
};

namespace base_lo {
inline constexpr uint32_t kValid = 1u << 0;
inline constexpr uint32_t kProtect = 1u << 1;   // P: block accesses above the table's reach
inline constexpr uint32_t kSizeShift = 2;       // table covers 4 GiB << size (128 KiB << size of table)
inline constexpr uint32_t kSizeMask = 0x7u << kSizeShift;
inline constexpr uint32_t kAddrMask = 0xFFFFF000u;
}  // namespace base_lo

namespace cap {
inline constexpr uint32_t kRevisionMask = 0xFF;
inline constexpr uint32_t kDomainsShift = 8;   // [15:8] number of domains
inline constexpr uint32_t kMapsShift = 16;     // [23:16] number of DEV_MAP registers
}  // namespace cap

// DEV_MAP: two units of one bus mapped to domains (unit0 [4:0] valid0 [5], unit1 [10:6]
// valid1 [11], bus [19:12], dom0 [25:20], dom1 [31:26]). 0 = both invalid: every device
// stays in domain 0.
namespace map {
inline constexpr uint32_t kValid0 = 1u << 5;
inline constexpr uint32_t kValid1 = 1u << 11;
}  // namespace map

namespace cr {
inline constexpr uint32_t kDevEn = 1u << 0;      // DEV protection on (the table is consulted)
inline constexpr uint32_t kMemClr = 1u << 1;
inline constexpr uint32_t kIospEn = 1u << 2;     // also check I/O-space (peer) accesses
inline constexpr uint32_t kMceEn = 1u << 3;      // machine check on a blocked access
inline constexpr uint32_t kInvalidate = 1u << 4; // invalidate the DEV cache (self-clearing)
inline constexpr uint32_t kSlDevEn = 1u << 5;    // the SKINIT SLB protection
inline constexpr uint32_t kWalkProbe = 1u << 6;
}  // namespace cr

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kMinCoverage = 1ull << 32;      // size 0: 4 GiB
inline constexpr uint64_t kMinTableBytes = kMinCoverage / kPageSize / 8;  // 128 KiB
constexpr uint64_t coverage(uint32_t size_code) { return kMinCoverage << size_code; }
constexpr uint64_t table_bytes(uint32_t size_code) { return kMinTableBytes << size_code; }
static_assert(table_bytes(0) == 128 * 1024 && coverage(1) == (8ull << 30));

}  // namespace redoubt::arch::amd_dev
