#include "hypervisor/core/phys_alloc.hpp"

#include <cstring>

namespace redoubt::hv {

Status PageAllocator::init(hal::PhysMem& mem, uint64_t base, uint64_t size) {
  if (base % kPage || size % kPage || size == 0)
    return Status::fail(Err::malformed, "page allocator: region [0x%llx, +0x%llx) is not page aligned",
                        (unsigned long long)base, (unsigned long long)size);
  uint64_t pages = size / kPage;
  uint64_t bm_bytes = (pages + 7) / 8;
  uint64_t bm_pages = (bm_bytes + kPage - 1) / kPage;
  if (bm_pages >= pages)
    return Status::fail(Err::malformed, "page allocator: region of %llu pages is too small",
                        (unsigned long long)pages);
  uint8_t* bm = mem.map(base, bm_pages * kPage);
  if (!mem.map(base, size) || !bm)
    return Status::fail(Err::fault, "page allocator: region [0x%llx, +0x%llx) is outside RAM",
                        (unsigned long long)base, (unsigned long long)size);
  mem_ = &mem;
  bitmap_ = bm;
  base_ = base;
  size_ = size;
  pages_ = pages;
  bitmap_pages_ = bm_pages;
  std::memset(bm, 0, bm_pages * kPage);
  for (uint64_t i = 0; i < bm_pages; ++i) set(i, true);
  free_ = pages - bm_pages;
  return Status::ok();
}

bool PageAllocator::is_allocated(uint64_t pa) const {
  if (!owns(pa)) return false;
  return test((pa - base_) / kPage);
}

Status PageAllocator::alloc(uint64_t pages, uint64_t align_pages, uint64_t& pa, const char* what) {
  if (!bitmap_) return Status::fail(Err::internal, "page allocator used before init");
  if (pages == 0 || align_pages == 0)
    return Status::fail(Err::internal, "page allocator: %s: zero pages or alignment", what);
  // Candidate start indices are those whose address is aligned.
  uint64_t first = 0;
  uint64_t base_pfn = base_ / kPage;
  if (base_pfn % align_pages) first = align_pages - base_pfn % align_pages;
  for (uint64_t i = first; i + pages <= pages_; i += align_pages) {
    uint64_t j = 0;
    while (j < pages && !test(i + j)) ++j;
    if (j == pages) {
      for (uint64_t k = 0; k < pages; ++k) set(i + k, true);
      free_ -= pages;
      pa = base_ + i * kPage;
      std::memset(mem_->map(pa, pages * kPage), 0, pages * kPage);
      return Status::ok();
    }
  }
  return Status::fail(Err::internal, "out of hypervisor memory: %s needs %llu pages (%llu of %llu free)", what,
                      (unsigned long long)pages, (unsigned long long)free_, (unsigned long long)pages_);
}

Status PageAllocator::free(uint64_t pa, uint64_t pages) {
  if (!owns(pa) || pa % kPage || (pa - base_) / kPage + pages > pages_)
    return Status::fail(Err::internal, "page allocator: free of [0x%llx, +%llu pages) outside the region",
                        (unsigned long long)pa, (unsigned long long)pages);
  uint64_t i0 = (pa - base_) / kPage;
  for (uint64_t k = 0; k < pages; ++k)
    if (!test(i0 + k) || i0 + k < bitmap_pages_)
      return Status::fail(Err::internal, "page allocator: double free of page 0x%llx",
                          (unsigned long long)(pa + k * kPage));
  std::memset(mem_->map(pa, pages * kPage), 0, pages * kPage);  // scrub on release
  for (uint64_t k = 0; k < pages; ++k) set(i0 + k, false);
  free_ += pages;
  return Status::ok();
}

}  // namespace redoubt::hv
