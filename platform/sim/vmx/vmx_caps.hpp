// What the simulated Intel CPU reports in its IA32_VMX_* capability MSRs
// (Intel SDM vol. 3C Appendix A): one place, every allowed-1 bit a control the
// model accepts. The VM-entry checks (entry_checks.cpp) read the same values.
#pragma once
#include <cstdint>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/msrs.hpp"
#include "platform/sim/cpu/cpuid_table.hpp"

namespace redoubt::sim::vmx {

namespace v = redoubt::vmx;

// VMCS revision identifier of the model (IA32_VMX_BASIC[30:0], Appendix A.1).
inline constexpr uint32_t kVmcsRevision = 0x00000004;
inline constexpr uint64_t kVmcsRegionSize = 4096;
inline constexpr unsigned kPhysAddrBits = cpu::kPhysAddrBits;  // MAXPHYADDR (48)
inline constexpr uint64_t kPhysAddrLimitMask = ~((1ull << kPhysAddrBits) - 1);  // bits that must be 0

inline constexpr uint64_t kVmxBasic = kVmcsRevision | (kVmcsRegionSize << v::basic::kRegionSizeShift) |
                                      (6ull << v::basic::kMemTypeShift) /* WB */ | v::basic::kTrueControls;

// Pin-based (A.3.1): external-interrupt and NMI exiting, virtual NMIs, the preemption timer.
inline constexpr uint32_t kPinAllowed1 = v::pin::kDefault1 | v::pin::kExternalInterruptExiting | v::pin::kNmiExiting |
                                         v::pin::kVirtualNmis | v::pin::kPreemptionTimer;
inline constexpr uint64_t kPinCtls = v::make_ctls(v::pin::kDefault1, kPinAllowed1);
inline constexpr uint64_t kTruePinCtls = kPinCtls;
// Primary processor-based (A.3.2): only controls whose exits the model produces (vmx_guest.cpp).
// Not offered: interrupt-/NMI-window exiting, MWAIT/MONITOR/RDPMC exiting (the interpreter has
// none of those instructions), TPR shadow, monitor trap flag, tertiary controls.
inline constexpr uint32_t kProcAllowed1 =
    v::proc::kDefault1 | v::proc::kUseTscOffsetting | v::proc::kHltExiting | v::proc::kInvlpgExiting |
    v::proc::kRdtscExiting | v::proc::kCr3LoadExiting | v::proc::kCr3StoreExiting | v::proc::kCr8LoadExiting |
    v::proc::kCr8StoreExiting | v::proc::kMovDrExiting | v::proc::kUnconditionalIoExiting | v::proc::kUseIoBitmaps |
    v::proc::kUseMsrBitmaps | v::proc::kPauseExiting | v::proc::kActivateSecondary;
inline constexpr uint64_t kProcCtls = v::make_ctls(v::proc::kDefault1, kProcAllowed1);
// TRUE: CR3-load/store exiting may be 0 (A.3.2).
inline constexpr uint64_t kTrueProcCtls =
    v::make_ctls(v::proc::kDefault1 & ~(v::proc::kCr3LoadExiting | v::proc::kCr3StoreExiting), kProcAllowed1);
// Secondary (A.3.3): EPT, descriptor-table exiting (exits 46/47 with the instruction-information
// field, insn_info.cpp), RDTSCP, VPID, WBINVD exiting. No unrestricted guest.
inline constexpr uint32_t kProc2Allowed1 = v::proc2::kEnableEpt | v::proc2::kDescriptorTableExiting |
                                           v::proc2::kEnableRdtscp | v::proc2::kEnableVpid | v::proc2::kWbinvdExiting;
inline constexpr uint64_t kProc2Ctls = v::make_ctls(0, kProc2Allowed1);
// VM-exit (A.4.1).
inline constexpr uint32_t kExitAllowed1 = v::exit_ctl::kDefault1 | v::exit_ctl::kHostAddressSpaceSize |
                                          v::exit_ctl::kAcknowledgeInterrupt | v::exit_ctl::kSavePat |
                                          v::exit_ctl::kLoadPat | v::exit_ctl::kSaveEfer | v::exit_ctl::kLoadEfer |
                                          v::exit_ctl::kSavePreemptionTimer;
inline constexpr uint64_t kExitCtls = v::make_ctls(v::exit_ctl::kDefault1, kExitAllowed1);
inline constexpr uint64_t kTrueExitCtls = v::make_ctls(v::exit_ctl::kDefault1 & ~v::exit_ctl::kSaveDebugControls, kExitAllowed1);
// VM-entry (A.5).
inline constexpr uint32_t kEntryAllowed1 =
    v::entry_ctl::kDefault1 | v::entry_ctl::kIa32eModeGuest | v::entry_ctl::kLoadPat | v::entry_ctl::kLoadEfer;
inline constexpr uint64_t kEntryCtls = v::make_ctls(v::entry_ctl::kDefault1, kEntryAllowed1);
inline constexpr uint64_t kTrueEntryCtls =
    v::make_ctls(v::entry_ctl::kDefault1 & ~v::entry_ctl::kLoadDebugControls, kEntryAllowed1);

// IA32_VMX_MISC (A.6): timer rate 5, LMA stored on exit, activity state HLT, 4 CR3 targets,
// MSR lists up to 512 entries, VMWRITE to read-only fields NOT allowed (bit 29 = 0).
inline constexpr unsigned kCr3TargetCount = 4;
inline constexpr uint64_t kVmxMisc = 5 | v::misc::kStoreLmaOnExit | v::misc::kActivityHlt |
                                     (uint64_t(kCr3TargetCount) << v::misc::kCr3TargetsShift);

// CR0/CR4 in VMX operation (A.7, A.8): PE, NE, PG fixed to 1; CR4.VMXE fixed to 1;
// the bits the model does not implement fixed to 0.
inline constexpr uint64_t kCr0Fixed0 = 0x80000021, kCr0Fixed1 = 0xFFFFFFFF;
inline constexpr uint64_t kCr4Fixed0 = 0x2000, kCr4Fixed1 = 0x3F27FF;
constexpr bool cr_fixed_ok(uint64_t v, uint64_t fixed0, uint64_t fixed1) {
  return (v & fixed0) == fixed0 && (v & ~fixed1) == 0;
}

// IA32_VMX_EPT_VPID_CAP (A.10): 4-level walks, UC/WB, 2 MiB and 1 GiB pages, A/D flags,
// INVEPT single/all-context, INVVPID all four types. No execute-only translations.
inline constexpr uint64_t kEptVpidCap =
    v::ept_vpid_cap::kWalkLength4 | v::ept_vpid_cap::kMemTypeUc | v::ept_vpid_cap::kMemTypeWb |
    v::ept_vpid_cap::kPde2M | v::ept_vpid_cap::kPdpte1G | v::ept_vpid_cap::kInvept |
    v::ept_vpid_cap::kAccessedDirty | v::ept_vpid_cap::kInveptSingleContext | v::ept_vpid_cap::kInveptAllContext |
    v::ept_vpid_cap::kInvvpid | v::ept_vpid_cap::kInvvpidIndividualAddress | v::ept_vpid_cap::kInvvpidSingleContext |
    v::ept_vpid_cap::kInvvpidAllContext | v::ept_vpid_cap::kInvvpidSingleContextRetainGlobals;

// IA32_FEATURE_CONTROL bits software may set on the model: lock and VMX outside SMX; on a part
// with SMX (Cpu::smx, the Intel TXT platform) also VMX inside SMX and the SENTER enables (§24.7).
inline constexpr uint64_t kFeatureControlWritable = v::feature_control::kLock | v::feature_control::kVmxOutsideSmx;
inline constexpr uint64_t kFeatureControlSmxWritable = v::feature_control::kVmxInsideSmx |
                                                       v::feature_control::kSenterLocalFunctions |
                                                       v::feature_control::kSenterGlobalEnable;
// What the firmware of a TXT platform leaves (locked; VMX inside and outside SMX; SENTER enabled),
// as Linux's tboot check and Xen expect it (SDM vol. 3C §24.7, vol. 2D GETSEC[SENTER]).
inline constexpr uint64_t kFeatureControlTxtFirmware = v::feature_control::kLock | kFeatureControlSmxWritable |
                                                       v::feature_control::kVmxOutsideSmx;
// CR4.SMXE (bit 14): allowed 1 in IA32_VMX_CR4_FIXED1 on a part with SMX (App. A.8).
inline constexpr uint64_t kCr4Smxe = 1ull << 14;

// The value of a capability MSR of the model; false if `msr` is not one it implements
// (IA32_VMX_VMFUNC, PROCBASED_CTLS3, EXIT_CTLS2 exist only with features the model lacks: #GP).
bool capability_msr(uint32_t msr, uint64_t& value);

}  // namespace redoubt::sim::vmx
