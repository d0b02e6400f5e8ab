// The MLE header: Intel TXT Software Development Guide (MLE DG 315168), §2.1 "MLE Header",
// Table 1 "MLE Header structure". It lies inside the MLE; OsSinitData.MLEHeaderBase names it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::txt {

struct MleHeader {
  uint8_t uuid[16];          // 0x00: the GUID 5aac8290-6f47-a774-0f5c-55a2cb51b642 (MLE DG Table 1)
  uint32_t header_len;       // 0x10: bytes of this structure
  uint32_t version;          // 0x14: 0x00020001 (2.1); SINIT refuses < its info table's minimum
  uint32_t entry_point;      // 0x18: linear entry point, an offset from the MLE's base
  uint32_t first_valid_page; // 0x1C: first page of the MLE (offset), for the page-table walk
  uint32_t mle_start;        // 0x20: offset of the first measured byte
  uint32_t mle_end;          // 0x24: offset one past the last measured byte
  uint32_t capabilities;     // 0x28: MLE DG Table 2
  uint32_t cmdline_start;    // 0x2C: 2.1
  uint32_t cmdline_end;      // 0x30: 2.1
};
static_assert(sizeof(MleHeader) == 0x34, "MLE header 2.1 is 52 bytes");
static_assert(offsetof(MleHeader, entry_point) == 0x18 && offsetof(MleHeader, capabilities) == 0x28);

// MLE DG Table 1: GUID 5aac8290-6f47-a774-0f5c-55a2cb51b642 as bytes in memory.
inline constexpr uint8_t kMleHeaderUuid[16] = {0x5A, 0xAC, 0x82, 0x90, 0x6F, 0x47, 0xA7, 0x74,
                                               0x0F, 0x5C, 0x55, 0xA2, 0xCB, 0x51, 0xB6, 0x42};
inline constexpr uint32_t kMleHeaderVersion20 = 0x00020000;
inline constexpr uint32_t kMleHeaderVersion21 = 0x00020001;

// MLE DG Table 2 "MLE/SINIT Capabilities Field Bit Definitions".
namespace mle_caps {
inline constexpr uint32_t kRlpWakeupGetsec = 1u << 0;  // RLPs woken by GETSEC[WAKEUP]
inline constexpr uint32_t kRlpWakeupMonitor = 1u << 1; // RLPs woken through a MONITOR address
inline constexpr uint32_t kEcxPageTable = 1u << 2;     // ECX holds the MLE page table base at entry
inline constexpr uint32_t kStm = 1u << 3;
inline constexpr uint32_t kPcrMapLegacy = 1u << 4;     // TPM 1.2 family: no legacy mapping when set
inline constexpr uint32_t kPcrMapDa = 1u << 5;         // details/authorities mapping
inline constexpr uint32_t kTcg2EventLog = 1u << 9;     // TCG 2.0 (crypto-agile) event log format
}  // namespace mle_caps

}  // namespace redoubt::arch::txt
