// VMCS component encodings (Intel SDM vol. 3C Appendix B, "Field Encoding in
// VMCS"; encoding rules §25.11.2, Table 25-21). Software reaches the VMCS only
// through VMREAD/VMWRITE with these 32-bit encodings; the in-memory layout is
// implementation specific (§25.2). See arch/vmx/sdm.hpp for the edition.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx {

// ---- the encoding rules (§25.11.2, Table 25-21) ----
// bit 0: access type (0 full, 1 high: the upper 32 bits of a 64-bit field)
// bits 9:1 index, bits 11:10 type, bit 12 reserved (0), bits 14:13 width, bits 31:15 reserved (0).
enum class FieldWidth : uint8_t { w16 = 0, w64 = 1, w32 = 2, natural = 3 };
enum class FieldType : uint8_t { control = 0, read_only = 1, guest = 2, host = 3 };

constexpr FieldWidth field_width(uint32_t enc) { return FieldWidth((enc >> 13) & 3); }
constexpr FieldType field_type(uint32_t enc) { return FieldType((enc >> 10) & 3); }
constexpr unsigned field_index(uint32_t enc) { return (enc >> 1) & 0x1FF; }
constexpr bool field_high(uint32_t enc) { return enc & 1; }
// Reserved encoding bits (12, 31:15) are set; or bit 0 set on a field that is not 64-bit (§25.11.2).
constexpr bool field_encoding_malformed(uint32_t enc) {
  return (enc & 0xFFFF9000u) != 0 || (field_high(enc) && field_width(enc) != FieldWidth::w64);
}
constexpr uint32_t make_field(FieldWidth w, FieldType t, unsigned index, bool high = false) {
  return (uint32_t(w) << 13) | (uint32_t(t) << 10) | (index << 1) | (high ? 1u : 0u);
}

// Every field below is a Field; `field_ok<E, W, T>` asserts that E follows the rules.
template <uint32_t E, FieldWidth W, FieldType T>
inline constexpr bool field_ok = field_width(E) == W && field_type(E) == T && !field_high(E) && !field_encoding_malformed(E);

// ---- 16-bit control fields (B.1.1) ----
inline constexpr uint32_t kVpid = 0x0000;
inline constexpr uint32_t kPostedIntNotificationVector = 0x0002;
inline constexpr uint32_t kEptpIndex = 0x0004;
inline constexpr uint32_t kHlatPrefixSize = 0x0006;
inline constexpr uint32_t kLastPidPointerIndex = 0x0008;
// ---- 16-bit guest-state fields (B.1.2) ----
inline constexpr uint32_t kGuestEsSelector = 0x0800, kGuestCsSelector = 0x0802, kGuestSsSelector = 0x0804,
                          kGuestDsSelector = 0x0806, kGuestFsSelector = 0x0808, kGuestGsSelector = 0x080A,
                          kGuestLdtrSelector = 0x080C, kGuestTrSelector = 0x080E;
inline constexpr uint32_t kGuestInterruptStatus = 0x0810, kGuestPmlIndex = 0x0812, kGuestUinv = 0x0814;
// ---- 16-bit host-state fields (B.1.3) ----
inline constexpr uint32_t kHostEsSelector = 0x0C00, kHostCsSelector = 0x0C02, kHostSsSelector = 0x0C04,
                          kHostDsSelector = 0x0C06, kHostFsSelector = 0x0C08, kHostGsSelector = 0x0C0A,
                          kHostTrSelector = 0x0C0C;

// ---- 64-bit control fields (B.2.1) ----
inline constexpr uint32_t kIoBitmapA = 0x2000, kIoBitmapB = 0x2002, kMsrBitmap = 0x2004;
inline constexpr uint32_t kExitMsrStoreAddr = 0x2006, kExitMsrLoadAddr = 0x2008, kEntryMsrLoadAddr = 0x200A;
inline constexpr uint32_t kExecutiveVmcsPointer = 0x200C, kPmlAddress = 0x200E, kTscOffset = 0x2010;
inline constexpr uint32_t kVirtualApicAddr = 0x2012, kApicAccessAddr = 0x2014, kPostedIntDescAddr = 0x2016;
inline constexpr uint32_t kVmFunctionControls = 0x2018, kEptPointer = 0x201A;
inline constexpr uint32_t kEoiExitBitmap0 = 0x201C, kEoiExitBitmap1 = 0x201E, kEoiExitBitmap2 = 0x2020,
                          kEoiExitBitmap3 = 0x2022;
inline constexpr uint32_t kEptpListAddr = 0x2024, kVmreadBitmap = 0x2026, kVmwriteBitmap = 0x2028;
inline constexpr uint32_t kVeInfoAddr = 0x202A, kXssExitingBitmap = 0x202C, kEnclsExitingBitmap = 0x202E;
inline constexpr uint32_t kSppTablePointer = 0x2030, kTscMultiplier = 0x2032, kTertiaryProcControls = 0x2034;
// ---- 64-bit read-only data field (B.2.2) ----
inline constexpr uint32_t kGuestPhysicalAddress = 0x2400;
// ---- 64-bit guest-state fields (B.2.3) ----
inline constexpr uint32_t kVmcsLinkPointer = 0x2800, kGuestDebugctl = 0x2802, kGuestPat = 0x2804,
                          kGuestEfer = 0x2806, kGuestPerfGlobalCtrl = 0x2808;
inline constexpr uint32_t kGuestPdpte0 = 0x280A, kGuestPdpte1 = 0x280C, kGuestPdpte2 = 0x280E, kGuestPdpte3 = 0x2810;
inline constexpr uint32_t kGuestBndcfgs = 0x2812, kGuestRtitCtl = 0x2814, kGuestLbrCtl = 0x2816, kGuestPkrs = 0x2818;
// ---- 64-bit host-state fields (B.2.4) ----
inline constexpr uint32_t kHostPat = 0x2C00, kHostEfer = 0x2C02, kHostPerfGlobalCtrl = 0x2C04, kHostPkrs = 0x2C06;

// ---- 32-bit control fields (B.3.1) ----
inline constexpr uint32_t kPinBasedControls = 0x4000, kPrimaryProcControls = 0x4002, kExceptionBitmap = 0x4004;
inline constexpr uint32_t kPfErrorCodeMask = 0x4006, kPfErrorCodeMatch = 0x4008, kCr3TargetCount = 0x400A;
inline constexpr uint32_t kExitControls = 0x400C, kExitMsrStoreCount = 0x400E, kExitMsrLoadCount = 0x4010;
inline constexpr uint32_t kEntryControls = 0x4012, kEntryMsrLoadCount = 0x4014, kEntryInterruptionInfo = 0x4016;
inline constexpr uint32_t kEntryExceptionErrorCode = 0x4018, kEntryInstructionLength = 0x401A;
inline constexpr uint32_t kTprThreshold = 0x401C, kSecondaryProcControls = 0x401E, kPleGap = 0x4020,
                          kPleWindow = 0x4022;
// ---- 32-bit read-only data fields (B.3.2) ----
inline constexpr uint32_t kVmInstructionError = 0x4400, kExitReason = 0x4402, kExitInterruptionInfo = 0x4404;
inline constexpr uint32_t kExitInterruptionErrorCode = 0x4406, kIdtVectoringInfo = 0x4408,
                          kIdtVectoringErrorCode = 0x440A;
inline constexpr uint32_t kExitInstructionLength = 0x440C, kExitInstructionInfo = 0x440E;
// ---- 32-bit guest-state fields (B.3.3) ----
inline constexpr uint32_t kGuestEsLimit = 0x4800, kGuestCsLimit = 0x4802, kGuestSsLimit = 0x4804,
                          kGuestDsLimit = 0x4806, kGuestFsLimit = 0x4808, kGuestGsLimit = 0x480A,
                          kGuestLdtrLimit = 0x480C, kGuestTrLimit = 0x480E, kGuestGdtrLimit = 0x4810,
                          kGuestIdtrLimit = 0x4812;
inline constexpr uint32_t kGuestEsAr = 0x4814, kGuestCsAr = 0x4816, kGuestSsAr = 0x4818, kGuestDsAr = 0x481A,
                          kGuestFsAr = 0x481C, kGuestGsAr = 0x481E, kGuestLdtrAr = 0x4820, kGuestTrAr = 0x4822;
inline constexpr uint32_t kGuestInterruptibility = 0x4824, kGuestActivityState = 0x4826, kGuestSmbase = 0x4828;
inline constexpr uint32_t kGuestSysenterCs = 0x482A, kPreemptionTimerValue = 0x482E;
// ---- 32-bit host-state field (B.3.4) ----
inline constexpr uint32_t kHostSysenterCs = 0x4C00;

// ---- natural-width control fields (B.4.1) ----
inline constexpr uint32_t kCr0GuestHostMask = 0x6000, kCr4GuestHostMask = 0x6002, kCr0ReadShadow = 0x6004,
                          kCr4ReadShadow = 0x6006;
inline constexpr uint32_t kCr3Target0 = 0x6008, kCr3Target1 = 0x600A, kCr3Target2 = 0x600C, kCr3Target3 = 0x600E;
// ---- natural-width read-only data fields (B.4.2) ----
inline constexpr uint32_t kExitQualification = 0x6400, kIoRcx = 0x6402, kIoRsi = 0x6404, kIoRdi = 0x6406,
                          kIoRip = 0x6408, kGuestLinearAddress = 0x640A;
// ---- natural-width guest-state fields (B.4.3) ----
inline constexpr uint32_t kGuestCr0 = 0x6800, kGuestCr3 = 0x6802, kGuestCr4 = 0x6804;
inline constexpr uint32_t kGuestEsBase = 0x6806, kGuestCsBase = 0x6808, kGuestSsBase = 0x680A,
                          kGuestDsBase = 0x680C, kGuestFsBase = 0x680E, kGuestGsBase = 0x6810,
                          kGuestLdtrBase = 0x6812, kGuestTrBase = 0x6814, kGuestGdtrBase = 0x6816,
                          kGuestIdtrBase = 0x6818;
inline constexpr uint32_t kGuestDr7 = 0x681A, kGuestRsp = 0x681C, kGuestRip = 0x681E, kGuestRflags = 0x6820;
inline constexpr uint32_t kGuestPendingDebugExceptions = 0x6822, kGuestSysenterEsp = 0x6824,
                          kGuestSysenterEip = 0x6826;
inline constexpr uint32_t kGuestSCet = 0x6828, kGuestSsp = 0x682A, kGuestIntrSspTable = 0x682C;
// ---- natural-width host-state fields (B.4.4) ----
inline constexpr uint32_t kHostCr0 = 0x6C00, kHostCr3 = 0x6C02, kHostCr4 = 0x6C04, kHostFsBase = 0x6C06,
                          kHostGsBase = 0x6C08, kHostTrBase = 0x6C0A, kHostGdtrBase = 0x6C0C,
                          kHostIdtrBase = 0x6C0E, kHostSysenterEsp = 0x6C10, kHostSysenterEip = 0x6C12,
                          kHostRsp = 0x6C14, kHostRip = 0x6C16;
inline constexpr uint32_t kHostSCet = 0x6C18, kHostSsp = 0x6C1A, kHostIntrSspTable = 0x6C1C;

// ---- the encodings follow the rules (§25.11.2): width bits 14:13, type bits 11:10, bit 0 = 0 ----
using W = FieldWidth;
using T = FieldType;
static_assert(field_ok<kVpid, W::w16, T::control> && field_ok<kEptpIndex, W::w16, T::control>);
static_assert(field_ok<kGuestEsSelector, W::w16, T::guest> && field_ok<kGuestTrSelector, W::w16, T::guest>);
static_assert(field_ok<kHostEsSelector, W::w16, T::host> && field_ok<kHostTrSelector, W::w16, T::host>);
static_assert(field_ok<kIoBitmapA, W::w64, T::control> && field_ok<kEptPointer, W::w64, T::control>);
static_assert(field_ok<kTscOffset, W::w64, T::control> && field_ok<kMsrBitmap, W::w64, T::control>);
static_assert(field_ok<kGuestPhysicalAddress, W::w64, T::read_only>);
static_assert(field_ok<kVmcsLinkPointer, W::w64, T::guest> && field_ok<kGuestEfer, W::w64, T::guest>);
static_assert(field_ok<kHostPat, W::w64, T::host> && field_ok<kHostEfer, W::w64, T::host>);
static_assert(field_ok<kPinBasedControls, W::w32, T::control> && field_ok<kSecondaryProcControls, W::w32, T::control>);
static_assert(field_ok<kEntryInterruptionInfo, W::w32, T::control> && field_ok<kPleWindow, W::w32, T::control>);
static_assert(field_ok<kVmInstructionError, W::w32, T::read_only> && field_ok<kExitReason, W::w32, T::read_only>);
static_assert(field_ok<kExitInstructionInfo, W::w32, T::read_only>);
static_assert(field_ok<kGuestEsLimit, W::w32, T::guest> && field_ok<kGuestTrAr, W::w32, T::guest>);
static_assert(field_ok<kPreemptionTimerValue, W::w32, T::guest> && field_ok<kHostSysenterCs, W::w32, T::host>);
static_assert(field_ok<kCr0GuestHostMask, W::natural, T::control> && field_ok<kCr3Target3, W::natural, T::control>);
static_assert(field_ok<kExitQualification, W::natural, T::read_only> && field_ok<kGuestLinearAddress, W::natural, T::read_only>);
static_assert(field_ok<kGuestCr0, W::natural, T::guest> && field_ok<kGuestIntrSspTable, W::natural, T::guest>);
static_assert(field_ok<kHostCr0, W::natural, T::host> && field_ok<kHostRip, W::natural, T::host>);
// Every encoding above, by its Appendix B class: each has the width and type bits of its class
// and access type 0 (§25.11.2, Table 25-21).
template <FieldWidth Wd, FieldType Ty, size_t N>
constexpr bool class_ok(const uint32_t (&encs)[N]) {
  for (uint32_t e : encs)
    if (field_width(e) != Wd || field_type(e) != Ty || field_high(e) || field_encoding_malformed(e)) return false;
  return true;
}
inline constexpr uint32_t kAll16Control[] = {kVpid, kPostedIntNotificationVector, kEptpIndex, kHlatPrefixSize,
                                              kLastPidPointerIndex};
inline constexpr uint32_t kAll16Guest[] = {kGuestEsSelector, kGuestCsSelector, kGuestSsSelector, kGuestDsSelector,
                                            kGuestFsSelector, kGuestGsSelector, kGuestLdtrSelector, kGuestTrSelector,
                                            kGuestInterruptStatus, kGuestPmlIndex, kGuestUinv};
inline constexpr uint32_t kAll16Host[] = {kHostEsSelector, kHostCsSelector, kHostSsSelector, kHostDsSelector,
                                           kHostFsSelector, kHostGsSelector, kHostTrSelector};
inline constexpr uint32_t kAll64Control[] = {
    kIoBitmapA, kIoBitmapB, kMsrBitmap, kExitMsrStoreAddr, kExitMsrLoadAddr, kEntryMsrLoadAddr,
    kExecutiveVmcsPointer, kPmlAddress, kTscOffset, kVirtualApicAddr, kApicAccessAddr, kPostedIntDescAddr,
    kVmFunctionControls, kEptPointer, kEoiExitBitmap0, kEoiExitBitmap1, kEoiExitBitmap2, kEoiExitBitmap3,
    kEptpListAddr, kVmreadBitmap, kVmwriteBitmap, kVeInfoAddr, kXssExitingBitmap, kEnclsExitingBitmap,
    kSppTablePointer, kTscMultiplier, kTertiaryProcControls};
inline constexpr uint32_t kAll64ReadOnly[] = {kGuestPhysicalAddress};
inline constexpr uint32_t kAll64Guest[] = {kVmcsLinkPointer, kGuestDebugctl, kGuestPat, kGuestEfer,
                                            kGuestPerfGlobalCtrl, kGuestPdpte0, kGuestPdpte1, kGuestPdpte2,
                                            kGuestPdpte3, kGuestBndcfgs, kGuestRtitCtl, kGuestLbrCtl, kGuestPkrs};
inline constexpr uint32_t kAll64Host[] = {kHostPat, kHostEfer, kHostPerfGlobalCtrl, kHostPkrs};
inline constexpr uint32_t kAll32Control[] = {
    kPinBasedControls, kPrimaryProcControls, kExceptionBitmap, kPfErrorCodeMask, kPfErrorCodeMatch,
    kCr3TargetCount, kExitControls, kExitMsrStoreCount, kExitMsrLoadCount, kEntryControls, kEntryMsrLoadCount,
    kEntryInterruptionInfo, kEntryExceptionErrorCode, kEntryInstructionLength, kTprThreshold,
    kSecondaryProcControls, kPleGap, kPleWindow};
inline constexpr uint32_t kAll32ReadOnly[] = {kVmInstructionError, kExitReason, kExitInterruptionInfo,
                                               kExitInterruptionErrorCode, kIdtVectoringInfo, kIdtVectoringErrorCode,
                                               kExitInstructionLength, kExitInstructionInfo};
inline constexpr uint32_t kAll32Guest[] = {
    kGuestEsLimit, kGuestCsLimit, kGuestSsLimit, kGuestDsLimit, kGuestFsLimit, kGuestGsLimit, kGuestLdtrLimit,
    kGuestTrLimit, kGuestGdtrLimit, kGuestIdtrLimit, kGuestEsAr, kGuestCsAr, kGuestSsAr, kGuestDsAr, kGuestFsAr,
    kGuestGsAr, kGuestLdtrAr, kGuestTrAr, kGuestInterruptibility, kGuestActivityState, kGuestSmbase,
    kGuestSysenterCs, kPreemptionTimerValue};
inline constexpr uint32_t kAll32Host[] = {kHostSysenterCs};
inline constexpr uint32_t kAllNaturalControl[] = {kCr0GuestHostMask, kCr4GuestHostMask, kCr0ReadShadow,
                                                   kCr4ReadShadow, kCr3Target0, kCr3Target1, kCr3Target2, kCr3Target3};
inline constexpr uint32_t kAllNaturalReadOnly[] = {kExitQualification, kIoRcx, kIoRsi, kIoRdi, kIoRip,
                                                    kGuestLinearAddress};
inline constexpr uint32_t kAllNaturalGuest[] = {
    kGuestCr0, kGuestCr3, kGuestCr4, kGuestEsBase, kGuestCsBase, kGuestSsBase, kGuestDsBase, kGuestFsBase,
    kGuestGsBase, kGuestLdtrBase, kGuestTrBase, kGuestGdtrBase, kGuestIdtrBase, kGuestDr7, kGuestRsp, kGuestRip,
    kGuestRflags, kGuestPendingDebugExceptions, kGuestSysenterEsp, kGuestSysenterEip, kGuestSCet, kGuestSsp,
    kGuestIntrSspTable};
inline constexpr uint32_t kAllNaturalHost[] = {
    kHostCr0, kHostCr3, kHostCr4, kHostFsBase, kHostGsBase, kHostTrBase, kHostGdtrBase, kHostIdtrBase,
    kHostSysenterEsp, kHostSysenterEip, kHostRsp, kHostRip, kHostSCet, kHostSsp, kHostIntrSspTable};
static_assert(class_ok<W::w16, T::control>(kAll16Control) && class_ok<W::w16, T::guest>(kAll16Guest) &&
              class_ok<W::w16, T::host>(kAll16Host));
static_assert(class_ok<W::w64, T::control>(kAll64Control) && class_ok<W::w64, T::read_only>(kAll64ReadOnly) &&
              class_ok<W::w64, T::guest>(kAll64Guest) && class_ok<W::w64, T::host>(kAll64Host));
static_assert(class_ok<W::w32, T::control>(kAll32Control) && class_ok<W::w32, T::read_only>(kAll32ReadOnly) &&
              class_ok<W::w32, T::guest>(kAll32Guest) && class_ok<W::w32, T::host>(kAll32Host));
static_assert(class_ok<W::natural, T::control>(kAllNaturalControl) &&
              class_ok<W::natural, T::read_only>(kAllNaturalReadOnly) &&
              class_ok<W::natural, T::guest>(kAllNaturalGuest) && class_ok<W::natural, T::host>(kAllNaturalHost));
// Within a class the indexes are 0, 1, 2, ... in Appendix B order (64-bit fields step by 2 in the
// encoding because of the high-access encodings in between; index = encoding bits 9:1).
template <size_t N>
constexpr bool consecutive(const uint32_t (&encs)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (field_index(encs[i]) != i) return false;
  return true;
}
static_assert(consecutive(kAll16Control) && consecutive(kAll16Guest) && consecutive(kAll16Host));
static_assert(consecutive(kAll64Control) && consecutive(kAll64Guest) && consecutive(kAll64Host));
static_assert(consecutive(kAll32Control) && consecutive(kAll32ReadOnly) && consecutive(kAll32Host));
static_assert(consecutive(kAllNaturalControl) && consecutive(kAllNaturalReadOnly) && consecutive(kAllNaturalGuest) &&
              consecutive(kAllNaturalHost));

// The high half of a 64-bit field is its encoding + 1 (§25.11.2).
static_assert(field_high(kTscOffset + 1) && field_width(kTscOffset + 1) == W::w64 && !field_encoding_malformed(kTscOffset + 1));
static_assert(field_encoding_malformed(kGuestCr0 + 1) && field_encoding_malformed(kVpid | 0x1000));
// Indexes are consecutive within a class (Appendix B lists them in index order).
static_assert(field_index(kGuestTrSelector) == 7 && field_index(kHostRip) == 11 && field_index(kGuestRflags) == 16);

}  // namespace redoubt::vmx
