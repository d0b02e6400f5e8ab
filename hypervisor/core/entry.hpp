// The hypervisor's entry point after the secure loader's hand-off. For now it
// reports that it was entered and what it was launched with; guests come in
// the AMD-V issue.
#pragma once
#include "platform/hal/hal.hpp"
#include "sl/handoff.hpp"

namespace redoubt::hv {

Status hypervisor_main(hal::Platform& platform, const hal::HypervisorHandoff& handoff);

}  // namespace redoubt::hv
