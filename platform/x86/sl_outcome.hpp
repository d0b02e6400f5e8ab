// The LaunchOutcome record both SL stages report into (abi/launch_outcome.hpp).
// It is an output the untrusted loader asked for: it must not overlap anything
// the launch relies on (the SLB, the boot params, any region they name), else
// writing it could change measured or protected bytes. Freestanding.
#pragma once
#include <cstdint>

#include "abi/launch_outcome.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

// The record the boot params at bp_pa name, or null (none given, or it fails the checks: said on `c`).
abi::LaunchOutcome* sl_checked_outcome(hal::Console& c, hal::PhysMem& mem, uint64_t slb_base, uint64_t bp_pa);

}  // namespace redoubt::x86
