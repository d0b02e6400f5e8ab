// Intercept vector bits of the VMCB control area (APM vol. 2 Table B-1,
// offsets 0x00C and 0x010).
#pragma once
#include <cstdint>

namespace redoubt::svm {

// Offset 0x00C (intercept_misc1).
enum Misc1 : uint32_t {
  kInterceptIntr = 1u << 0, kInterceptNmi = 1u << 1, kInterceptSmi = 1u << 2, kInterceptInit = 1u << 3,
  kInterceptVintr = 1u << 4, kInterceptCr0SelWrite = 1u << 5, kInterceptIdtrRead = 1u << 6,
  kInterceptGdtrRead = 1u << 7, kInterceptLdtrRead = 1u << 8, kInterceptTrRead = 1u << 9,
  kInterceptIdtrWrite = 1u << 10, kInterceptGdtrWrite = 1u << 11, kInterceptLdtrWrite = 1u << 12,
  kInterceptTrWrite = 1u << 13, kInterceptRdtsc = 1u << 14, kInterceptRdpmc = 1u << 15,
  kInterceptPushf = 1u << 16, kInterceptPopf = 1u << 17, kInterceptCpuid = 1u << 18, kInterceptRsm = 1u << 19,
  kInterceptIret = 1u << 20, kInterceptIntn = 1u << 21, kInterceptInvd = 1u << 22, kInterceptPause = 1u << 23,
  kInterceptHlt = 1u << 24, kInterceptInvlpg = 1u << 25, kInterceptInvlpga = 1u << 26,
  kInterceptIoioProt = 1u << 27, kInterceptMsrProt = 1u << 28, kInterceptTaskSwitch = 1u << 29,
  kInterceptFerrFreeze = 1u << 30, kInterceptShutdown = 1u << 31,
};

// Offset 0x010 (intercept_misc2).
enum Misc2 : uint32_t {
  kInterceptVmrun = 1u << 0, kInterceptVmmcall = 1u << 1, kInterceptVmload = 1u << 2,
  kInterceptVmsave = 1u << 3, kInterceptStgi = 1u << 4, kInterceptClgi = 1u << 5, kInterceptSkinit = 1u << 6,
  kInterceptRdtscp = 1u << 7, kInterceptIcebp = 1u << 8, kInterceptWbinvd = 1u << 9,
  kInterceptMonitor = 1u << 10, kInterceptMwait = 1u << 11, kInterceptMwaitArmed = 1u << 12,
  kInterceptXsetbv = 1u << 13, kInterceptRdpru = 1u << 14, kInterceptEferWriteTrap = 1u << 15,
};

}  // namespace redoubt::svm
