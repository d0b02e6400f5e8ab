// CPUID leaves and feature bits (AMD APM vol. 3 Appendix E "Obtaining
// Processor Information Via the CPUID Instruction"; AMD CPUID Specification #25481).
#pragma once
#include <cstdint>

namespace redoubt::x86::cpuid {

inline constexpr uint32_t kLeafVendor = 0x00000000;      // EAX max standard leaf, vendor in EBX EDX ECX
inline constexpr uint32_t kLeafFeatures = 0x00000001;    // EAX signature, ECX/EDX features
inline constexpr uint32_t kLeafExtMax = 0x80000000;      // EAX max extended leaf, vendor again
inline constexpr uint32_t kLeafExtFeatures = 0x80000001;
inline constexpr uint32_t kLeafAddressSizes = 0x80000008;
inline constexpr uint32_t kLeafSvm = 0x8000000A;

// "AuthenticAMD" as EBX, EDX, ECX.
inline constexpr uint32_t kVendorEbx = 0x68747541, kVendorEdx = 0x69746E65, kVendorEcx = 0x444D4163;

// "GenuineIntel" as EBX, EDX, ECX (Intel SDM vol. 2A "CPUID", leaf 0).
inline constexpr uint32_t kIntelVendorEbx = 0x756E6547, kIntelVendorEdx = 0x49656E69, kIntelVendorEcx = 0x6C65746E;
// CPUID.1:ECX on Intel (SDM vol. 2A Table 3-10): VMX and SMX.
inline constexpr uint32_t kIntelFn1EcxVmx = 1u << 5, kIntelFn1EcxSmx = 1u << 6;

// Fn0000_0001_EDX (E.3.2).
enum Fn1Edx : uint32_t {
  kFpu = 1u << 0, kVme = 1u << 1, kDe = 1u << 2, kPse = 1u << 3, kTsc = 1u << 4, kMsr = 1u << 5, kPae = 1u << 6,
  kMce = 1u << 7, kCx8 = 1u << 8, kApic = 1u << 9, kSysEnter = 1u << 11, kMtrr = 1u << 12, kPge = 1u << 13,
  kMca = 1u << 14, kCmov = 1u << 15, kPat = 1u << 16, kPse36 = 1u << 17, kClflush = 1u << 19, kMmx = 1u << 23,
  kFxsr = 1u << 24, kSse = 1u << 25, kSse2 = 1u << 26, kHtt = 1u << 28,
};
// Fn0000_0001_ECX (E.3.2).
enum Fn1Ecx : uint32_t {
  kSse3 = 1u << 0, kPclmulqdq = 1u << 1, kMonitor = 1u << 3, kSsse3 = 1u << 9, kFma = 1u << 12,
  kCx16 = 1u << 13, kSse41 = 1u << 19, kSse42 = 1u << 20, kMovbe = 1u << 22, kPopcnt = 1u << 23,
  kAes = 1u << 25, kXsave = 1u << 26, kAvx = 1u << 28, kRdrand = 1u << 30, kHypervisor = 1u << 31,
};
// Fn8000_0001_ECX (E.4.2).
enum ExtEcx : uint32_t {
  kLahfSahf = 1u << 0, kCmpLegacy = 1u << 1, kSvm = 1u << 2, kExtApicSpace = 1u << 3, kAltMovCr8 = 1u << 4,
  kAbm = 1u << 5, kSse4a = 1u << 6, kSkinit = 1u << 12,
};
// Fn8000_0001_EDX (E.4.2): bits 0-9, 12-17, 23, 24 mirror Fn0000_0001_EDX.
enum ExtEdx : uint32_t {
  kSysCall = 1u << 11, kNx = 1u << 20, kMmxExt = 1u << 22, kFfxsr = 1u << 25, kPage1Gb = 1u << 26,
  kRdtscp = 1u << 27, kLm = 1u << 29,
};
inline constexpr uint32_t kExtEdxMirrorOfFn1 = 0x0183F3FF;  // bits 0-9, 12-17, 23, 24
// Fn8000_000A_EDX (E.4.9): SVM features.
enum SvmEdx : uint32_t {
  kNp = 1u << 0, kLbrVirt = 1u << 1, kSvmLock = 1u << 2, kNrips = 1u << 3, kTscRateMsr = 1u << 4,
  kVmcbClean = 1u << 5, kFlushByAsid = 1u << 6, kDecodeAssists = 1u << 7, kPauseFilter = 1u << 10,
  kAvic = 1u << 13, kVGif = 1u << 16,
};

static_assert(kExtEdxMirrorOfFn1 == ((0x3FFu) | (0x3Fu << 12) | (1u << 23) | (1u << 24)));

}  // namespace redoubt::x86::cpuid
