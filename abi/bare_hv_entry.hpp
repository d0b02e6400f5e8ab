// How the bare-metal SL enters hv.bin (platform/x86): the hypervisor's boot area.
// The SL carves it out of the END of the DEV-protected hypervisor memory (the run
// record stays at hv_memory[0], where the harness reads it) and enters hv_entry
// with RDI = its address, interrupts off, paging on (the SL's identity map).
// hv_entry.S reads the stack and page-table fields before any C++ runs; the
// offsets below are used from assembly and asserted here.
//
//   [0, 4 KiB)                       BareHvEntry (header + HypervisorHandoff copy)
//   [4 KiB, 12 KiB)                  the hypervisor's own PML4 + PDPT (identity, 1 GiB pages)
//   [12 KiB, kBareBootAreaBytes)     the hypervisor's stack (grows down from stack_top)
#pragma once

#define REDOUBT_BARE_HV_MAGIC 0x3130454854424452ull /* "RDBTHE01" read as a little-endian u64 */
#define REDOUBT_BARE_OFF_MAGIC 0
#define REDOUBT_BARE_OFF_STACK_TOP 8
#define REDOUBT_BARE_OFF_PAGE_TABLES 16
#define REDOUBT_BARE_OFF_OUTCOME 24
#define REDOUBT_BARE_OFF_FLAGS 32
#define REDOUBT_BARE_OFF_HANDOFF 64
#define REDOUBT_BARE_BOOT_AREA_BYTES (128 * 1024)
#define REDOUBT_BARE_PAGE_TABLES_OFFSET 4096
#define REDOUBT_BARE_STACK_TOP_OFFSET (REDOUBT_BARE_BOOT_AREA_BYTES - 16)

#ifndef __ASSEMBLER__
#include <cstddef>
#include <cstdint>

#include "abi/handoff.hpp"

namespace redoubt::abi {

inline constexpr uint64_t kBareHvMagic = REDOUBT_BARE_HV_MAGIC;
inline constexpr uint64_t kBareBootAreaBytes = REDOUBT_BARE_BOOT_AREA_BYTES;
inline constexpr uint64_t kBarePageTablesOffset = REDOUBT_BARE_PAGE_TABLES_OFFSET;
inline constexpr uint64_t kBareStackTopOffset = REDOUBT_BARE_STACK_TOP_OFFSET;

// Test-only behaviour, set only by the QEMU boot stub's synthetic hand-off; the
// SL always writes 0. They change what the hypervisor does, not what it trusts.
inline constexpr uint64_t kBareFlagSelfTestVmrun = 1u << 0;  // run the VMRUN/GPR-exchange self-test guest
inline constexpr uint64_t kBareFlagSelfTestFault = 1u << 1;  // execute ud2: the FATAL path must power off
// Test-only: the hypervisor does not switch guest DR0-3, x87/SSE and CR8 (hypervisor/core/entry.hpp
// kHvTestNoGuestStateSwitch), so the leak test can show it fails without the switch.
inline constexpr uint64_t kBareFlagNoGuestStateSwitch = 1u << 2;
// Test-only: the DMA attack self-test (platform/x86/hv_dma_selftest.hpp): the hypervisor enables
// AMD-Vi itself, grants QEMU's edu device one window page and has it attack the rest of memory.
inline constexpr uint64_t kBareFlagSelfTestDma = 1u << 3;
// Test-only, with kBareFlagSelfTestDma: leave the IOMMU off, so the test can show the attack succeeds then.
inline constexpr uint64_t kBareFlagSelfTestDmaNoProtection = 1u << 4;
// Test-only: the hypervisor fails on purpose once more than (flags >> 16) & 0xFFFF slices ran
// (hypervisor/core/entry.hpp kHvTestInjectFailure): the fail-closed path on demand.
inline constexpr uint64_t kBareFlagInjectFailure = 1u << 5;
// Test-only (docs/dma.md "The DEV → AMD-Vi hand-off"): the hypervisor clears DEV_EN before it
// programs AMD-Vi, the unprotected window of the naive hand-off, so the attack test can show a
// DMA fired in it lands.
inline constexpr uint64_t kBareFlagDevOffBeforeIommu = 1u << 12;
// Test-only (hypervisor/core/entry.hpp kHvTestStaleIotlb): a torn-down guest's devices are
// blocked in the device table but neither the DTE / IOTLB caches are invalidated nor the DEV closed.
inline constexpr uint64_t kBareFlagStaleIotlb = 1u << 11;
// Test-only (hypervisor/core/entry.hpp kHvTestDmaMapsHost): an assigned device's I/O domain also
// maps IOVA = host-physical over [its guest's RAM size, 256 MiB): the device is not confined.
inline constexpr uint64_t kBareFlagDmaMapsHost = 1u << 13;
// Test-only, UNMEASURED (docs/intel.md "Bochs"): the Bochs boot stub's hand-off, never the SL's.
// No TPM and no IOMMU exist there: hv.bin says UNMEASURED on its console, extends no PCR (an
// UnmeasuredTpm counts the extends it did not make), reads no NV counter (no SVN floor), and
// takes memory as DMA-safe (the emulator has no bus master). Not in kBareFlagHvTestMask, so a
// test image (HvTestImage) cannot set it; an SL always writes flags = 0.
inline constexpr uint64_t kBareFlagUnmeasured = 1u << 14;
inline constexpr uint64_t kBareFlagInjectSliceShift = 16;
inline constexpr uint64_t kBareFlagInjectSliceMask = 0xFFFFull << kBareFlagInjectSliceShift;
// Test-only: the protections `redoubt attack run --protection-off` turns off (hypervisor/core/entry.hpp
// kHvTestNptMapsHost, kHvTestHypercallPhysical, kHvTestNoPreemption, kHvTestIoPassthrough).
inline constexpr uint64_t kBareFlagNptMapsHost = 1u << 6;
inline constexpr uint64_t kBareFlagHypercallPhysical = 1u << 7;
inline constexpr uint64_t kBareFlagNoPreemption = 1u << 8;
inline constexpr uint64_t kBareFlagIoPassthrough = 1u << 9;
// Test-only: the stop scrubs nothing (hypervisor/core/entry.hpp kHvTestNoScrub).
inline constexpr uint64_t kBareFlagNoScrub = 1u << 10;
// Test-only (hypervisor/core/entry.hpp kHvTestShadowNoResync): shadow paging skips its resync on
// INVLPG and CR3 loads (stale translations, for the coherence test).
inline constexpr uint64_t kBareFlagShadowNoResync = 1u << 15;
// The flags hv_main passes on to hypervisor_main.
inline constexpr uint64_t kBareFlagHvTestMask = kBareFlagShadowNoResync | kBareFlagDmaMapsHost | kBareFlagStaleIotlb | kBareFlagNoScrub | kBareFlagNoGuestStateSwitch | kBareFlagInjectFailure | kBareFlagInjectSliceMask |
                                                kBareFlagNptMapsHost | kBareFlagHypercallPhysical | kBareFlagNoPreemption |
                                                kBareFlagIoPassthrough;
// Every flag has a bit of its own (two merges once gave two switches one bit).
inline constexpr uint64_t kBareFlagsAll[] = {kBareFlagShadowNoResync, kBareFlagSelfTestVmrun, kBareFlagSelfTestFault, kBareFlagNoGuestStateSwitch,
                                             kBareFlagSelfTestDma, kBareFlagSelfTestDmaNoProtection, kBareFlagInjectFailure,
                                             kBareFlagNptMapsHost, kBareFlagHypercallPhysical, kBareFlagNoPreemption,
                                             kBareFlagIoPassthrough, kBareFlagNoScrub, kBareFlagStaleIotlb,
                                             kBareFlagDevOffBeforeIommu, kBareFlagDmaMapsHost, kBareFlagInjectSliceMask, kBareFlagUnmeasured};
constexpr bool bare_flags_distinct() {
  uint64_t seen = 0;
  for (uint64_t f : kBareFlagsAll) {
    if (seen & f) return false;
    seen |= f;
  }
  return true;
}
static_assert(bare_flags_distinct(), "two hv.bin test flags share a bit");
// A test image's block must never reach the UNMEASURED mode (docs/intel.md "Bochs"): hv.bin takes
// only these bits from it.
static_assert((kBareFlagUnmeasured & (kBareFlagHvTestMask | kBareFlagDevOffBeforeIommu)) == 0,
              "a test image could set the unmeasured hand-off");

// A test image's switches (docs/qemu.md "Test images"). The SL always hands hv.bin a boot area
// with flags = 0, so where the SL runs for real (full-system, QEMU) a test switch cannot come
// from the boot area: it is built into a copy of hv.bin instead. hv.bin carries this block in
// its .data with flags = 0; the harness writes the switches into a copy (`redoubt run
// --test-*`), which is then a different image: its digest is measured into PCR17/18 by the SL
// (so no verifier that knows the release hv.bin accepts it) and its manifest must be signed
// again. The hypervisor ORs `flags & (kBareFlagHvTestMask | kBareFlagDevOffBeforeIommu)` into
// the boot area's and says so on its console and in the run record.
inline constexpr char kHvTestImageMagic[16] = {'R', 'D', 'B', 'T', '-', 'H', 'V', '-', 'T', 'E', 'S', 'T', '-', 'S', 'W', '1'};
struct HvTestImage {
  char magic[16];  // kHvTestImageMagic: occurs exactly once in hv.bin
  uint64_t flags;  // 0 in a release image
  uint64_t reserved;
};
static_assert(sizeof(HvTestImage) == 32);

// The fixed header: every field a u64 at a naturally aligned offset, so any
// loader (the SL, the QEMU boot stub) writes the same bytes.
struct BareHvEntryHeader {
  uint64_t magic;            // kBareHvMagic
  uint64_t stack_top;        // 16-byte aligned top of the hypervisor stack (inside the boot area)
  uint64_t page_tables_pa;   // 8 KiB, 4 KiB aligned: where hv_entry builds its PML4 + PDPT
  uint64_t outcome_pa;       // abi::LaunchOutcome to fill in (0 = none), checked by the SL
  uint64_t flags;            // kBareFlag*
  uint64_t reserved[3];
};
static_assert(sizeof(BareHvEntryHeader) == REDOUBT_BARE_OFF_HANDOFF);
static_assert(offsetof(BareHvEntryHeader, magic) == REDOUBT_BARE_OFF_MAGIC);
static_assert(offsetof(BareHvEntryHeader, stack_top) == REDOUBT_BARE_OFF_STACK_TOP);
static_assert(offsetof(BareHvEntryHeader, page_tables_pa) == REDOUBT_BARE_OFF_PAGE_TABLES);
static_assert(offsetof(BareHvEntryHeader, outcome_pa) == REDOUBT_BARE_OFF_OUTCOME);
static_assert(offsetof(BareHvEntryHeader, flags) == REDOUBT_BARE_OFF_FLAGS);

// The whole block at the start of the boot area; RDI at hv_entry points here.
struct BareHvEntry {
  BareHvEntryHeader hdr;
  hal::HypervisorHandoff handoff;  // the SL's hand-off, copied out of its stack
};
static_assert(offsetof(BareHvEntry, handoff) == REDOUBT_BARE_OFF_HANDOFF);
static_assert(sizeof(BareHvEntry) <= REDOUBT_BARE_PAGE_TABLES_OFFSET, "the hand-off block must fit its page");

}  // namespace redoubt::abi
#endif
