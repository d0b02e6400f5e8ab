// How a launch ends, as the measured images report it to whoever started the
// machine (the simulator's harness, the QEMU harness, a bare-metal loader).
// The record is an output only: the PCRs and the event log are the evidence;
// this says which stage stopped, why, and how much of the event log is used.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::abi {

inline constexpr char kOutcomeMagic[8] = {'R', 'D', 'B', 'T', 'O', 'U', 'T', '1'};

enum class Stage : uint32_t { none = 0, sl = 1, hypervisor = 2 };

struct LaunchOutcome {
  char magic[8];            // "RDBTOUT1" once the SL wrote it
  uint32_t stage;           // Stage: who wrote last
  uint32_t hv_entered;      // 1 once the SL handed over to the hypervisor
  uint32_t err;             // redoubt::Err of the final status (0 = ok)
  uint32_t reserved0;
  uint64_t event_log_used;  // bytes of the DRTM event log in use (SL + hypervisor events)
  uint64_t hv_entry_pa;     // where the SL entered the hypervisor (0 = never)
  char message[240];        // the final status message, NUL-terminated
};
static_assert(sizeof(LaunchOutcome) == 280);
static_assert(offsetof(LaunchOutcome, event_log_used) == 24);
static_assert(offsetof(LaunchOutcome, message) == 40);

// Exit status written to the debug-exit port (QEMU isa-debug-exit at 0xF4, and
// the simulator's power-off port at the same address): the machine stops with
// (value << 1) | 1, as QEMU's device defines it.
inline constexpr uint16_t kDebugExitPort = 0xF4;
enum class ExitStatus : uint8_t {
  ok = 0,               // the hypervisor ran and stopped normally
  launch_refused = 1,   // the SL capped the PCRs and did not enter the hypervisor
  hv_failed = 2,        // the hypervisor stopped with an error
};

}  // namespace redoubt::abi
