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
  uint64_t event_log_used;
  uint64_t hv_svn;
  char hv_name[64];
  char hv_version[32];
  BankList banks;             // active PCR banks
};

}  // namespace redoubt::hal
