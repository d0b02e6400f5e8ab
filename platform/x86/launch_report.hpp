// How a measured image ends on bare metal: the LaunchOutcome record
// (abi/launch_outcome.hpp) is written, the reason printed, and the machine
// powered off through the debug-exit port with the ExitStatus — then cli; hlt.
// One instance per image (the SL's, or the hypervisor's); exception handlers
// and the runtime's fatal paths reach it without a context pointer.
#pragma once
#include <cstdint>

#include "abi/launch_outcome.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::x86 {

// Call once at entry. `outcome` may be null (no record: the loader gave none or
// it failed the SL's checks); `console` may be null until one exists.
void launch_report_init(abi::Stage stage, hal::Console* console, abi::LaunchOutcome* outcome);
abi::LaunchOutcome* launch_report_outcome();
hal::Console* launch_report_console();  // null until init names one
// The SL, just before it jumps: hv_entered = 1, hv_entry_pa, event_log_used.
void launch_report_hv_entered(uint64_t hv_entry_pa, uint64_t event_log_used);
void launch_report_log_used(uint64_t event_log_used);

// The stack [bottom, top) was painted with kStackPaint at entry (sl_entry.S):
// launch_stop prints how much of it was ever used, and says so loudly if the
// lowest word was overwritten (an overflow into whatever lies below).
inline constexpr uint64_t kStackPaint = 0x5354414B5354414Bull;
void launch_report_stack(uint64_t bottom, uint64_t top);

// The harness channel (abi/harness_channel.hpp): what launch_stop sends on COM2
// before it powers off. The DRTM event log [pa, *used) (cap bounds it; used null: the
// outcome record's event_log_used),
// and, through the hook, more regions (the hypervisor's run record, guest serial buffers).
struct DumpRegion {
  uint64_t pa, size;
};
void launch_report_event_log(uint64_t pa, uint64_t cap, const volatile uint64_t* used = nullptr);
using DumpHook = size_t (*)(DumpRegion* out, size_t max);
void launch_report_dump_hook(DumpHook hook);
// The hypervisor's fail-closed path (hypervisor/core/entry.hpp hypervisor_fatal): launch_stop
// with hv_failed calls it first (cap PCR17-20, scrub), whatever led there: a Status, an
// exception in the hypervisor's own code, a HAL failure. It must return.
using FailureHook = void (*)(Err err, const char* message);
void launch_report_failure_hook(FailureHook hook);
// After the evidence is sent, launch_stop zeroes the stack from `bottom` up to just below its
// own frame: the frames of a world switch held guest registers (docs/isolation.md "Scrubbing").
void launch_report_scrub_stack(uint64_t bottom);
// Write the record (stage, err, message), print "<tag> power off: ...", and power off.
[[noreturn]] void launch_stop(abi::ExitStatus status, Err err, const char* message);
// A failure of the running stage: the SL refuses (launch_refused), the hypervisor fails (hv_failed).
[[noreturn]] void launch_fail(Err err, const char* message);

// outb(kDebugExitPort, status), then cli; hlt forever (QEMU's isa-debug-exit
// stops the machine with (status << 1) | 1; on hardware the CPU just halts).
[[noreturn]] void power_off(abi::ExitStatus status);

const char* exit_status_name(abi::ExitStatus s);

}  // namespace redoubt::x86
