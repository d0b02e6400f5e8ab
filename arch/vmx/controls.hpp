// VM-execution, VM-exit and VM-entry control bits (Intel SDM vol. 3C §25.6.1,
// §25.6.2, §25.7.1, §25.8.1) and the default1 classes of Appendix A.2-A.5.
#pragma once
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx {

// Pin-based VM-execution controls (§25.6.1, Table 25-5).
namespace pin {
inline constexpr uint32_t kExternalInterruptExiting = 1u << 0, kNmiExiting = 1u << 3, kVirtualNmis = 1u << 5,
                          kPreemptionTimer = 1u << 6, kPostedInterrupts = 1u << 7;
inline constexpr uint32_t kDefault1 = 0x00000016;  // bits 1, 2, 4 (Appendix A.3.1)
}  // namespace pin

// Primary processor-based VM-execution controls (§25.6.2, Table 25-6).
namespace proc {
inline constexpr uint32_t kInterruptWindowExiting = 1u << 2, kUseTscOffsetting = 1u << 3, kHltExiting = 1u << 7,
                          kInvlpgExiting = 1u << 9, kMwaitExiting = 1u << 10, kRdpmcExiting = 1u << 11,
                          kRdtscExiting = 1u << 12, kCr3LoadExiting = 1u << 15, kCr3StoreExiting = 1u << 16,
                          kActivateTertiary = 1u << 17, kCr8LoadExiting = 1u << 19, kCr8StoreExiting = 1u << 20,
                          kUseTprShadow = 1u << 21, kNmiWindowExiting = 1u << 22, kMovDrExiting = 1u << 23,
                          kUnconditionalIoExiting = 1u << 24, kUseIoBitmaps = 1u << 25, kMonitorTrapFlag = 1u << 27,
                          kUseMsrBitmaps = 1u << 28, kMonitorExiting = 1u << 29, kPauseExiting = 1u << 30,
                          kActivateSecondary = 1u << 31;
inline constexpr uint32_t kDefault1 = 0x0401E172;  // bits 1, 4-6, 8, 13-16, 26 (Appendix A.3.2)
}  // namespace proc

// Secondary processor-based VM-execution controls (§25.6.2, Table 25-7).
namespace proc2 {
inline constexpr uint32_t kVirtualizeApicAccesses = 1u << 0, kEnableEpt = 1u << 1, kDescriptorTableExiting = 1u << 2,
                          kEnableRdtscp = 1u << 3, kVirtualizeX2apic = 1u << 4, kEnableVpid = 1u << 5,
                          kWbinvdExiting = 1u << 6, kUnrestrictedGuest = 1u << 7, kApicRegisterVirtualization = 1u << 8,
                          kVirtualInterruptDelivery = 1u << 9, kPauseLoopExiting = 1u << 10, kRdrandExiting = 1u << 11,
                          kEnableInvpcid = 1u << 12, kEnableVmfunc = 1u << 13, kVmcsShadowing = 1u << 14,
                          kEnclsExiting = 1u << 15, kRdseedExiting = 1u << 16, kEnablePml = 1u << 17,
                          kEptViolationVe = 1u << 18, kConcealVmxFromPt = 1u << 19, kEnableXsaves = 1u << 20,
                          kModeBasedExecute = 1u << 22, kSubPageWrite = 1u << 23, kPtUsesGpa = 1u << 24,
                          kUseTscScaling = 1u << 25, kEnableUserWait = 1u << 26, kEnablePconfig = 1u << 27,
                          kEnableEnclv = 1u << 28;
}  // namespace proc2

// Primary VM-exit controls (§25.7.1, Table 25-13).
namespace exit_ctl {
inline constexpr uint32_t kSaveDebugControls = 1u << 2, kHostAddressSpaceSize = 1u << 9,
                          kLoadPerfGlobalCtrl = 1u << 12, kAcknowledgeInterrupt = 1u << 15, kSavePat = 1u << 18,
                          kLoadPat = 1u << 19, kSaveEfer = 1u << 20, kLoadEfer = 1u << 21,
                          kSavePreemptionTimer = 1u << 22, kClearBndcfgs = 1u << 23, kConcealVmxFromPt = 1u << 24,
                          kClearRtitCtl = 1u << 25, kClearLbrCtl = 1u << 26, kLoadCetState = 1u << 28,
                          kLoadPkrs = 1u << 29, kSavePerfGlobalCtl = 1u << 30, kActivateSecondary = 1u << 31;
inline constexpr uint32_t kDefault1 = 0x00036DFF;  // bits 0-8, 10, 11, 13, 14, 16, 17 (Appendix A.4.1)
}  // namespace exit_ctl

// VM-entry controls (§25.8.1, Table 25-15).
namespace entry_ctl {
inline constexpr uint32_t kLoadDebugControls = 1u << 2, kIa32eModeGuest = 1u << 9, kEntryToSmm = 1u << 10,
                          kDeactivateDualMonitor = 1u << 11, kLoadPerfGlobalCtrl = 1u << 13, kLoadPat = 1u << 14,
                          kLoadEfer = 1u << 15, kLoadBndcfgs = 1u << 16, kConcealVmxFromPt = 1u << 17,
                          kLoadRtitCtl = 1u << 18, kLoadCetState = 1u << 20, kLoadLbrCtl = 1u << 21,
                          kLoadPkrs = 1u << 22;
inline constexpr uint32_t kDefault1 = 0x000011FF;  // bits 0-8, 12 (Appendix A.5)
}  // namespace entry_ctl

// VM-entry interruption-information field (§25.8.3, Table 25-17).
namespace intr_info {
inline constexpr uint32_t kVectorMask = 0xFF;
inline constexpr unsigned kTypeShift = 8;  // bits 10:8
enum Type : uint32_t { kExternal = 0, kReserved1 = 1, kNmi = 2, kHardwareException = 3, kSoftwareInterrupt = 4,
                       kPrivilegedSoftwareException = 5, kSoftwareException = 6, kOtherEvent = 7 };
inline constexpr uint32_t kDeliverErrorCode = 1u << 11, kValid = 1u << 31;
inline constexpr uint32_t kReservedBits = 0x7FFFF000;  // bits 30:12
}  // namespace intr_info

// Guest interruptibility state (§25.4.2, Table 25-3).
namespace interruptibility {
inline constexpr uint32_t kStiBlocking = 1u << 0, kMovSsBlocking = 1u << 1, kSmiBlocking = 1u << 2,
                          kNmiBlocking = 1u << 3, kEnclaveInterruption = 1u << 4;
inline constexpr uint32_t kReservedBits = 0xFFFFFFE0;  // bits 31:5
}  // namespace interruptibility

// Guest activity state (§25.4.2, Table 25-4).
enum ActivityState : uint32_t { kActive = 0, kHlt = 1, kShutdown = 2, kWaitForSipi = 3 };

// Segment access-rights format in the guest-state area (§25.4.1, Table 25-2).
namespace ar {
inline constexpr uint32_t kTypeMask = 0xF, kS = 1u << 4, kDplShift = 5, kP = 1u << 7, kAvl = 1u << 12,
                          kL = 1u << 13, kDb = 1u << 14, kG = 1u << 15, kUnusable = 1u << 16;
inline constexpr uint32_t kReserved11_8 = 0xF00, kReserved31_17 = 0xFFFE0000;
}  // namespace ar

}  // namespace redoubt::vmx
