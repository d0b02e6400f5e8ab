// TPM 2.0 constants the freestanding code marshals by hand: structure tags,
// command codes, response codes, capabilities and handles, with the TPM 2.0
// Library Part 2 ("Structures") table each comes from. Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::tpm2 {

// TPM_ST, Part 2 §6.9 Table 19.
inline constexpr uint16_t kStNoSessions = 0x8001;
inline constexpr uint16_t kStSessions = 0x8002;

// TPM_CC, Part 2 §6.5.2 Table 12.
inline constexpr uint32_t kCcNvRead = 0x0000014E;
inline constexpr uint32_t kCcNvReadPublic = 0x00000169;
inline constexpr uint32_t kCcGetCapability = 0x0000017A;
inline constexpr uint32_t kCcPcrExtend = 0x00000182;
inline constexpr uint32_t kCcPcrEvent = 0x0000013C;   // Part 2 §6.5.2 TPM_CC_PCR_Event
inline constexpr uint32_t kCcPcrRead = 0x0000017E;
inline constexpr uint32_t kCcGetRandom = 0x0000017B;

// TPM_RC, Part 2 §6.6.3 Table 16.
inline constexpr uint32_t kRcSuccess = 0x000;
inline constexpr uint32_t kRcFailure = 0x101;              // RC_VER1 + 0x001
inline constexpr uint32_t kRcFormat1 = 0x080;              // bit 7: format-one response code
inline constexpr uint32_t kRcLocality = 0x907;             // RC_WARN + 0x007
inline constexpr uint32_t kRcNvUninitialized = 0x14A;      // RC_VER1 + 0x04A
inline constexpr uint32_t kRcNvAuthorization = 0x149;      // RC_VER1 + 0x049
inline constexpr uint32_t kRcNvLocked = 0x148;
inline constexpr uint32_t kRcCommandCode = 0x143;
inline constexpr uint32_t kRcHandle = 0x08B;               // RC_FMT1 + 0x00B

// TPM_CAP, Part 2 §6.12 Table 22.
inline constexpr uint32_t kCapPcrs = 0x00000005;

// TPM_RH / TPM_RS, Part 2 §7.4 Table 28.
inline constexpr uint32_t kRsPw = 0x40000009;  // password session (TPM_RS_PW)

// TPM_HT, Part 2 §7.2 Table 26: the handle type is the top byte.
inline constexpr uint8_t kHtNvIndex = 0x01;
inline constexpr uint8_t kHtPcr = 0x00;

// Header of every command and response (Part 1 §18 / Part 3 §4: tag, size, code).
inline constexpr uint32_t kHeaderSize = 10;
// Largest command or response the TPM accepts (TPM_PT_MAX_COMMAND_SIZE of libtpms and most chips).
inline constexpr uint32_t kMaxCommandSize = 4096;

// TPML_PCR_SELECTION sizeofSelect for 24 PCRs (PC Client: PCR 0-23), Part 2 §10.6.2.
inline constexpr uint8_t kPcrSelectSize = 3;
inline constexpr uint32_t kPcrCount = 24;

}  // namespace redoubt::arch::tpm2
