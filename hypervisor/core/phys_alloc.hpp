// The hypervisor's physical page allocator: a bitmap over one region of RAM
// handed over by the secure loader (BootParams.hv_memory). The bitmap lives in
// the first pages of the region itself; every page handed out is zeroed.
// Freestanding: no heap, errors as values.
#pragma once
#include <cstdint>

#include "platform/hal/hal.hpp"

namespace redoubt::hv {

class PageAllocator {
 public:
  static constexpr uint64_t kPage = 4096;

  // base and size must be page aligned; the bitmap takes ceil(pages/8/4096) pages.
  Status init(hal::PhysMem& mem, uint64_t base, uint64_t size);
  // `pages` contiguous zeroed pages whose first address is a multiple of
  // align_pages * 4 KiB (first fit).
  Status alloc(uint64_t pages, uint64_t align_pages, uint64_t& pa, const char* what);
  Status alloc_page(uint64_t& pa, const char* what) { return alloc(1, 1, pa, what); }
  // Scrubs and returns pages; freeing something not allocated is a bug and fails.
  Status free(uint64_t pa, uint64_t pages);

  bool owns(uint64_t pa) const { return pa >= base_ && pa < base_ + size_; }
  bool is_allocated(uint64_t pa) const;
  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t total_pages() const { return pages_; }
  uint64_t free_pages() const { return free_; }
  uint64_t bitmap_pages() const { return bitmap_pages_; }
  hal::PhysMem& mem() const { return *mem_; }
  // A host pointer to an allocated page range.
  uint8_t* map(uint64_t pa, uint64_t n) const { return mem_->map(pa, n); }

 private:
  bool test(uint64_t i) const { return bitmap_[i >> 3] & (1u << (i & 7)); }
  void set(uint64_t i, bool v) {
    if (v)
      bitmap_[i >> 3] |= uint8_t(1u << (i & 7));
    else
      bitmap_[i >> 3] &= uint8_t(~(1u << (i & 7)));
  }

  hal::PhysMem* mem_ = nullptr;
  uint8_t* bitmap_ = nullptr;
  uint64_t base_ = 0, size_ = 0, pages_ = 0, free_ = 0, bitmap_pages_ = 0;
};

}  // namespace redoubt::hv
