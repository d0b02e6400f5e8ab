// The Redoubt DMA engine: a programmable PCI bus master of the simulator
// (platform/sim/devices/dma_engine), the device attacks and assigned guests
// program (docs/devices.md "DMA engine"). Its register interface is Redoubt's own
// contract between the simulated hardware and whatever drives it (the test
// harness as an attacker today; a hypervisor or guest driver later), so it lives
// here, as pure data.
//
// PCI: vendor 1234h (the ID QEMU's own test devices use, e.g. edu), device 5244h
// ("RD"), class 08h/80h (other system peripheral), header type 0. BAR0: a 32-bit
// non-prefetchable memory BAR of 8 KiB: registers in the first 4 KiB, the
// engine's 4 KiB buffer in the second. Command register: Memory Space (bit 1)
// decodes BAR0, Bus Master (bit 2) lets the engine do DMA.
//
// Registers (little-endian; 32-bit registers take 4-byte accesses, 64-bit ones
// 4- or 8-byte accesses, low dword at the lower offset):
//   000h ID         RO  "RDMA" (0x414D4452)      004h VERSION  RO  1
//   008h REQUESTER  RO  DeviceID: bus[15:8] device[7:3] function[2:0]
//   010h SRC        RW  64-bit device-side source address (COPY, READ)
//   018h DST        RW  64-bit device-side destination address (COPY, WRITE, FILL)
//   020h LEN        RW  bytes, 1..kMaxLength (READ/WRITE: at most the 4 KiB buffer)
//   024h OP         RW  kOpCopy / kOpRead / kOpWrite / kOpFill
//   028h PATTERN    RW  64-bit FILL pattern (repeated, little-endian)
//   030h DOORBELL   WO  write kGo: run OP now (the transfer completes before the write returns)
//   034h STATUS     RW1C kDone | kFault | kError of the last operation
//   038h FAULT_ADDR RO  64-bit device-side address of the first blocked page
//   040h FAULT_INFO RO  [0] write, [15:8] blocker (kBlocker*), [31:16] error (kErr*)
//   044h BYTES      RO  bytes written to memory or the buffer by the last operation (0 when it faulted)
//   048h COMPLETED  RO  operations that completed          04Ch FAULTS RO operations that faulted
//   1000h-1FFFh BUFFER RW the engine's own buffer (READ fills it, WRITE drains it)
// A blocked transfer moves nothing at all: COPY reads the whole source before it
// writes, and every page of an access is checked before a byte moves.
#pragma once
#include <cstdint>

namespace redoubt::abi::dma_engine {

inline constexpr uint16_t kVendorId = 0x1234;
inline constexpr uint16_t kDeviceId = 0x5244;
inline constexpr uint32_t kClassCode = 0x088000;  // base system peripheral, other
inline constexpr uint32_t kBarSize = 0x2000;
inline constexpr uint8_t kBar0 = 0x10;

inline constexpr uint32_t kId = 0x000;
inline constexpr uint32_t kIdValue = 0x414D4452;  // "RDMA" as bytes
inline constexpr uint32_t kVersion = 0x004;
inline constexpr uint32_t kRequester = 0x008;
inline constexpr uint32_t kSrc = 0x010;
inline constexpr uint32_t kDst = 0x018;
inline constexpr uint32_t kLen = 0x020;
inline constexpr uint32_t kOp = 0x024;
inline constexpr uint32_t kPattern = 0x028;
inline constexpr uint32_t kDoorbell = 0x030;
inline constexpr uint32_t kStatus = 0x034;
inline constexpr uint32_t kFaultAddr = 0x038;
inline constexpr uint32_t kFaultInfo = 0x040;
inline constexpr uint32_t kBytes = 0x044;
inline constexpr uint32_t kCompleted = 0x048;
inline constexpr uint32_t kFaults = 0x04C;
inline constexpr uint32_t kBuffer = 0x1000;
inline constexpr uint32_t kBufferSize = 0x1000;
static_assert(kBuffer + kBufferSize == kBarSize);

inline constexpr uint32_t kMaxLength = 1u << 20;  // 1 MiB per operation

enum Op : uint32_t { kOpCopy = 0, kOpRead = 1, kOpWrite = 2, kOpFill = 3 };
inline constexpr uint32_t kGo = 1;

inline constexpr uint32_t kDone = 1u << 0;   // the operation completed
inline constexpr uint32_t kFault = 1u << 1;  // a page was blocked (DEV, IOMMU, or no memory there)
inline constexpr uint32_t kError = 1u << 2;  // refused before any access (FAULT_INFO[31:16] says why)

inline constexpr uint32_t kInfoWrite = 1u << 0;
inline constexpr uint32_t kBlockerShift = 8;  // = sim::DmaBlocker
inline constexpr uint32_t kBlockerOutsideRam = 1, kBlockerDev = 2, kBlockerIommu = 3;
inline constexpr uint32_t kErrShift = 16;
inline constexpr uint32_t kErrLength = 1, kErrOp = 2, kErrBusMaster = 3, kErrWrap = 4;

// PCI command register bits the engine honours (PCI 3.0 §6.2.2).
inline constexpr uint16_t kCmdMemory = 1u << 1;
inline constexpr uint16_t kCmdBusMaster = 1u << 2;

}  // namespace redoubt::abi::dma_engine
