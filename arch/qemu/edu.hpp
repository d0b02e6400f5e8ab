// QEMU's educational PCI device "edu" (QEMU 7.2 hw/misc/edu.c; docs/dma.md): a DMA engine
// with a 4 KiB buffer, the one PCI bus master QEMU offers that software can point at any
// address. Pure data: what the hypervisor's assignment code and the DMA self-test need.
#pragma once
#include <cstdint>

namespace redoubt::arch::edu {

inline constexpr uint16_t kVendorId = 0x1234;  // PCI_VENDOR_ID_QEMU (edu_class_init)
inline constexpr uint16_t kDeviceId = 0x11e8;
inline constexpr uint64_t kBarSize = 1ull << 20;  // BAR0: 1 MiB of 32-bit memory (pci_edu_realize)

// BAR0 registers (edu_mmio_read/write): 4-byte accesses below 0x80, 4 or 8 at and above it.
inline constexpr uint32_t kIdent = 0x00;  // 0x010000ed: version 1.0, "ed"
inline constexpr uint32_t kIdentValue = 0x010000ed;
inline constexpr uint32_t kDmaSrc = 0x80, kDmaDst = 0x88, kDmaCount = 0x90, kDmaCmd = 0x98;
inline constexpr uint32_t kCmdRun = 1u << 0;    // EDU_DMA_RUN: cleared when the transfer is done
inline constexpr uint32_t kCmdToRam = 1u << 1;  // EDU_DMA_DIR 1 (EDU_DMA_TO_PCI): buffer -> memory; 0: memory -> buffer
inline constexpr uint64_t kBuffer = 0x40000;    // DMA_START: the buffer's device-side address
inline constexpr uint32_t kBufferSize = 4096;   // DMA_SIZE
// DMA addresses are masked to 28 bits (edu_instance_init dma_mask); a transfer starts 100 ms of
// virtual time after the command (edu_dma_timer); only with Bus Master on.
inline constexpr uint64_t kDmaMask = (1ull << 28) - 1;

}  // namespace redoubt::arch::edu
