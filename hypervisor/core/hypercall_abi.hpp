// The Redoubt hypercall ABI (docs/hypercalls.md): VMMCALL with the call
// number in RAX and arguments in RDI, RSI, RDX; the result in RAX
// (0 = success, negative = error). Guests include this header.
#pragma once
#include <cstdint>

namespace redoubt::hv {

enum Hypercall : uint64_t {
  kHcConsoleWrite = 1,    // RDI = guest-virtual buffer, RSI = length (<= 4096)
  kHcYield = 2,           // give up the rest of the time slice
  kHcShutdown = 3,        // RDI = exit code; the guest is gone
  kHcGetLaunchInfo = 4,   // RDI = guest-virtual buffer, RSI = size: fills LaunchInfo
  kHcSetTimer = 5,        // RDI = vector (32-255), RSI = ticks from now (0 = cancel), RDX = period (0 = one-shot)
};

enum HypercallError : int64_t { kHcOk = 0, kHcEInval = -22, kHcEFault = -14, kHcENosys = -38 };

// kHcSetTimer refuses a delay or period above this (-EINVAL): 2^48 ticks (about 3 days at
// 1 GHz) keeps every deadline computation far from wrapping 64 bits.
inline constexpr uint64_t kMaxTimerTicks = 1ull << 48;

// What kHcGetLaunchInfo returns: the measured-launch facts a guest may report.
struct LaunchInfo {
  uint64_t hv_svn;
  char hv_version[32];
  uint8_t pcr17_sha256[32];  // reserved: filled once the hypervisor can read PCRs
  uint32_t guest_id;
  uint32_t reserved;
};

}  // namespace redoubt::hv
