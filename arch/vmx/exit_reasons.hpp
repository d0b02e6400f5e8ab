// VMX basic exit reasons (Intel SDM vol. 3C Appendix C) and the layout of the
// exit-reason field (§25.9.1, Table 25-18), plus the exit qualifications the
// simulator produces (§28.2.1).
#pragma once
#include <cstdint>

#include "arch/vmx/sdm.hpp"

namespace redoubt::vmx {

enum ExitReason : uint32_t {
  kExitExceptionNmi = 0,
  kExitExternalInterrupt = 1,
  kExitTripleFault = 2,
  kExitInit = 3,
  kExitSipi = 4,
  kExitIoSmi = 5,
  kExitOtherSmi = 6,
  kExitInterruptWindow = 7,
  kExitNmiWindow = 8,
  kExitTaskSwitch = 9,
  kExitCpuid = 10,
  kExitGetsec = 11,
  kExitHlt = 12,
  kExitInvd = 13,
  kExitInvlpg = 14,
  kExitRdpmc = 15,
  kExitRdtsc = 16,
  kExitRsm = 17,
  kExitVmcall = 18,
  kExitVmclear = 19,
  kExitVmlaunch = 20,
  kExitVmptrld = 21,
  kExitVmptrst = 22,
  kExitVmread = 23,
  kExitVmresume = 24,
  kExitVmwrite = 25,
  kExitVmxoff = 26,
  kExitVmxon = 27,
  kExitCrAccess = 28,
  kExitMovDr = 29,
  kExitIo = 30,
  kExitRdmsr = 31,
  kExitWrmsr = 32,
  kExitEntryFailGuestState = 33,  // VM-entry failure due to invalid guest state (§27.3, §27.8)
  kExitEntryFailMsrLoading = 34,  // VM-entry failure due to MSR loading (§27.4)
  kExitMwait = 36,
  kExitMonitorTrapFlag = 37,
  kExitMonitor = 39,
  kExitPause = 40,
  kExitEntryFailMachineCheck = 41,
  kExitTprBelowThreshold = 43,
  kExitApicAccess = 44,
  kExitVirtualizedEoi = 45,
  kExitGdtrIdtrAccess = 46,
  kExitLdtrTrAccess = 47,
  kExitEptViolation = 48,
  kExitEptMisconfig = 49,
  kExitInvept = 50,
  kExitRdtscp = 51,
  kExitPreemptionTimer = 52,
  kExitInvvpid = 53,
  kExitWbinvd = 54,
  kExitXsetbv = 55,
  kExitApicWrite = 56,
  kExitRdrand = 57,
  kExitInvpcid = 58,
  kExitVmfunc = 59,
  kExitEncls = 60,
  kExitRdseed = 61,
  kExitPmlFull = 62,
  kExitXsaves = 63,
  kExitXrstors = 64,
  kExitPconfig = 65,
  kExitSppEvent = 66,
  kExitUmwait = 67,
  kExitTpause = 68,
  kExitLoadiwkey = 69,
  kExitEnclv = 70,
  kExitEnqcmdPasid = 72,
  kExitEnqcmdsPasid = 73,
  kExitBusLock = 74,
  kExitInstructionTimeout = 75,
  kExitSeamcall = 76,
  kExitTdcall = 77,
};

// Exit-reason field (§25.9.1, Table 25-18): bits 15:0 basic reason, bit 31 VM-entry failure.
inline constexpr uint32_t kExitReasonBasicMask = 0xFFFF;
inline constexpr uint32_t kExitReasonEnclaveMode = 1u << 27, kExitReasonPendingMtf = 1u << 28,
                          kExitReasonFromRoot = 1u << 29, kExitReasonEntryFailure = 1u << 31;
static_assert((kExitReasonEntryFailure | kExitEntryFailGuestState) == 0x80000021u);

// Exit qualification of a VM-entry failure (§27.8): reason 33 gives one of these.
enum EntryFailQualification : uint64_t {
  kEntryFailDefault = 0,
  kEntryFailPdpte = 2,             // failure loading the PDPTEs
  kEntryFailNmiInjection = 3,      // injecting an NMI while blocked by STI
  kEntryFailVmcsLinkPointer = 4,   // invalid VMCS link pointer
};

// I/O instruction exit qualification (§28.2.1, Table 28-5).
namespace io_qual {
inline constexpr uint64_t kSizeMask = 7;          // bits 2:0: 0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes
inline constexpr uint64_t kIn = 1u << 3;          // direction: 1 = IN
inline constexpr uint64_t kString = 1u << 4;
inline constexpr uint64_t kRep = 1u << 5;
inline constexpr uint64_t kImmediate = 1u << 6;   // operand encoding: 0 = DX, 1 = immediate
inline constexpr unsigned kPortShift = 16;        // bits 31:16: port number
inline constexpr uint64_t make(uint16_t port, unsigned size, bool in, bool str, bool rep, bool imm) {
  return (uint64_t(port) << kPortShift) | uint64_t(size - 1) | (in ? kIn : 0) | (str ? kString : 0) |
         (rep ? kRep : 0) | (imm ? kImmediate : 0);
}
static_assert(make(0x3F8, 1, false, false, false, false) == 0x03F80000 && make(0x60, 4, true, false, false, true) == 0x0060004B);
}  // namespace io_qual

// Control-register access exit qualification (§28.2.1, Table 28-3).
namespace cr_qual {
inline constexpr uint64_t kCrMask = 0xF;          // bits 3:0: the control register
inline constexpr unsigned kAccessShift = 4;       // bits 5:4: access type
enum Access : uint64_t { kMovToCr = 0, kMovFromCr = 1, kClts = 2, kLmsw = 3 };
inline constexpr uint64_t kLmswMemory = 1u << 6;  // LMSW operand type
inline constexpr unsigned kGprShift = 8;          // bits 11:8: the general-purpose register
inline constexpr unsigned kLmswDataShift = 16;    // bits 31:16: LMSW source data
inline constexpr uint64_t make(unsigned cr, Access a, unsigned gpr) {
  return cr | (uint64_t(a) << kAccessShift) | (uint64_t(gpr) << kGprShift);
}
static_assert(make(3, kMovToCr, 1) == 0x103 && make(4, kMovFromCr, 15) == 0xF14);
}  // namespace cr_qual

// EPT-violation exit qualification (§28.2.1, Table 28-7).
namespace ept_qual {
inline constexpr uint64_t kRead = 1u << 0, kWrite = 1u << 1, kFetch = 1u << 2;
inline constexpr uint64_t kEntryReadable = 1u << 3, kEntryWritable = 1u << 4, kEntryExecutable = 1u << 5;
inline constexpr uint64_t kEntryUserExecutable = 1u << 6;  // mode-based execute control
inline constexpr uint64_t kLinearValid = 1u << 7;          // guest-linear-address field valid
inline constexpr uint64_t kFinalTranslation = 1u << 8;     // if bit 7: 1 = the translated address, 0 = a paging-structure entry
inline constexpr uint64_t kUserLinear = 1u << 9, kRwPage = 1u << 10, kXdPage = 1u << 11;
inline constexpr uint64_t kNmiUnblocking = 1u << 12;
inline constexpr uint64_t kShadowStack = 1u << 13, kSupervisorShadowStack = 1u << 14;
inline constexpr uint64_t kGuestPagingVerification = 1u << 15, kAsynchronous = 1u << 16;
}  // namespace ept_qual

}  // namespace redoubt::vmx
