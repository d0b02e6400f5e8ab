// The Bochs check's hand-off blob (docs/intel.md "Bochs"): the second multiboot module of the
// boot stub's mode=unmeasured. The host captured the SL's HypervisorHandoff where the simulator's
// native SL entered hv.bin; the stub places the same RAM (module 0, the boot image) and enters
// hv.bin with that hand-off and abi::kBareFlagUnmeasured. Little-endian:
//   "RDBTUHO1" | u32 size (= sizeof(HypervisorHandoff)) | u32 0 | u64 outcome_pa | the hand-off
#pragma once
#include <cstdint>

#include "abi/handoff.hpp"

namespace redoubt::abi {

inline constexpr char kUnmeasuredHandoffMagic[8] = {'R', 'D', 'B', 'T', 'U', 'H', 'O', '1'};

struct UnmeasuredHandoff {
  char magic[8];
  uint32_t size;
  uint32_t reserved;
  uint64_t outcome_pa;  // the LaunchOutcome record the loader's layout has (0 = none)
  hal::HypervisorHandoff handoff;
};
static_assert(sizeof(UnmeasuredHandoff) == 24 + sizeof(hal::HypervisorHandoff));

}  // namespace redoubt::abi
