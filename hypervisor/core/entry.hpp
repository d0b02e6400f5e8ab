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
// kHvTestInjectFailure: the scheduler returns a failure of the hypervisor itself once more
// than (flags & kHvTestInjectSliceMask) >> kHvTestInjectSliceShift slices ran: the failure
// path (PCR17-20 capped with EV_REDOUBT_HV_FAILED, everything scrubbed) on demand.
inline constexpr uint64_t kHvTestInjectFailure = 1u << 5;
// kHvTestStaleIotlb: a stopped guest's assigned devices go back to the blocking DTE, but the
// IOMMU's caches are not invalidated and the DEV is not closed over its RAM (docs/dma.md):
// the stale-IOTLB attack, for the test that shows the invalidation is what stops it.
inline constexpr uint64_t kHvTestStaleIotlb = 1u << 11;
inline constexpr uint64_t kHvTestInjectSliceShift = 16;
inline constexpr uint64_t kHvTestInjectSliceMask = 0xFFFFull << kHvTestInjectSliceShift;
// The protections `redoubt attack run NAME --protection-off` turns off, one per attack
// category (docs/isolation.md), so each scenario's check is shown able to fail:
// kHvTestNptMapsHost: every guest's nested page tables also map guest-physical
// [RAM size, 4 GiB) onto the same host-physical addresses (other guests, the hypervisor,
// the SLB, the TPM's MMIO): nested paging as if it were not there.
inline constexpr uint64_t kHvTestNptMapsHost = 1u << 6;
// kHvTestHypercallPhysical: hypercall buffers are host-physical addresses, not translated
// through the guest's page tables and memory map (the classic "trusts the guest pointer" bug).
inline constexpr uint64_t kHvTestHypercallPhysical = 1u << 7;
// kHvTestNoPreemption: the host timer is armed only for the guest's own timer, never for
// the end of its quantum: a guest that never exits keeps the CPU.
inline constexpr uint64_t kHvTestNoPreemption = 1u << 8;
// kHvTestIoPassthrough: the IOPM intercepts only the virtual UART; every other port reaches
// the platform (PCI configuration, the power-off port, COM2).
inline constexpr uint64_t kHvTestIoPassthrough = 1u << 9;
// kHvTestNoScrub: no guest RAM, hypervisor memory or SLB is zeroed when a guest or the
// hypervisor stops, and the SECRETS flag is cleared all the same (the forgotten scrub): the
// remanence attack after a stop or a failure then finds the guest's data (docs/isolation.md).
inline constexpr uint64_t kHvTestNoScrub = 1u << 10;
// kHvTestDmaMapsHost: an assigned device's I/O domain maps, besides its guest's RAM at IOVA = GPA,
// IOVA [RAM size, 256 MiB) onto the same host-physical addresses (other guests, the hypervisor,
// the SLB; the IOMMU's own tables and the page-table pool excepted): AMD-Vi as if the device
// were not confined (the DMA read attack under QEMU, docs/qemu.md).
inline constexpr uint64_t kHvTestDmaMapsHost = 1u << 13;
inline constexpr uint64_t kHvTestDmaMapsHostLimit = 256ull << 20;
// kHvTestShadowNoResync: shadow paging keeps its translations across INVLPG and CR3 loads
// (the forgotten resync): a guest that rewrites a PTE and INVLPGs it still reaches the old
// page (docs/hypervisor.md "Shadow paging"; the coherence test shows it).
inline constexpr uint64_t kHvTestShadowNoResync = 1u << 15;
// Every test flag hypervisor_main accepts.
inline constexpr uint64_t kHvTestFlagsMask = kHvTestShadowNoResync | kHvTestDmaMapsHost | kHvTestStaleIotlb | kHvTestNoScrub | kHvTestNoGuestStateSwitch | kHvTestInjectFailure | kHvTestInjectSliceMask |
                                             kHvTestNptMapsHost | kHvTestHypercallPhysical | kHvTestNoPreemption |
                                             kHvTestIoPassthrough;

// Runs the guests; every stop scrubs, and a failure of its own after the hand-off caps
// PCR17-20 first (fail_closed.hpp). The returned failure is the hypervisor's.
Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& handoff, uint64_t test_flags = 0);

// For a HAL's fault path (a CPU exception in the hypervisor's own code, or a failure of the
// HAL itself after the hand-off): the same cap, record and scrub as a failed Status, once.
// Does nothing before hypervisor_main started or after its stop; returns, and the HAL powers off.
void hypervisor_fatal(Err err, const char* message);
// Lets hypervisor_fatal cap before hypervisor_main runs (the HAL's own set-up after the hand-off:
// DMA protection take-over, timers): the HAL calls it first thing.
void hypervisor_fail_closed_from(hal::Platform& platform, hal::HypervisorHandoff& handoff);

}  // namespace redoubt::hv
