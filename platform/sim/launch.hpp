// A measured launch on the simulated AMD platform: the untrusted pre-launch
// loader places the SLB, boot params, manifest and hypervisor in RAM, the BSP
// executes SKINIT, and the native secure loader runs against SimPlatform.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/sim/machine.hpp"
#include "platform/sim/sim_platform.hpp"
#include "platform/sim/skinit.hpp"
#include "platform/sim/tpm/tpm_device.hpp"

namespace redoubt::sim {

// Where the pre-launch loader puts things (physical addresses).
struct LaunchLayout {
  uint64_t slb_base = 0x01000000;     // must be 64 KiB aligned (APM vol. 2 §15.27.4)
  uint64_t boot_params = 0x01010000;  // just above the SLB
  uint64_t event_log = 0x01011000;
  uint64_t event_log_size = 0x10000;
  uint64_t manifest = 0x01030000;     // up to 64 KiB
  uint64_t hv_image = 0x01100000;     // up to the end of RAM
};

struct LaunchInputs {
  std::vector<uint8_t> sl_image;   // sl.bin (sealed with the hypervisor-signing key)
  std::vector<uint8_t> hv_image;   // hv.bin
  std::vector<uint8_t> manifest;   // COSE_Sign1 hypervisor manifest
  LaunchLayout layout;
  bool svm_enabled = true;   // EFER.SVME on the BSP before SKINIT
  bool aps_in_init = true;   // the loader sent INIT to every AP
};

struct LaunchReport {
  bool launched = false;              // the hypervisor was entered and returned ok
  bool hypervisor_entered = false;
  std::string stage;                  // "loader", "skinit", "sl", "hypervisor"
  std::string reason;                 // why it was refused (empty when launched)
  std::optional<CpuFault> fault;      // the fault SKINIT raised, if any
  std::vector<uint8_t> slb_region;    // the 64 KiB SLB as it lay in memory at SKINIT
  uint16_t slb_length = 0;
  uint16_t slb_entry = 0;
  std::vector<uint8_t> event_log;     // the DRTM log the SL wrote
  double skinit_to_hv_us = 0;         // SKINIT start to hypervisor entry
};

// Checks the SLB image the way a careful pre-launch loader must before SKINIT
// (SKINIT itself would measure whatever is there). Empty string = fine.
std::string check_slb_image(const std::vector<uint8_t>& sl_image, uint64_t slb_base);

LaunchReport measured_launch(Machine& m, TpmDevice& tpm, const LaunchInputs& in, const ConsoleSink& sink);

}  // namespace redoubt::sim
