// The TXT heap: Intel TXT Software Development Guide (MLE DG 315168), Appendix C "Intel TXT Heap
// Memory". TXT.HEAP_BASE names four consecutive regions, each preceded by its 8-byte size (which
// counts the size field itself): BiosData, OsMleData, OsSinitData, SinitMleData. Pure data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::txt {

// MLE DG C.1 "Extended Data Elements": type, size (including this 8-byte header), data.
struct HeapExtElement {
  uint32_t type;
  uint32_t size;
};
static_assert(sizeof(HeapExtElement) == 8);
inline constexpr uint32_t kHeapExtEnd = 0;                 // C.1: terminates the list, size 8
inline constexpr uint32_t kHeapExtEventLogPointer2_1 = 8;  // C.5.x: HEAP_EVENT_LOG_POINTER_ELEMENT2_1

// C.2 "BIOS Data Format" (version 5 without extended elements).
struct BiosData {
  uint32_t version;          // 0x00: >= 2
  uint32_t bios_sinit_size;  // 0x04: 0: BIOS did not load SINIT
  uint64_t lcp_pd_base;      // 0x08: platform-default LCP policy data (0 = none)
  uint64_t lcp_pd_size;      // 0x10
  uint32_t num_log_procs;    // 0x18: logical processors (SINIT compares the RLPs it finds)
  uint32_t sinit_flags;      // 0x1C
  uint32_t mle_flags;        // 0x20
};
static_assert(sizeof(BiosData) == 0x28 && offsetof(BiosData, num_log_procs) == 0x18);

// C.3 "OS to MLE Data": defined by the OS/MLE, opaque to SINIT. Redoubt's: the SL's boot params.
struct OsMleData {
  uint32_t version;          // 0x00: 1
  uint32_t reserved;         // 0x04
  uint64_t boot_params_pa;   // 0x08: the BootParams block the SL reads (abi/boot_params.hpp)
};
static_assert(sizeof(OsMleData) == 0x10);

// C.4 "OS to SINIT Data Format", version 7 (followed by extended elements, C.1).
struct OsSinitData {
  uint32_t version;             // 0x00: 6 or 7 (extended elements from 6)
  uint32_t flags;               // 0x04: v7: 0 = maximum agility, 1 = maximum performance
  uint64_t mle_page_table_base; // 0x08: physical address of the MLE page tables (MLE DG §2.2)
  uint64_t mle_size;            // 0x10: bytes the page tables map, from the MLE's first page
  uint64_t mle_header_base;     // 0x18: linear address of the MLE header (as mapped by those tables)
  uint64_t pmr_low_base;        // 0x20: VT-d PMR requested by the MLE (2 MiB aligned)
  uint64_t pmr_low_size;        // 0x28
  uint64_t pmr_high_base;       // 0x30
  uint64_t pmr_high_size;       // 0x38
  uint64_t lcp_po_base;         // 0x40: platform-owner LCP policy (0 = none)
  uint64_t lcp_po_size;         // 0x48
  uint32_t capabilities;        // 0x50: the MLE DG Table 2 bits the MLE chose (e.g. kEcxPageTable)
  uint64_t efi_rsdp;            // 0x54: v5 (packed, as the SDG lays it out)
} __attribute__((packed));      // extended elements (v6+) follow at 0x5C
static_assert(sizeof(OsSinitData) == 0x5C && offsetof(OsSinitData, pmr_low_base) == 0x20);
static_assert(offsetof(OsSinitData, capabilities) == 0x50);

// HEAP_EVENT_LOG_POINTER_ELEMENT2_1 (C.4, type 8): a TCG 2.0 (crypto-agile) DRTM log container the
// MLE allocated; SINIT writes its events there and advances next_record_offset.
struct EventLogPointer2_1 {
  uint64_t physical_address;
  uint32_t allocated_size;
  uint32_t first_record_offset;
  uint32_t next_record_offset;
};
static_assert(sizeof(EventLogPointer2_1) == 24);  // 20 used + tail padding

// C.5 "SINIT to MLE Data Format", version 9 fields up to the MDR table (SHA-1-sized legacy digests;
// the crypto-agile digests are in the event log).
struct SinitMleData {
  uint32_t version;              // 0x00: 9
  uint8_t bios_acm_id[20];       // 0x04
  uint32_t edx_senter_flags;     // 0x18: EDX at GETSEC[SENTER]
  uint64_t mseg_valid;           // 0x1C (unaligned in the spec)
  uint8_t sinit_hash[20];        // 0x24: SHA-1 of the SINIT ACM
  uint8_t mle_hash[20];          // 0x38: SHA-1 of the MLE
  uint8_t stm_hash[20];          // 0x4C
  uint8_t lcp_policy_hash[20];   // 0x60: SHA-1 of the LCP policy SINIT enforced (0 = none)
  uint32_t policy_control;       // 0x74: the policy's control field
  uint32_t rlp_wakeup_addr;      // 0x78
  uint32_t reserved;             // 0x7C
  uint32_t num_mdrs;             // 0x80
  uint32_t mdrs_offset;          // 0x84
  uint32_t dmar_table_size;      // 0x88
  uint32_t dmar_table_offset;    // 0x8C
  uint32_t scrtm_status;         // 0x90
} __attribute__((packed));
static_assert(sizeof(SinitMleData) == 0x94 && offsetof(SinitMleData, mle_hash) == 0x38);
static_assert(offsetof(SinitMleData, policy_control) == 0x74);

inline constexpr uint32_t kOsSinitDataMinVersion = 6;
inline constexpr uint32_t kOsSinitDataVersion = 7;
inline constexpr uint32_t kSinitMleDataVersion = 9;
inline constexpr uint32_t kBiosDataMinVersion = 2;
inline constexpr uint64_t kPmrAlignment = 2ull << 20;  // MLE DG C.4: PMR bases/sizes 2 MiB aligned

}  // namespace redoubt::arch::txt
