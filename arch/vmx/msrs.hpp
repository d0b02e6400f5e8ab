// VMX-related MSRs: IA32_FEATURE_CONTROL (Intel SDM vol. 3C §24.7, vol. 4
// Table 2-2) and the IA32_VMX_* capability MSRs (vol. 3C Appendix A).
#pragma once
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx {

inline constexpr uint32_t kMsrFeatureControl = 0x03A;
// IA32_FEATURE_CONTROL bits (§24.7 "Enabling and Entering VMX Operation").
namespace feature_control {
inline constexpr uint64_t kLock = 1u << 0;
inline constexpr uint64_t kVmxInsideSmx = 1u << 1;
inline constexpr uint64_t kVmxOutsideSmx = 1u << 2;
inline constexpr uint64_t kSenterLocalFunctions = 0x7Full << 8;  // bits 14:8
inline constexpr uint64_t kSenterGlobalEnable = 1u << 15;
}  // namespace feature_control

inline constexpr uint32_t kMsrVmxBasic = 0x480, kMsrVmxPinbasedCtls = 0x481, kMsrVmxProcbasedCtls = 0x482,
                          kMsrVmxExitCtls = 0x483, kMsrVmxEntryCtls = 0x484, kMsrVmxMisc = 0x485,
                          kMsrVmxCr0Fixed0 = 0x486, kMsrVmxCr0Fixed1 = 0x487, kMsrVmxCr4Fixed0 = 0x488,
                          kMsrVmxCr4Fixed1 = 0x489, kMsrVmxVmcsEnum = 0x48A, kMsrVmxProcbasedCtls2 = 0x48B,
                          kMsrVmxEptVpidCap = 0x48C, kMsrVmxTruePinbasedCtls = 0x48D,
                          kMsrVmxTrueProcbasedCtls = 0x48E, kMsrVmxTrueExitCtls = 0x48F,
                          kMsrVmxTrueEntryCtls = 0x490, kMsrVmxVmfunc = 0x491, kMsrVmxProcbasedCtls3 = 0x492,
                          kMsrVmxExitCtls2 = 0x493;

// IA32_VMX_BASIC (Appendix A.1).
namespace basic {
inline constexpr uint64_t kRevisionMask = 0x7FFFFFFF;   // bits 30:0; bit 31 is 0
inline constexpr unsigned kRegionSizeShift = 32;        // bits 44:32: VMXON/VMCS region size in bytes
inline constexpr uint64_t kRegionSizeMask = 0x1FFFull << 32;
inline constexpr uint64_t kPhysAddr32 = 1ull << 48;     // addresses limited to 32 bits (0 on Intel 64)
inline constexpr uint64_t kDualMonitor = 1ull << 49;
inline constexpr unsigned kMemTypeShift = 50;           // bits 53:50: 6 = write-back
inline constexpr uint64_t kInsOutsInfo = 1ull << 54;
inline constexpr uint64_t kTrueControls = 1ull << 55;   // the IA32_VMX_TRUE_*_CTLS MSRs exist
inline constexpr uint64_t kNoErrorCodeCheck = 1ull << 56;
}  // namespace basic

// IA32_VMX_MISC (Appendix A.6).
namespace misc {
inline constexpr uint64_t kTimerRateMask = 0x1F;        // bits 4:0
inline constexpr uint64_t kStoreLmaOnExit = 1u << 5;
inline constexpr uint64_t kActivityHlt = 1u << 6, kActivityShutdown = 1u << 7, kActivityWaitForSipi = 1u << 8;
inline constexpr unsigned kCr3TargetsShift = 16;        // bits 24:16
inline constexpr unsigned kMsrListShift = 25;           // bits 27:25: 512 * (N + 1) entries recommended max
inline constexpr uint64_t kVmwriteAnyField = 1ull << 29;
inline constexpr uint64_t kZeroLengthInjection = 1ull << 30;
}  // namespace misc

// A control MSR: bits 31:0 allowed-0 settings (a 1 there: the control must be 1),
// bits 63:32 allowed-1 settings (a 0 there: the control must be 0) (Appendix A.3-A.5).
constexpr uint64_t make_ctls(uint32_t must_be_1, uint32_t may_be_1) { return uint64_t(may_be_1) << 32 | must_be_1; }
constexpr bool ctls_valid(uint64_t cap, uint32_t value) {
  return (value & uint32_t(cap)) == uint32_t(cap) && (value & ~uint32_t(cap >> 32)) == 0;
}
static_assert(ctls_valid(make_ctls(0x16, 0xFF), 0x17) && !ctls_valid(make_ctls(0x16, 0xFF), 0x01) &&
              !ctls_valid(make_ctls(0x16, 0xFF), 0x116));

// IA32_VMX_EPT_VPID_CAP (Appendix A.10).
namespace ept_vpid_cap {
inline constexpr uint64_t kExecuteOnly = 1ull << 0, kWalkLength4 = 1ull << 6, kWalkLength5 = 1ull << 7,
                          kMemTypeUc = 1ull << 8, kMemTypeWb = 1ull << 14, kPde2M = 1ull << 16,
                          kPdpte1G = 1ull << 17, kInvept = 1ull << 20, kAccessedDirty = 1ull << 21,
                          kAdvancedExitInfo = 1ull << 22, kSupervisorShadowStack = 1ull << 23,
                          kInveptSingleContext = 1ull << 25, kInveptAllContext = 1ull << 26,
                          kInvvpid = 1ull << 32, kInvvpidIndividualAddress = 1ull << 40,
                          kInvvpidSingleContext = 1ull << 41, kInvvpidAllContext = 1ull << 42,
                          kInvvpidSingleContextRetainGlobals = 1ull << 43;
}  // namespace ept_vpid_cap

}  // namespace redoubt::vmx
