// x86-64 4-level paging entries (AMD APM vol. 2 §5.3-§5.4; Intel SDM vol. 3
// §4.5). Nested page tables use the same format (APM vol. 2 §15.25.5).
#pragma once
#include <cstdint>

namespace redoubt::x86 {

inline constexpr uint64_t kPtePresent = 1ull << 0;
inline constexpr uint64_t kPteWrite = 1ull << 1;
inline constexpr uint64_t kPteUser = 1ull << 2;
inline constexpr uint64_t kPtePwt = 1ull << 3;
inline constexpr uint64_t kPtePcd = 1ull << 4;
inline constexpr uint64_t kPteAccessed = 1ull << 5;
inline constexpr uint64_t kPteDirty = 1ull << 6;
inline constexpr uint64_t kPteLarge = 1ull << 7;   // PS: 2 MiB in a PDE, 1 GiB in a PDPTE
inline constexpr uint64_t kPteGlobal = 1ull << 8;
inline constexpr uint64_t kPteNx = 1ull << 63;
inline constexpr uint64_t kPteAddrMask = 0x000FFFFFFFFFF000ull;  // bits 51:12
inline constexpr uint64_t kPageSize4K = 1ull << 12;
inline constexpr uint64_t kPageSize2M = 1ull << 21;
inline constexpr uint64_t kPageSize1G = 1ull << 30;

inline constexpr unsigned pml4_index(uint64_t va) { return (va >> 39) & 0x1FF; }
inline constexpr unsigned pdpt_index(uint64_t va) { return (va >> 30) & 0x1FF; }
inline constexpr unsigned pd_index(uint64_t va) { return (va >> 21) & 0x1FF; }
inline constexpr unsigned pt_index(uint64_t va) { return (va >> 12) & 0x1FF; }

// #PF error code bits (APM vol. 2 §8.4.2).
inline constexpr uint32_t kPfPresent = 1u << 0;
inline constexpr uint32_t kPfWrite = 1u << 1;
inline constexpr uint32_t kPfUser = 1u << 2;
inline constexpr uint32_t kPfReserved = 1u << 3;
inline constexpr uint32_t kPfFetch = 1u << 4;

// Control-register and EFER bits used by the paging model.
inline constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Pge = 1ull << 7;
inline constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11,
                          kEferSvme = 1ull << 12;

}  // namespace redoubt::x86
