// SSE/SSE2 architectural facts: MXCSR (AMD APM vol. 1 §4.2.2, Intel SDM vol. 1
// §10.2.3), the control bits that enable the 128-bit media instructions (APM
// vol. 2 §11.3, §11.5), and the 512-byte FXSAVE/FXRSTOR image (APM vol. 5
// "FXSAVE"; Intel SDM vol. 2A FXSAVE Table 3-53, 64-bit format).
#pragma once
#include <cstddef>
#include <cstdint>

#include "arch/x86/control_regs.hpp"

namespace redoubt::x86 {

// ---- MXCSR (APM vol. 1 Figure 4-3) ----
inline constexpr uint32_t kMxcsrIE = 1u << 0;   // invalid operation flag
inline constexpr uint32_t kMxcsrDE = 1u << 1;   // denormal
inline constexpr uint32_t kMxcsrZE = 1u << 2;   // zero divide
inline constexpr uint32_t kMxcsrOE = 1u << 3;   // overflow
inline constexpr uint32_t kMxcsrUE = 1u << 4;   // underflow
inline constexpr uint32_t kMxcsrPE = 1u << 5;   // precision
inline constexpr uint32_t kMxcsrFlags = 0x3F;
inline constexpr uint32_t kMxcsrDaz = 1u << 6;  // denormals are zeros
inline constexpr unsigned kMxcsrMaskShift = 7;  // IM DM ZM OM UM PM = flags << 7
inline constexpr uint32_t kMxcsrMasks = 0x3Fu << kMxcsrMaskShift;
inline constexpr uint32_t kMxcsrRcShift = 13;   // RC: 00 nearest, 01 down, 10 up, 11 toward zero
inline constexpr uint32_t kMxcsrFtz = 1u << 15;  // flush to zero
inline constexpr uint32_t kMxcsrReset = 0x1F80;  // all exceptions masked, RC nearest (SDM vol. 3A Table 9-1)
// Bits a write may set (MXCSR_MASK as FXSAVE reports it): 15:0, DAZ included. Bit 17
// (AMD MM, misaligned SSE) is not modelled; LDMXCSR/FXRSTOR with bits 31:16 set #GP(0).
inline constexpr uint32_t kMxcsrWritable = 0xFFFF;

// ---- control bits (APM vol. 2 §3.1.1, §3.1.3) ----
// CR0.MP/EM/TS: arch/x86/control_regs.hpp.
inline constexpr uint64_t kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10;
inline constexpr uint64_t kEferFfxsr = 1ull << 14;  // fast FXSAVE/FXRSTOR (APM vol. 2 §3.1.7)

inline constexpr uint8_t kVectorNM = 7;   // device not available
inline constexpr uint8_t kVectorXM = 19;  // SIMD floating-point exception

// ---- the x87 state the simulator holds: the FNINIT state (APM vol. 5 "FINIT/FNINIT") ----
inline constexpr uint16_t kFcwInit = 0x037F;       // all x87 exceptions masked, 64-bit precision, nearest
inline constexpr uint16_t kFswInit = 0x0000;
inline constexpr uint8_t kFtwAbridgedInit = 0x00;  // tag word FFFFh: all eight registers empty

// ---- FXSAVE/FXRSTOR image, 64-bit format (REX.W: FXSAVE64) and the 32-bit-pointer format ----
struct FxsaveImage {
  uint16_t fcw;          // 0
  uint16_t fsw;          // 2
  uint8_t ftw;           // 4: abridged tag word, one bit per register (1 = valid)
  uint8_t reserved5;     // 5
  uint16_t fop;          // 6
  uint64_t fip;          // 8: FPU IP (FXSAVE64); FXSAVE: FIP[31:0], FCS, reserved
  uint64_t fdp;          // 16: FPU DP (FXSAVE64); FXSAVE: FDP[31:0], FDS, reserved
  uint32_t mxcsr;        // 24
  uint32_t mxcsr_mask;   // 28
  uint8_t st[8][16];     // 32: ST0-ST7 / MM0-MM7, 80 bits each in a 16-byte slot
  uint8_t xmm[16][16];   // 160: XMM0-XMM15
  uint8_t reserved[96];  // 416: 416-463 reserved, 464-511 available to software (not written)
};
static_assert(sizeof(FxsaveImage) == 512);
static_assert(offsetof(FxsaveImage, fop) == 6);
static_assert(offsetof(FxsaveImage, fip) == 8);
static_assert(offsetof(FxsaveImage, fdp) == 16);
static_assert(offsetof(FxsaveImage, mxcsr) == 24);
static_assert(offsetof(FxsaveImage, mxcsr_mask) == 28);
static_assert(offsetof(FxsaveImage, st) == 32);
static_assert(offsetof(FxsaveImage, xmm) == 160);
static_assert(offsetof(FxsaveImage, reserved) == 416);

}  // namespace redoubt::x86
