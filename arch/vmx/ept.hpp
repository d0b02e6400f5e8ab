// Extended page tables: entry formats and the EPT pointer (Intel SDM vol. 3C
// §29.3.2 "EPT Translation Mechanism", Tables 29-1 to 29-7; EPTP §25.6.11, Table 25-9).
#pragma once
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx::ept {

// Paging-structure entries (Tables 29-1 .. 29-7).
inline constexpr uint64_t kRead = 1ull << 0, kWrite = 1ull << 1, kExecute = 1ull << 2;
inline constexpr unsigned kMemTypeShift = 3;             // bits 5:3 of a leaf: EPT memory type
inline constexpr uint64_t kMemTypeMask = 7ull << 3;
inline constexpr uint64_t kIgnorePat = 1ull << 6;        // leaf only
inline constexpr uint64_t kLargePage = 1ull << 7;        // PDPTE (1 GiB) / PDE (2 MiB): maps a page
inline constexpr uint64_t kAccessed = 1ull << 8, kDirty = 1ull << 9;  // with EPTP bit 6 (A/D enabled)
inline constexpr uint64_t kUserExecute = 1ull << 10;     // mode-based execute control
inline constexpr uint64_t kSuppressVe = 1ull << 63;
inline constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull;  // bits 51:12 (the model checks 47:12 for MAXPHYADDR 48)
inline constexpr uint64_t kPermMask = kRead | kWrite | kExecute;

// EPT memory types (§29.3.7).
enum MemType : uint64_t { kUc = 0, kWc = 1, kWt = 4, kWp = 5, kWb = 6 };

// The EPT pointer (§25.6.11, Table 25-9).
namespace eptp {
inline constexpr uint64_t kMemTypeMask = 7;              // bits 2:0: 0 UC or 6 WB
inline constexpr unsigned kWalkLengthShift = 3;          // bits 5:3: page-walk length - 1
inline constexpr uint64_t kWalkLengthMask = 7ull << 3;
inline constexpr uint64_t kAccessedDirty = 1ull << 6;
inline constexpr uint64_t kSupervisorShadowStack = 1ull << 7;
inline constexpr uint64_t kReserved11_8 = 0xF00;
inline constexpr uint64_t make(uint64_t pml4_pa, MemType mt, bool ad) {
  return (pml4_pa & ~0xFFFull) | uint64_t(mt) | (3ull << kWalkLengthShift) | (ad ? kAccessedDirty : 0);
}
static_assert(make(0x5000, kWb, false) == 0x501E && make(0x5000, kUc, true) == 0x5058);
}  // namespace eptp

// An EPT entry is misconfigured (§29.3.3.1) when it is writable but not readable
// (without execute-only it also may not be execute-only), or its leaf memory type is 2, 3 or 7.
constexpr bool rwx_misconfigured(uint64_t e, bool execute_only_supported) {
  const uint64_t p = e & kPermMask;
  return (p & kWrite && !(p & kRead)) || (!execute_only_supported && p == kExecute);
}
constexpr bool memtype_reserved(uint64_t leaf) {
  const uint64_t t = (leaf & kMemTypeMask) >> kMemTypeShift;
  return t == 2 || t == 3 || t == 7;
}
static_assert(rwx_misconfigured(kWrite, true) && !rwx_misconfigured(kRead, false) && rwx_misconfigured(kExecute, false));
static_assert(memtype_reserved(2ull << 3) && !memtype_reserved(6ull << 3));

}  // namespace redoubt::vmx::ept
