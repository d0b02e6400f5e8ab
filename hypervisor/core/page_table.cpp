#include "hypervisor/core/page_table.hpp"

namespace redoubt::hv {

using namespace x86;

Status PageTableBuilder::create() {
  REDOUBT_TRY(tm_.alloc_table(root_));
  tables_ = 1;
  return Status::ok();
}

Status PageTableBuilder::next_table(uint64_t* entry, uint64_t& next) {
  if (*entry & kPtePresent) {
    if (*entry & kPteLarge)
      return Status::fail(Err::internal, "page tables: a large page already covers this range");
    next = *entry & kPteAddrMask;
    return Status::ok();
  }
  REDOUBT_TRY(tm_.alloc_table(next));
  ++tables_;
  *entry = next | kTableFlags;
  return Status::ok();
}

Status PageTableBuilder::map(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, bool large_ok) {
  if (!root_) return Status::fail(Err::internal, "page tables: map before create");
  if ((va | pa | size) & (kPageSize4K - 1))
    return Status::fail(Err::internal, "page tables: map of [0x%llx, +0x%llx) -> 0x%llx is not 4 KiB aligned",
                        (unsigned long long)va, (unsigned long long)size, (unsigned long long)pa);
  flags = (flags & ~kPteAddrMask) | kPtePresent;
  flags &= ~kPteLarge;
  // The page directory of the current 1 GiB of va, walked to once per GiB rather than
  // once per page (a 4 GiB identity map is 2048 entries in 4 directories).
  uint64_t* pd = nullptr;
  uint64_t pd_gib = ~0ull;
  while (size) {
    const bool large = large_ok && ((va | pa) & (kPageSize2M - 1)) == 0 && size >= kPageSize2M;
    uint64_t next;
    if (!pd || (va >> 30) != pd_gib) {
      uint64_t* t = tm_.table(root_);
      REDOUBT_TRY(next_table(&t[pml4_index(va)], next));
      t = tm_.table(next);
      REDOUBT_TRY(next_table(&t[pdpt_index(va)], next));
      pd = tm_.table(next);
      pd_gib = va >> 30;
    }
    uint64_t* pde = &pd[pd_index(va)];
    if (large) {
      if (*pde & kPtePresent)
        return Status::fail(Err::internal, "page tables: 0x%llx is already mapped", (unsigned long long)va);
      *pde = pa | flags | kPteLarge;
      va += kPageSize2M;
      pa += kPageSize2M;
      size -= kPageSize2M;
      continue;
    }
    REDOUBT_TRY(next_table(pde, next));
    uint64_t* pte = &tm_.table(next)[pt_index(va)];
    if (*pte & kPtePresent)
      return Status::fail(Err::internal, "page tables: 0x%llx is already mapped", (unsigned long long)va);
    *pte = pa | flags;
    va += kPageSize4K;
    pa += kPageSize4K;
    size -= kPageSize4K;
  }
  return Status::ok();
}

bool PageTableBuilder::translate(uint64_t va, Leaf& out) {
  if (!root_) return false;
  uint64_t table_addr = root_;
  for (int level = 4; level >= 1; --level) {
    uint64_t* t = tm_.table(table_addr);
    if (!t) return false;
    const unsigned shift = 12 + 9 * (level - 1);
    uint64_t e = t[(va >> shift) & 0x1FF];
    if (!(e & kPtePresent)) return false;
    if (level == 1 || ((level == 2 || level == 3) && (e & kPteLarge))) {
      uint64_t mask = (1ull << shift) - 1;
      out = Leaf{va & ~mask, e & kPteAddrMask & ~mask, 1ull << shift, e & ~kPteAddrMask};
      return true;
    }
    table_addr = e & kPteAddrMask;
  }
  return false;
}

}  // namespace redoubt::hv
