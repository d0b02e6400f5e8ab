// The TPM FIFO interface ("TIS") register map, TCG PC Client Platform TPM
// Profile (PTP) Specification for TPM 2.0, §6 "TPM FIFO Interface"
// (register space, register definitions, command/response state machine).
// Pure data: offsets and bits, no behaviour. Used by the simulated device
// (platform/sim/devices/tpm_tis) and the bare-metal driver
// (platform/x86/drivers/tpm_tis) alike.
#pragma once
#include <cstdint>

namespace redoubt::arch::tis {

// PTP §6 (register space): five 4 KiB locality windows at 0xFED4_0000 + 0x1000 * l.
inline constexpr uint64_t kBase = 0xFED40000;
inline constexpr uint64_t kLocalityStride = 0x1000;
inline constexpr uint32_t kLocalities = 5;
inline constexpr uint64_t kWindowSize = kLocalityStride * kLocalities;
constexpr uint64_t locality_base(uint32_t l) { return kBase + kLocalityStride * l; }

// Register offsets inside a locality window (PTP §6 (register space, register definitions)).
inline constexpr uint32_t kAccess = 0x000;         // TPM_ACCESS_x, 1 byte
inline constexpr uint32_t kIntEnable = 0x008;      // TPM_INT_ENABLE_x, 4 bytes
inline constexpr uint32_t kIntVector = 0x00C;      // TPM_INT_VECTOR_x, 1 byte (SIRQ number)
inline constexpr uint32_t kIntStatus = 0x010;      // TPM_INT_STATUS_x, 4 bytes
inline constexpr uint32_t kIntfCapability = 0x014; // TPM_INTF_CAPABILITY_x, 4 bytes
inline constexpr uint32_t kSts = 0x018;            // TPM_STS_x, 4 bytes (byte 0 status, 1-2 burstCount, 3 flags)
inline constexpr uint32_t kDataFifo = 0x024;       // TPM_DATA_FIFO_x, 4 bytes wide
inline constexpr uint32_t kInterfaceId = 0x030;    // TPM_INTERFACE_ID_x, 4 bytes
inline constexpr uint32_t kXDataFifo = 0x080;      // TPM_XDATA_FIFO_x, 64 bytes
inline constexpr uint32_t kXDataFifoEnd = 0x0BF;
inline constexpr uint32_t kDidVid = 0xF00;         // TPM_DID_VID_x, 4 bytes
inline constexpr uint32_t kRid = 0xF04;            // TPM_RID_x, 1 byte
static_assert(kSts + 4 <= kDataFifo && kDataFifo + 4 <= kInterfaceId && kRid < kLocalityStride);

// TPM_ACCESS_x bits (PTP §6 (TPM_ACCESS_x)).
namespace access {
inline constexpr uint8_t kTpmEstablishment = 1u << 0;  // reads 0 once a dynamic launch (_TPM_Hash_Start) happened
inline constexpr uint8_t kRequestUse = 1u << 1;
inline constexpr uint8_t kPendingRequest = 1u << 2;    // another locality asks for use
inline constexpr uint8_t kSeize = 1u << 3;             // write-only
inline constexpr uint8_t kBeenSeized = 1u << 4;        // write 1 to clear
inline constexpr uint8_t kActiveLocality = 1u << 5;    // write 1 to relinquish
inline constexpr uint8_t kTpmRegValidSts = 1u << 7;    // the other bits are valid
}  // namespace access

// TPM_STS_x bits (PTP §6 (TPM_STS_x)).
namespace sts {
inline constexpr uint32_t kResponseRetry = 1u << 1;    // write: rewind the response
inline constexpr uint32_t kSelfTestDone = 1u << 2;
inline constexpr uint32_t kExpect = 1u << 3;           // more command bytes expected
inline constexpr uint32_t kDataAvail = 1u << 4;        // response bytes to read
inline constexpr uint32_t kTpmGo = 1u << 5;            // write: execute the command
inline constexpr uint32_t kCommandReady = 1u << 6;     // read: ready for a command; write: abort/prepare
inline constexpr uint32_t kStsValid = 1u << 7;         // Expect and dataAvail are valid
inline constexpr uint32_t kBurstCountShift = 8;        // bits 23:8
inline constexpr uint32_t kBurstCountMask = 0xFFFFu << kBurstCountShift;
inline constexpr uint32_t kCommandCancel = 1u << 24;
inline constexpr uint32_t kResetEstablishmentBit = 1u << 25;  // localities 3/4 only
inline constexpr uint32_t kTpmFamilyShift = 26;        // bits 27:26
inline constexpr uint32_t kTpmFamilyMask = 3u << kTpmFamilyShift;
inline constexpr uint32_t kTpmFamily20 = 1u << kTpmFamilyShift;  // 01 = TPM 2.0
constexpr uint32_t burst_count(uint32_t s) { return (s & kBurstCountMask) >> kBurstCountShift; }
}  // namespace sts

// TPM_INTF_CAPABILITY_x bits (PTP §6 (TPM_INTF_CAPABILITY_x)).
namespace intf_cap {
inline constexpr uint32_t kDataAvailIntSupport = 1u << 0;
inline constexpr uint32_t kStsValidIntSupport = 1u << 1;
inline constexpr uint32_t kLocalityChangeIntSupport = 1u << 2;
inline constexpr uint32_t kInterruptLevelHigh = 1u << 3;
inline constexpr uint32_t kInterruptLevelLow = 1u << 4;
inline constexpr uint32_t kInterruptEdgeRising = 1u << 5;
inline constexpr uint32_t kInterruptEdgeFalling = 1u << 6;
inline constexpr uint32_t kCommandReadyIntSupport = 1u << 7;
inline constexpr uint32_t kInterruptMask = 0xFFu;      // every interrupt capability bit
inline constexpr uint32_t kBurstCountStatic = 1u << 8; // 0 = burstCount is dynamic
inline constexpr uint32_t kDataTransferShift = 9;      // bits 10:9: 00 legacy, 01 8 B, 10 32 B, 11 64 B
inline constexpr uint32_t kDataTransfer64B = 3u << kDataTransferShift;
inline constexpr uint32_t kInterfaceVersionShift = 28; // bits 30:28
inline constexpr uint32_t kInterfaceVersionTpm20 = 3u << kInterfaceVersionShift;  // 011 = FIFO for TPM 2.0
}  // namespace intf_cap

// TPM_INT_ENABLE_x bits (PTP §6 (TPM_INT_ENABLE_x)).
namespace int_enable {
inline constexpr uint32_t kGlobalIntEnable = 1u << 31;
}

// TPM_INTERFACE_ID_x (PTP §6 (TPM_INTERFACE_ID_x)).
namespace interface_id {
inline constexpr uint32_t kTypeMask = 0xF;          // bits 3:0 InterfaceType
inline constexpr uint32_t kTypeFifo = 0x0;          // FIFO interface for TPM 2.0
inline constexpr uint32_t kTypeTis13 = 0xF;         // legacy TIS 1.3 (TPM 1.2)
inline constexpr uint32_t kVersionFifo = 0u << 4;   // bits 7:4 InterfaceVersion
inline constexpr uint32_t kCapLocality = 1u << 8;   // all five localities
inline constexpr uint32_t kCapTis = 1u << 13;       // the FIFO interface is supported
inline constexpr uint32_t kIntfSelLock = 1u << 19;
}  // namespace interface_id

// PTP §6 (interface timeouts): the interface timeouts a driver waits at most.
inline constexpr uint32_t kTimeoutAMs = 750;   // locality access, register valid
inline constexpr uint32_t kTimeoutBMs = 2000;  // commandReady after abort
inline constexpr uint32_t kTimeoutCMs = 200;   // stsValid after a FIFO access
inline constexpr uint32_t kTimeoutDMs = 30;    // stsValid after tpmGo / responseRetry
// Longest command duration we allow (PTP §6, interface timeouts lists "long" commands at 2 s).
inline constexpr uint32_t kCommandDurationMs = 2000;

}  // namespace redoubt::arch::tis
