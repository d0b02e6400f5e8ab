#include "hypervisor/core/entry.hpp"

#include <new>

#include "hypervisor/core/vm.hpp"

namespace redoubt::hv {

Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& h, uint64_t test_flags) {
  auto& c = platform.console();
  c.print("[hv] Redoubt hypervisor %s %s entered at 0x%llx (image 0x%llx, %llu bytes, SVN %llu)\n", h.hv_name,
          h.hv_version, (unsigned long long)h.hv_entry_pa, (unsigned long long)h.hv_image_pa,
          (unsigned long long)h.hv_image_size, (unsigned long long)h.hv_svn);
  c.print("[hv] DRTM event log at 0x%llx: %llu of %llu bytes used\n", (unsigned long long)h.event_log_pa,
          (unsigned long long)h.event_log_used, (unsigned long long)h.event_log_cap);
  if (!platform.dma().is_protected(h.hv_image_pa, h.hv_image_size))
    return Status::fail(Err::internal, "hypervisor image is not DMA-protected at entry");
  if (h.guest_count == 0) {
    c.print("[hv] no guests configured; stopping\n");
    return Status::ok();
  }
  c.print("[hv] %u guest(s); hypervisor memory [0x%llx, +0x%llx)\n", h.guest_count,
          (unsigned long long)h.hv_memory_pa, (unsigned long long)h.hv_memory_size);

  // The Hypervisor object itself lives in hypervisor memory, after the run
  // record: no heap and no large stack frames.
  const uint64_t obj_pa = h.hv_memory_pa + kRunRecordBytes - ((sizeof(Hypervisor) + 4095) & ~4095ull);
  if (sizeof(Hypervisor) + sizeof(RunRecord) > kRunRecordBytes)
    return Status::fail(Err::internal, "hypervisor state does not fit its reserved pages");
  uint8_t* obj = platform.mem().map(obj_pa, sizeof(Hypervisor));
  if (!obj || h.hv_memory_size < kRunRecordBytes) return Status::fail(Err::fault, "hypervisor memory is outside RAM");
  Hypervisor* hv = new (obj) Hypervisor(platform, h);
  hv->test_flags = test_flags & kHvTestFlagsMask;
  if (hv->test_flags) c.print("[hv] TEST ONLY: protections turned off: 0x%llx\n", (unsigned long long)hv->test_flags);
  Status s = hv->init();
  if (s) s = hv->run();
  if (!s) {
    c.print("[hv] stopping: %s\n", s.message());
    return s;
  }
  for (uint32_t i = 0; i < hv->vm_count; ++i) {
    const GuestRecord& r = hv->vms[i].record();
    c.print("[hv] guest %s: %s (%s); %llu exits, %llu slices\n", r.name, guest_state_name(GuestState(r.state)),
            r.reason, (unsigned long long)r.exits_total, (unsigned long long)r.slices);
  }
  c.print("[hv] all guests stopped\n");
  return Status::ok();
}

}  // namespace redoubt::hv
