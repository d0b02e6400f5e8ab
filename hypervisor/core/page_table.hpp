// A 4-level x86-64 page-table builder (AMD APM vol. 2 §5.3; nested page
// tables use the same format, §15.25.5). One builder serves both the nested
// page tables (tables in hypervisor memory) and the initial guest page tables
// the hypervisor writes into guest RAM (tables addressed guest-physically).
#pragma once
#include <cstdint>

#include "arch/x86/paging.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::hv {

// Where table pages come from and how to reach them.
class TableMemory {
 public:
  // A zeroed, 4 KiB-aligned table page; addr is in the table's own address space.
  virtual Status alloc_table(uint64_t& addr) = 0;
  // The 512 entries of the table at addr (nullptr if unreachable).
  virtual uint64_t* table(uint64_t addr) = 0;

 protected:
  ~TableMemory() = default;
};

struct Leaf {
  uint64_t va, pa, size, flags;  // size 4 KiB, 2 MiB or 1 GiB; flags = the leaf entry's low/NX bits
};

class PageTableBuilder {
 public:
  // Flags that go into non-leaf entries (P|W|U: the leaf decides).
  static constexpr uint64_t kTableFlags = x86::kPtePresent | x86::kPteWrite | x86::kPteUser;

  explicit PageTableBuilder(TableMemory& tm) : tm_(tm) {}
  Status create();                      // allocates the PML4
  void attach(uint64_t root) { root_ = root; }
  uint64_t root() const { return root_; }

  // Maps [va, va+size) to [pa, pa+size) with leaf `flags` (P is implied). Uses
  // 2 MiB pages where va, pa and the remaining size allow it and large_ok.
  // Refuses to replace an existing mapping (fails instead).
  Status map(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, bool large_ok = true);
  // Software walk: the leaf that maps va, if any.
  bool translate(uint64_t va, Leaf& out);
  // Visits every leaf mapping in address order; stops early if f returns false.
  template <class F>
  bool for_each_leaf(F&& f) {
    return walk(root_, 4, 0, f);
  }
  // Tables used so far (including the root).
  uint64_t table_count() const { return tables_; }

 private:
  Status next_table(uint64_t* entry, uint64_t& next);
  template <class F>
  bool walk(uint64_t table_addr, int level, uint64_t va_base, F& f);

  TableMemory& tm_;
  uint64_t root_ = 0;
  uint64_t tables_ = 0;
};

template <class F>
bool PageTableBuilder::walk(uint64_t table_addr, int level, uint64_t va_base, F& f) {
  uint64_t* t = tm_.table(table_addr);
  if (!t) return true;
  const unsigned shift = 12 + 9 * (level - 1);
  for (unsigned i = 0; i < 512; ++i) {
    uint64_t e = t[i];
    if (!(e & x86::kPtePresent)) continue;
    uint64_t va = va_base + (uint64_t(i) << shift);
    if (level == 4 && i >= 256) va |= 0xFFFF000000000000ull;  // canonical upper half
    if (level == 1 || ((level == 2 || level == 3) && (e & x86::kPteLarge))) {
      Leaf l{va, e & x86::kPteAddrMask & ~((1ull << shift) - 1), 1ull << shift, e & ~x86::kPteAddrMask};
      if (!f(l)) return false;
    } else if (level > 1) {
      if (!walk(e & x86::kPteAddrMask, level - 1, va, f)) return false;
    }
  }
  return true;
}

}  // namespace redoubt::hv
