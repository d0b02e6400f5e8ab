// What the secure loader hands to the hypervisor (the DLME) after a launch.
#pragma once
#include <cstdint>

#include "platform/hal/digest.hpp"

namespace redoubt::hal {

struct HypervisorHandoff {
  uint64_t slb_base;
  uint64_t hv_image_pa;
  uint64_t hv_image_size;
  uint64_t hv_entry_pa;       // hv_image_pa + header entry offset
  uint64_t event_log_pa;      // the DRTM log, so the hypervisor can append guest events
  uint64_t event_log_cap;
  uint64_t event_log_used;   // the hypervisor appends guest events and updates this
  uint64_t hv_svn;
  char hv_name[64];
  char hv_version[32];
  BankList banks;             // active PCR banks

  // Guests (AMD-V issue). Zero guests: the hypervisor reports and stops.
  static constexpr uint32_t kMaxGuests = 8;
  struct Guest {
    char name[16];
    uint64_t image_pa, image_size;  // DEV-protected; verified and measured by the hypervisor
    uint64_t ram_pa, ram_size;      // DEV-protected
    uint64_t manifest_pa, manifest_size;  // 0/0: unsigned
    uint64_t initrd_pa, initrd_size;      // 0/0: none
    uint64_t args[4];
    uint32_t flags;
    uint16_t io_base, io_count;
    uint16_t device_count;  // <= kMaxDevices, no DeviceID twice in the table (the SL checked)
    uint16_t devices[3];
  };
  static constexpr uint32_t kMaxDevices = 3;
  // The launch policy the SL verified (owner signature) and measured; DEV-protected.
  // 0/0: none, and the hypervisor refuses every guest.
  uint64_t policy_pa, policy_size;
  uint64_t hv_memory_pa;      // hypervisor-owned RAM, DEV-protected
  uint64_t hv_memory_size;
  uint32_t guest_count;
  Guest guests[kMaxGuests];
  // The DMA-protection tables' region (BootParams::dev_table), DEV-protected by the SL: the
  // DEV table at its start, then room for AMD-Vi's tables, which the hypervisor enables
  // there under the DEV (docs/dma.md "The DEV → AMD-Vi hand-off"). 0/0: none.
  uint64_t dma_region_pa, dma_region_size;
};

}  // namespace redoubt::hal
