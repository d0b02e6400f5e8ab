#include "platform/x86/drivers/vtd_handoff.hpp"

#include "abi/slb_layout.hpp"

namespace redoubt::x86 {

Status vtd_take_over(VtdHw& vtd, const hal::HypervisorHandoff& h, uint32_t flags) {
  constexpr uint64_t kPage = 4096;
  if (h.dma_region_pa % kPage || h.dma_region_size < 2 * kPage)
    return Status::fail(Err::malformed, "VT-d: the DMA region [0x%llx, +0x%llx) cannot hold a root table and a pool",
                        (unsigned long long)h.dma_region_pa, (unsigned long long)h.dma_region_size);
  constexpr size_t kMax = 6 + 4 * hal::HypervisorHandoff::kMaxGuests;
  PhysRange r[kMax];
  size_t n = 0;
  auto add = [&](uint64_t pa, uint64_t size) {
    if (size && n < kMax) r[n++] = {pa, size};
  };
  if (h.slb_base) add(h.slb_base, sl::kSlbSize);
  add(h.hv_image_pa, h.hv_image_size);
  add(h.hv_memory_pa, h.hv_memory_size);
  add(h.event_log_pa, h.event_log_cap);
  add(h.policy_pa, h.policy_size);
  add(h.dma_region_pa, h.dma_region_size);
  const uint32_t guests = h.guest_count < hal::HypervisorHandoff::kMaxGuests ? h.guest_count : hal::HypervisorHandoff::kMaxGuests;
  for (uint32_t i = 0; i < guests; ++i) {
    const hal::HypervisorHandoff::Guest& g = h.guests[i];
    add(g.image_pa, g.image_size);
    add(g.ram_pa, g.ram_size);
    add(g.manifest_pa, g.manifest_size);
    add(g.initrd_pa, g.initrd_size);
  }
  REDOUBT_TRY(vtd.set_page_table_pool(h.dma_region_pa + kPage, h.dma_region_size - kPage));
  return vtd.enable(h.dma_region_pa, r, n, flags);
}

}  // namespace redoubt::x86
