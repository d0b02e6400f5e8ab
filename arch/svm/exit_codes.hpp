// #VMEXIT codes (APM vol. 2 Appendix C, "SVM Intercept Exit Codes") and the
// EXITINFO1 encodings the hypervisor decodes.
#pragma once
#include <cstdint>

namespace redoubt::svm {

enum ExitCode : uint64_t {
  kExitCr0Read = 0x000,     // + n for CRn, n = 0..15
  kExitCr0Write = 0x010,
  kExitDr0Read = 0x020,
  kExitDr0Write = 0x030,
  kExitExcp0 = 0x040,       // + vector, 0..31
  kExitIntr = 0x060,
  kExitNmi = 0x061,
  kExitSmi = 0x062,
  kExitInit = 0x063,
  kExitVintr = 0x064,
  kExitCr0SelWrite = 0x065,
  kExitIdtrRead = 0x066,
  kExitGdtrRead = 0x067,
  kExitLdtrRead = 0x068,
  kExitTrRead = 0x069,
  kExitIdtrWrite = 0x06A,
  kExitGdtrWrite = 0x06B,
  kExitLdtrWrite = 0x06C,
  kExitTrWrite = 0x06D,
  kExitRdtsc = 0x06E,
  kExitRdpmc = 0x06F,
  kExitPushf = 0x070,
  kExitPopf = 0x071,
  kExitCpuid = 0x072,
  kExitRsm = 0x073,
  kExitIret = 0x074,
  kExitSwint = 0x075,
  kExitInvd = 0x076,
  kExitPause = 0x077,
  kExitHlt = 0x078,
  kExitInvlpg = 0x079,
  kExitInvlpga = 0x07A,
  kExitIoio = 0x07B,
  kExitMsr = 0x07C,
  kExitTaskSwitch = 0x07D,
  kExitFerrFreeze = 0x07E,
  kExitShutdown = 0x07F,
  kExitVmrun = 0x080,
  kExitVmmcall = 0x081,
  kExitVmload = 0x082,
  kExitVmsave = 0x083,
  kExitStgi = 0x084,
  kExitClgi = 0x085,
  kExitSkinit = 0x086,
  kExitRdtscp = 0x087,
  kExitIcebp = 0x088,
  kExitWbinvd = 0x089,
  kExitMonitor = 0x08A,
  kExitMwait = 0x08B,
  kExitMwaitConditional = 0x08C,
  kExitXsetbv = 0x08D,
  kExitRdpru = 0x08E,
  kExitEferWriteTrap = 0x08F,
  kExitCr0WriteTrap = 0x090,  // + n
  kExitInvlpgb = 0x0A0,
  kExitInvlpgbIllegal = 0x0A1,
  kExitInvpcid = 0x0A2,
  kExitMcommit = 0x0A3,
  kExitTlbsync = 0x0A4,
  kExitNpf = 0x400,
  kExitAvicIncompleteIpi = 0x401,
  kExitAvicNoaccel = 0x402,
  kExitVmgexit = 0x403,
  kExitInvalid = ~0ull,       // -1: VMRUN consistency check failed (§15.5.1)
  kExitBusy = ~0ull - 1,      // -2
};

const char* exit_code_name(uint64_t code);  // "IOIO", "NPF", "EXCP_PF", ... (exit_codes.cpp)

// IOIO EXITINFO1 (APM vol. 2 §15.10.2, Figure 15-2).
namespace ioio {
inline constexpr uint64_t kTypeIn = 1u << 0;
inline constexpr uint64_t kStr = 1u << 2;
inline constexpr uint64_t kRep = 1u << 3;
inline constexpr uint64_t kSz8 = 1u << 4, kSz16 = 1u << 5, kSz32 = 1u << 6;
inline constexpr uint64_t kA16 = 1u << 7, kA32 = 1u << 8, kA64 = 1u << 9;
inline constexpr unsigned kSegShift = 10;   // [12:10]
inline constexpr unsigned kPortShift = 16;  // [31:16]
}  // namespace ioio

// #NPF EXITINFO1 (APM vol. 2 §15.25.6): a #PF-style error code plus two bits.
namespace npf {
inline constexpr uint64_t kPresent = 1u << 0;
inline constexpr uint64_t kWrite = 1u << 1;
inline constexpr uint64_t kUser = 1u << 2;
inline constexpr uint64_t kReserved = 1u << 3;
inline constexpr uint64_t kFetch = 1u << 4;
inline constexpr uint64_t kFinalAddress = 1ull << 32;  // fault on the final guest-physical address
inline constexpr uint64_t kPageWalk = 1ull << 33;      // fault during the guest page-table walk
}  // namespace npf

}  // namespace redoubt::svm
