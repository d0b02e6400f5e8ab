// Test-only path of hv.bin (abi::kBareFlagSelfTestDma, set only by the QEMU boot
// stub's mode=hv-dma / hv-dma-off): a DMA attack by QEMU's `edu` PCI device
// against memory AMD-Vi protects (docs/dma.md "AMD-Vi").
#pragma once
#include "abi/bare_hv_entry.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

// With `protect`, enables AMD-Vi over a region of the hypervisor memory (every
// device blocked) and grants edu one window page; then has edu (a) read a secret
// page and write what it got into the window, (b) write a pattern over a
// protected page, (c) copy bytes within the window (the positive control: the
// device really does DMA). Prints each result and the IOMMU's event log. Ok only
// if (c) worked and (a) and (b) were blocked; without `protect` the attack
// succeeds and the status says what leaked.
Status dma_selftest(hal::Platform& platform, const abi::BareHvEntry& entry, bool protect);

}  // namespace redoubt::x86
