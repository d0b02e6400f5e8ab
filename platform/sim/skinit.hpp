// SKINIT, as AMD APM vol. 2 §15.27 "Secure Startup with SKINIT" and the vol. 3
// SKINIT instruction page describe it, acting on the simulated machine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/sim/cpu_state.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/memory.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::sim {

// The host-side TPM client (tpm/) is a library of its own; the simulator is one of its users.
using tpm::TpmDevice;
using tpm::TpmError;

struct CpuFault {
  uint8_t vector;       // 6 = #UD, 13 = #GP (APM vol. 2 §8.2)
  uint32_t error_code;  // #GP(0)
  std::string why;      // which precondition failed
  std::string name() const;  // "#UD", "#GP(0)"
};

struct SkinitResult {
  std::optional<CpuFault> fault;  // set: SKINIT raised this fault and changed nothing
  uint64_t slb_base = 0;
  uint16_t entry_offset = 0;
  uint16_t length = 0;
  std::vector<uint8_t> measured;  // SLB[0:length], exactly the bytes sent to the TPM
};

struct Platform;  // forward (machine.hpp)

// Executes SKINIT on `cpu` (which must be the BSP) with EAX = SLB base.
//  - #UD if EFER.SVME = 0 or SKINIT is not supported; #UD outside protected mode;
//  - #GP(0) if CPL != 0;
//  - #GP(0) if any AP is not held in INIT (Redoubt's model of the APM's
//    requirement that APs be in INIT before SKINIT; see docs/skinit.md).
// On success: DEV-protects the 64 KiB SLB, runs the locality-4 hash sequence
// over SLB[0:length] (resetting PCR17-22), and leaves the CPU in the SL entry
// state: 32-bit flat protected mode, paging off, GIF = 0, INIT/NMI/SMI held,
// EAX = SLB base, EDX = family/model/stepping, ESP = SLB base + 64 KiB,
// RIP = SLB base + entry offset.
SkinitResult skinit(CpuState& cpu, std::vector<CpuState>& aps, PhysicalMemory& mem, DeviceExclusionVector& dev,
                    TpmDevice& tpm, bool skinit_supported = true);

inline constexpr uint32_t kSimCpuidFamilyModelStepping = 0x00A00F11;  // reported in EDX (Zen 3-like)

}  // namespace redoubt::sim
