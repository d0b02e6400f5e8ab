#include "hypervisor/core/entry.hpp"

namespace redoubt::hv {

Status hypervisor_main(hal::Platform& platform, const hal::HypervisorHandoff& h) {
  auto& c = platform.console();
  c.print("[hv] Redoubt hypervisor %s %s entered at 0x%llx (image 0x%llx, %llu bytes, SVN %llu)\n", h.hv_name,
          h.hv_version, (unsigned long long)h.hv_entry_pa, (unsigned long long)h.hv_image_pa,
          (unsigned long long)h.hv_image_size, (unsigned long long)h.hv_svn);
  c.print("[hv] DRTM event log at 0x%llx: %llu of %llu bytes used\n", (unsigned long long)h.event_log_pa,
          (unsigned long long)h.event_log_used, (unsigned long long)h.event_log_cap);
  if (!platform.dma().is_protected(h.hv_image_pa, h.hv_image_size))
    return Status::fail(Err::internal, "hypervisor image is not DMA-protected at entry");
  c.print("[hv] no guests configured (the AMD-V issue adds them); stopping\n");
  return Status::ok();
}

}  // namespace redoubt::hv
