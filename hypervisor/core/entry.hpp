// The hypervisor's entry point after the secure loader's hand-off: reports
// what it was launched with, then creates and runs the guests the loader
// listed (none: it stops). docs/hypervisor.md.
#pragma once
#include "platform/hal/hal.hpp"
#include "abi/handoff.hpp"

namespace redoubt::hv {

// Test-only switches (never set by the SL: abi::BareHvEntryHeader.flags, which
// platform/x86/hv_handoff.cpp zeroes; in the simulator only the test harness sets them).
// kHvTestNoGuestStateSwitch: the world switch leaves DR0-3 and x87/SSE as the last guest
// left them and V_INTR_MASKING is off (CR8 = the physical TPR): the cross-guest leak the
// switch prevents, for the test that shows it can fail (docs/hypervisor.md).
inline constexpr uint64_t kHvTestNoGuestStateSwitch = 1u << 2;

Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& handoff, uint64_t test_flags = 0);

}  // namespace redoubt::hv
