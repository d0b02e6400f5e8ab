// The local APIC register page (AMD APM vol. 2 §16.3 "Local APIC", Table 16-2
// "APIC Registers"; the timer: §16.4.1 "APIC Timer Interrupt"). Default base
// 0xFEE0_0000 (APIC_BASE MSR 0x1B). Registers are 32 bits wide at 16-byte
// aligned offsets. AMD has no TSC-deadline timer mode (that is Intel's
// IA32_TSC_DEADLINE); LVT timer bit 17 selects one-shot or periodic only.
// Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::lapic {

inline constexpr uint64_t kBase = 0xFEE00000;
inline constexpr uint64_t kSize = 0x1000;

inline constexpr uint32_t kId = 0x020;
inline constexpr uint32_t kVersion = 0x030;
inline constexpr uint32_t kTpr = 0x080;
inline constexpr uint32_t kApr = 0x090;
inline constexpr uint32_t kPpr = 0x0A0;
inline constexpr uint32_t kEoi = 0x0B0;
inline constexpr uint32_t kLdr = 0x0D0;
inline constexpr uint32_t kDfr = 0x0E0;
inline constexpr uint32_t kSvr = 0x0F0;
inline constexpr uint32_t kIsr = 0x100;  // 8 registers, 0x100..0x170, 32 vectors each
inline constexpr uint32_t kTmr = 0x180;
inline constexpr uint32_t kIrr = 0x200;
inline constexpr uint32_t kEsr = 0x280;
inline constexpr uint32_t kIcrLo = 0x300;
inline constexpr uint32_t kIcrHi = 0x310;
inline constexpr uint32_t kLvtTimer = 0x320;
inline constexpr uint32_t kLvtThermal = 0x330;
inline constexpr uint32_t kLvtPerf = 0x340;
inline constexpr uint32_t kLvtLint0 = 0x350;
inline constexpr uint32_t kLvtLint1 = 0x360;
inline constexpr uint32_t kLvtError = 0x370;
inline constexpr uint32_t kTimerInitialCount = 0x380;
inline constexpr uint32_t kTimerCurrentCount = 0x390;
inline constexpr uint32_t kTimerDivide = 0x3E0;

// Version register: [7:0] version (1xh = integrated APIC), [23:16] MaxLVTEntry.
inline constexpr uint32_t kVersionValue = 0x00050010;  // 6 LVT entries (timer .. error)

namespace svr {
inline constexpr uint32_t kVectorMask = 0xFF;
inline constexpr uint32_t kApicSoftwareEnable = 1u << 8;
inline constexpr uint32_t kFocusCheckDisable = 1u << 9;
}  // namespace svr

namespace lvt {
inline constexpr uint32_t kVectorMask = 0xFF;
inline constexpr uint32_t kDeliveryStatus = 1u << 12;  // read-only
inline constexpr uint32_t kMask = 1u << 16;
inline constexpr uint32_t kTimerPeriodic = 1u << 17;   // 0 = one-shot
inline constexpr uint32_t kReset = kMask;              // every LVT entry after reset: masked, vector 0
}  // namespace lvt

// Divide configuration: bits 3,1,0 (bit 2 reserved). 000 /2, 001 /4, 010 /8,
// 011 /16, 100 /32, 101 /64, 110 /128, 111 /1.
inline constexpr uint32_t kDivideBy1 = 0xB;
constexpr uint32_t divide_value(uint32_t dcr) {
  const uint32_t code = ((dcr >> 1) & 4) | (dcr & 3);
  return code == 7 ? 1 : 2u << code;
}
static_assert(divide_value(0x0) == 2 && divide_value(0x3) == 16 && divide_value(0x8) == 32 &&
              divide_value(0xA) == 128 && divide_value(kDivideBy1) == 1);

// ESR bit for an illegal (0-15) vector in an LVT entry.
inline constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;

}  // namespace redoubt::arch::lapic
