// The hypervisor's entry point after the secure loader's hand-off: reports
// what it was launched with, then creates and runs the guests the loader
// listed (none: it stops). docs/hypervisor.md.
#pragma once
#include "hypervisor/arch/svm/world_switch.hpp"
#include "platform/hal/hal.hpp"
#include "sl/handoff.hpp"

namespace redoubt::hv {

// ws: VMRUN with the guest GPRs (arch/svm/world_switch.hpp); needed only to run guests.
Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& handoff,
                       svm::WorldSwitch* ws = nullptr);

}  // namespace redoubt::hv
