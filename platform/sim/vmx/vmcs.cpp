// VMCS field storage and the supported-field table (Intel SDM vol. 3C Appendix B).
#include "platform/sim/vmx/vmcs.hpp"

#include <algorithm>

namespace redoubt::sim::vmx {

namespace v = redoubt::vmx;

namespace {

// Every supported full encoding (Appendix B), grouped as there.
constexpr uint32_t kSupported[] = {
    // 16-bit control, guest, host (B.1)
    v::kVpid,
    v::kGuestEsSelector, v::kGuestCsSelector, v::kGuestSsSelector, v::kGuestDsSelector, v::kGuestFsSelector,
    v::kGuestGsSelector, v::kGuestLdtrSelector, v::kGuestTrSelector,
    v::kHostEsSelector, v::kHostCsSelector, v::kHostSsSelector, v::kHostDsSelector, v::kHostFsSelector,
    v::kHostGsSelector, v::kHostTrSelector,
    // 64-bit control, read-only, guest, host (B.2)
    v::kIoBitmapA, v::kIoBitmapB, v::kMsrBitmap, v::kExitMsrStoreAddr, v::kExitMsrLoadAddr, v::kEntryMsrLoadAddr,
    v::kExecutiveVmcsPointer, v::kTscOffset, v::kEptPointer,
    v::kGuestPhysicalAddress,
    v::kVmcsLinkPointer, v::kGuestDebugctl, v::kGuestPat, v::kGuestEfer, v::kGuestPdpte0, v::kGuestPdpte1,
    v::kGuestPdpte2, v::kGuestPdpte3,
    v::kHostPat, v::kHostEfer,
    // 32-bit control, read-only, guest, host (B.3)
    v::kPinBasedControls, v::kPrimaryProcControls, v::kExceptionBitmap, v::kPfErrorCodeMask, v::kPfErrorCodeMatch,
    v::kCr3TargetCount, v::kExitControls, v::kExitMsrStoreCount, v::kExitMsrLoadCount, v::kEntryControls,
    v::kEntryMsrLoadCount, v::kEntryInterruptionInfo, v::kEntryExceptionErrorCode, v::kEntryInstructionLength,
    v::kSecondaryProcControls,
    v::kVmInstructionError, v::kExitReason, v::kExitInterruptionInfo, v::kExitInterruptionErrorCode,
    v::kIdtVectoringInfo, v::kIdtVectoringErrorCode, v::kExitInstructionLength, v::kExitInstructionInfo,
    v::kGuestEsLimit, v::kGuestCsLimit, v::kGuestSsLimit, v::kGuestDsLimit, v::kGuestFsLimit, v::kGuestGsLimit,
    v::kGuestLdtrLimit, v::kGuestTrLimit, v::kGuestGdtrLimit, v::kGuestIdtrLimit,
    v::kGuestEsAr, v::kGuestCsAr, v::kGuestSsAr, v::kGuestDsAr, v::kGuestFsAr, v::kGuestGsAr, v::kGuestLdtrAr,
    v::kGuestTrAr, v::kGuestInterruptibility, v::kGuestActivityState, v::kGuestSmbase, v::kGuestSysenterCs,
    v::kPreemptionTimerValue,
    v::kHostSysenterCs,
    // natural-width control, read-only, guest, host (B.4)
    v::kCr0GuestHostMask, v::kCr4GuestHostMask, v::kCr0ReadShadow, v::kCr4ReadShadow, v::kCr3Target0,
    v::kCr3Target1, v::kCr3Target2, v::kCr3Target3,
    v::kExitQualification, v::kIoRcx, v::kIoRsi, v::kIoRdi, v::kIoRip, v::kGuestLinearAddress,
    v::kGuestCr0, v::kGuestCr3, v::kGuestCr4, v::kGuestEsBase, v::kGuestCsBase, v::kGuestSsBase, v::kGuestDsBase,
    v::kGuestFsBase, v::kGuestGsBase, v::kGuestLdtrBase, v::kGuestTrBase, v::kGuestGdtrBase, v::kGuestIdtrBase,
    v::kGuestDr7, v::kGuestRsp, v::kGuestRip, v::kGuestRflags, v::kGuestPendingDebugExceptions,
    v::kGuestSysenterEsp, v::kGuestSysenterEip,
    v::kHostCr0, v::kHostCr3, v::kHostCr4, v::kHostFsBase, v::kHostGsBase, v::kHostTrBase, v::kHostGdtrBase,
    v::kHostIdtrBase, v::kHostSysenterEsp, v::kHostSysenterEip, v::kHostRsp, v::kHostRip,
};

constexpr bool all_well_formed() {
  for (uint32_t e : kSupported)
    if (v::field_encoding_malformed(e) || v::field_high(e)) return false;
  return true;
}
static_assert(all_well_formed(), "supported encodings follow §25.11.2");

uint64_t width_mask(v::FieldWidth w) {
  switch (w) {
    case v::FieldWidth::w16: return 0xFFFF;
    case v::FieldWidth::w32: return 0xFFFFFFFF;
    default: return ~0ull;  // 64-bit and natural width (64 bits on Intel 64)
  }
}

}  // namespace

bool field_supported(uint32_t enc) {
  if (v::field_encoding_malformed(enc)) return false;
  const uint32_t full = enc & ~1u;
  return std::find(std::begin(kSupported), std::end(kSupported), full) != std::end(kSupported);
}

unsigned highest_field_index() {
  unsigned m = 0;
  for (uint32_t e : kSupported) m = std::max(m, v::field_index(e));
  return m;
}

void Vmcs::set(uint32_t enc, uint64_t val) { fields[enc] = val & width_mask(v::field_width(enc)); }

uint64_t Vmcs::read(uint32_t enc) const {
  if (v::field_high(enc)) return get(enc & ~1u) >> 32;  // high access: bits 63:32
  return get(enc);
}

void Vmcs::write(uint32_t enc, uint64_t val) {
  if (v::field_high(enc)) {  // high access: the source's low 32 bits become bits 63:32
    const uint32_t full = enc & ~1u;
    set(full, (get(full) & 0xFFFFFFFFull) | (val << 32));
    return;
  }
  set(enc, val);
}

}  // namespace redoubt::sim::vmx
