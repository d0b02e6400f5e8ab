// How the hypervisor stops (issue 11; docs/isolation.md "Scrubbing" and
// "A hypervisor that fails"):
//  - a failure of the hypervisor itself after the hand-off (a Status out of its
//    init or scheduler, or a CPU exception in its own code, reported by the HAL's
//    fault path) extends EV_REDOUBT_HV_FAILED into PCR17, 18, 19 and 20 at
//    locality 2, as the SL caps a refused launch: no later quote over any DRTM PCR
//    looks like a normal launch;
//  - every stop, normal or not, scrubs every listed guest's RAM, the hypervisor's
//    own pages (VMCBs, nested page tables, HSAVE, the DR/x87 save areas, the
//    copies of the launch policy and manifests, the allocator bitmap), its own
//    state object and the SLB.
// What stays in RAM: the DRTM event log, the LaunchOutcome, the run record and
// each guest's serial log — the evidence a host reads, nothing a guest did not print.
#pragma once
#include <cstdint>

#include "abi/handoff.hpp"
#include "hypervisor/core/run_record.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::hv {

// Extends the failure event (digest = H(reason) in every active bank, event data =
// "ERR: message") into PCR17..20 and appends it to the DRTM log when the log can
// take it; the extends happen either way (policy/fs/measure.hpp). Returns the
// first extend failure (the console names each).
Status cap_hypervisor_failure(hal::Platform& p, hal::HypervisorHandoff& h, const Status& why);

struct ScrubTotals {
  uint64_t guest_bytes = 0;  // listed guests' RAM
  uint64_t hv_bytes = 0;     // hypervisor pages past the run record (serial logs kept)
  uint64_t slb_bytes = 0;    // the 64 KiB SLB
  uint64_t skipped = 0;      // ranges refused because they overlap what must stay (named on the console)
};

// Zeroes what the header lists. `keep`: the run record whose guests' serial logs stay
// (nullptr: none). Ranges that overlap the hypervisor image, the event log or the run
// record are skipped and named, never half-scrubbed over running code.
ScrubTotals scrub_launch_memory(hal::Platform& p, const hal::HypervisorHandoff& h, const RunRecord* keep);

// Records a finished scrub in the run record (when there is one).
void record_scrub(RunRecord* rec, const ScrubTotals& t);

}  // namespace redoubt::hv
