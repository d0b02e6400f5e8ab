// The hypervisor image header (start of hv.bin). The SL checks it only after
// the image digest matched the signed manifest, so it is trusted by then.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::hv {

inline constexpr char kHvImageMagic[8] = {'R', 'D', 'B', 'T', 'H', 'V', '0', '1'};

struct HvImageHeader {
  char magic[8];          // "RDBTHV01"
  uint32_t header_size;   // sizeof(HvImageHeader)
  uint32_t entry_offset;  // entry point relative to the image base
  uint64_t image_size;    // bytes of code+data in the link (padding may follow)
};
static_assert(sizeof(HvImageHeader) == 24);
static_assert(offsetof(HvImageHeader, entry_offset) == 12);

}  // namespace redoubt::hv
