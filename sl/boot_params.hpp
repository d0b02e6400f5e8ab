// BootParams: what the untrusted pre-launch loader tells the secure loader.
// It lies outside the measured region, so the SL treats every field as hostile:
// it DMA-protects the block, copies it, and range-checks each region.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::sl {

inline constexpr char kBootParamsMagic[8] = {'R', 'D', 'B', 'T', 'B', 'P', '0', '1'};

struct Region {
  uint64_t pa;
  uint64_t size;
};
static_assert(sizeof(Region) == 16);

struct BootParams {
  char magic[8];         // "RDBTBP01"
  uint32_t size;         // sizeof(BootParams)
  uint32_t version;      // 1
  Region hv_image;       // hypervisor image (hv.bin)
  Region hv_manifest;    // COSE_Sign1 hypervisor manifest
  Region event_log;      // buffer the SL writes the DRTM event log into
  Region launch_policy;  // reserved for the launch-policy issue; must be {0,0} for now
  uint64_t reserved[8];
};
static_assert(sizeof(BootParams) == 144);
static_assert(offsetof(BootParams, hv_image) == 16);
static_assert(offsetof(BootParams, event_log) == 48);

}  // namespace redoubt::sl
