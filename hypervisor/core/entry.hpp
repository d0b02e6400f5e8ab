// The hypervisor's entry point after the secure loader's hand-off: reports
// what it was launched with, then creates and runs the guests the loader
// listed (none: it stops). docs/hypervisor.md.
#pragma once
#include "platform/hal/hal.hpp"
#include "abi/handoff.hpp"

namespace redoubt::hv {

Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& handoff);

}  // namespace redoubt::hv
