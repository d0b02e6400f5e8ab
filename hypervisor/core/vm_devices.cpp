// A guest's assigned devices (docs/dma.md "Device assignment"): each one's I/O domain maps
// that guest's RAM only (IOVA = GPA); at the guest's end they are blocked again and the
// IOMMU's caches invalidated before its RAM is scrubbed. Split from vm.cpp (one job per file).
#include "hypervisor/core/vm.hpp"

#include "arch/x86/paging.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/guest_abi.hpp"
#include "platform/hal/format.hpp"

namespace redoubt::hv {

using namespace x86;

// ---- assigned devices (docs/dma.md "Device assignment") -------------------

namespace {
bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return an && bn && a < b + bn && b < a + an; }
}  // namespace

Status Vm::assign_devices(const hal::HypervisorHandoff::Guest& g) {
  hal::DmaProtection& dma = hv_->platform.dma();
  const hal::HypervisorHandoff& h = hv_->handoff;
  REDOUBT_TRY(hv_->domain_pool);
  if (g.device_count > hal::HypervisorHandoff::kMaxDevices)
    return Status::fail(Err::malformed, "%u devices, at most %u", g.device_count, hal::HypervisorHandoff::kMaxDevices);
  GuestBootInfo* bi = reinterpret_cast<GuestBootInfo*>(mem_.ptr(kGuestBootInfoGpa, sizeof(GuestBootInfo)));
  for (uint32_t k = 0; k < g.device_count; ++k) {
    const uint16_t id = g.devices[k];
    uint64_t bar = 0, bar_size = 0;
    REDOUBT_TRY(dma.device_window(id, bar, bar_size));
    // The window goes into the guest's nested page tables: it must be MMIO, not memory anyone
    // owns (a BAR moved over RAM by whoever configured PCI would otherwise map that RAM), and
    // clear of the guest's own RAM at GPA [0, ram_size) (it is mapped at GPA = its address).
    bool bad = bar + bar_size < bar || bar + bar_size > (4ull << 30) || bar < g.ram_size ||
               overlaps(bar, bar_size, h.hv_memory_pa, h.hv_memory_size) ||
               overlaps(bar, bar_size, h.hv_image_pa, h.hv_image_size) || overlaps(bar, bar_size, h.slb_base, 0x10000) ||
               overlaps(bar, bar_size, h.event_log_pa, h.event_log_cap) ||
               overlaps(bar, bar_size, h.dma_region_pa, h.dma_region_size) ||
               overlaps(bar, bar_size, h.policy_pa, h.policy_size);
    for (uint32_t i = 0; i < h.guest_count && i < hal::HypervisorHandoff::kMaxGuests; ++i) {
      const auto& o = h.guests[i];
      bad |= overlaps(bar, bar_size, o.ram_pa, o.ram_size) || overlaps(bar, bar_size, o.image_pa, o.image_size) ||
             overlaps(bar, bar_size, o.manifest_pa, o.manifest_size) || overlaps(bar, bar_size, o.initrd_pa, o.initrd_size);
    }
    if (bad)
      return Status::fail(Err::malformed, "device %02x:%02x.%x: BAR [0x%llx, +0x%llx) is not a free MMIO window", id >> 8,
                          (id >> 3) & 31, id & 7, (unsigned long long)bar, (unsigned long long)bar_size);
    // The I/O domain first (the device reaches this guest's RAM and nothing else, at IOVA = GPA;
    // the driver invalidates and waits), then the window the guest programs it through.
    REDOUBT_TRY(dma.assign(id, uint16_t(rec_->id + 1), 0, g.ram_pa, g.ram_size));
    devices_[device_count_++] = id;
    if (hv_->test_flags & kHvTestDmaMapsHost) REDOUBT_TRY(map_host_for_device(id, g));  // TEST ONLY: not confined
    rec_->device_ids[rec_->device_count] = id;
    rec_->device_bars[rec_->device_count] = bar;
    ++rec_->device_count;
    REDOUBT_TRY(npt_.map(bar, bar, bar_size, hv_->slat_mmio_flags, false));
    if (bi) {
      bi->device_bar_gpa[bi->device_count] = bar;
      bi->device_id[bi->device_count] = id;
      ++bi->device_count;
    }
    hv_->platform.console().print(
        "[hv] guest %s: device %02x:%02x.%x assigned: I/O domain %u maps its %llu MiB of RAM at IOVA = GPA 0, BAR0 at GPA 0x%llx\n",
        rec_->name, id >> 8, (id >> 3) & 31, id & 7, rec_->id + 1, (unsigned long long)(g.ram_size >> 20),
        (unsigned long long)bar);
  }
  return Status::ok();
}

// TEST ONLY (kHvTestDmaMapsHost): IOVA = host-physical over [RAM size, 256 MiB) for the device,
// except the IOMMU's own tables and the page-table pool (the driver refuses to grant those).
Status Vm::map_host_for_device(uint16_t id, const hal::HypervisorHandoff::Guest& g) {
  const hal::HypervisorHandoff& h = hv_->handoff;
  uint64_t hole[2][2] = {{h.dma_region_pa, h.dma_region_pa + h.dma_region_size},
                         {hv_->domain_pool_pa, hv_->domain_pool_pa + hv_->domain_pool_size}};
  if (hole[0][0] > hole[1][0]) {
    for (int k = 0; k < 2; ++k) {
      const uint64_t t = hole[0][k];
      hole[0][k] = hole[1][k];
      hole[1][k] = t;
    }
  }
  uint64_t at = g.ram_size;
  for (int k = 0; k <= 2; ++k) {
    uint64_t end = k < 2 ? hole[k][0] : kHvTestDmaMapsHostLimit;
    if (end > kHvTestDmaMapsHostLimit) end = kHvTestDmaMapsHostLimit;
    if (end > at) REDOUBT_TRY(hv_->platform.dma().assign(id, uint16_t(rec_->id + 1), at, at, end - at));
    if (k < 2 && hole[k][1] > at) at = hole[k][1];
  }
  hv_->platform.console().print("[hv] TEST ONLY: guest %s: device %02x:%02x.%x also maps IOVA = host-physical [0x%llx, 0x%llx)\n",
                                rec_->name, id >> 8, (id >> 3) & 31, id & 7, (unsigned long long)g.ram_size,
                                (unsigned long long)kHvTestDmaMapsHostLimit);
  return Status::ok();
}

Status Vm::release_devices(bool invalidate) {
  Status first = Status::ok();
  for (uint32_t k = 0; k < device_count_; ++k) {
    const uint16_t id = devices_[k];
    Status s = hv_->platform.dma().unassign(id, invalidate);
    if (!s && first) first = s;
    hv_->platform.console().print("[hv] guest %s: device %02x:%02x.%x released: %s\n", rec_ ? rec_->name : "?", id >> 8,
                                  (id >> 3) & 31, id & 7,
                                  !s ? s.message()
                                  : invalidate ? "blocked, DTE and IOTLB invalidated, completion waited"
                                               : "blocked, TEST ONLY: caches NOT invalidated");
  }
  device_count_ = 0;
  return first;
}

}  // namespace redoubt::hv
