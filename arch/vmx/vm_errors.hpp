// VM-instruction error numbers (Intel SDM vol. 3C §31.4, Table 31-1), stored
// in the VM-instruction error field (kVmInstructionError) by VMfailValid, and
// the RFLAGS conventions of §31.2 (VMsucceed / VMfailInvalid / VMfailValid).
#pragma once
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx {

enum VmInstructionError : uint32_t {
  kErrVmcallInRoot = 1,                 // VMCALL executed in VMX root operation
  kErrVmclearInvalidAddress = 2,        // VMCLEAR with invalid physical address
  kErrVmclearVmxonPointer = 3,          // VMCLEAR with VMXON pointer
  kErrVmlaunchNonClear = 4,             // VMLAUNCH with non-clear VMCS
  kErrVmresumeNonLaunched = 5,          // VMRESUME with non-launched VMCS
  kErrVmresumeAfterVmxoff = 6,          // VMRESUME after VMXOFF
  kErrEntryInvalidControls = 7,         // VM entry with invalid control field(s)
  kErrEntryInvalidHostState = 8,        // VM entry with invalid host-state field(s)
  kErrVmptrldInvalidAddress = 9,        // VMPTRLD with invalid physical address
  kErrVmptrldVmxonPointer = 10,         // VMPTRLD with VMXON pointer
  kErrVmptrldBadRevision = 11,          // VMPTRLD with incorrect VMCS revision identifier
  kErrUnsupportedComponent = 12,        // VMREAD/VMWRITE from/to unsupported VMCS component
  kErrVmwriteReadOnly = 13,             // VMWRITE to read-only VMCS component
  kErrVmxonInRoot = 15,                 // VMXON executed in VMX root operation
  kErrEntryInvalidExecutiveVmcs = 16,   // VM entry with invalid executive-VMCS pointer
  kErrEntryNonLaunchedExecutive = 17,   // VM entry with non-launched executive VMCS
  kErrEntryExecutiveNotVmxon = 18,      // VM entry with executive-VMCS pointer not VMXON pointer
  kErrVmcallNonClear = 19,              // VMCALL with non-clear VMCS
  kErrVmcallInvalidExitControls = 20,   // VMCALL with invalid VM-exit control fields
  kErrVmcallBadMsegRevision = 22,       // VMCALL with incorrect MSEG revision identifier
  kErrVmxoffDualMonitor = 23,           // VMXOFF under dual-monitor treatment of SMIs and SMM
  kErrVmcallInvalidSmmFeatures = 24,    // VMCALL with invalid SMM-monitor features
  kErrEntryInvalidExecutiveControls = 25,  // VM entry with invalid VM-execution control fields in executive VMCS
  kErrEntryMovSsBlocking = 26,          // VM entry with events blocked by MOV SS
  kErrInvalidInvOperand = 28,           // Invalid operand to INVEPT/INVVPID
};

// §31.2: VMsucceed clears CF PF AF ZF SF OF; VMfailInvalid sets CF only; VMfailValid sets ZF only.
inline constexpr uint64_t kRflagsCf = 1u << 0, kRflagsPf = 1u << 2, kRflagsAf = 1u << 4, kRflagsZf = 1u << 6,
                          kRflagsSf = 1u << 7, kRflagsOf = 1u << 11;
inline constexpr uint64_t kVmFlagsMask = kRflagsCf | kRflagsPf | kRflagsAf | kRflagsZf | kRflagsSf | kRflagsOf;
inline constexpr uint64_t kVmSucceedFlags = 0, kVmFailInvalidFlags = kRflagsCf, kVmFailValidFlags = kRflagsZf;
static_assert(kVmFlagsMask == 0x8D5);

}  // namespace redoubt::vmx
