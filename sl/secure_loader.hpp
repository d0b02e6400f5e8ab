// The secure loader: the first code measured by the CPU (SKINIT). It verifies
// the signed hypervisor, measures it at locality 2, writes the DRTM event log
// and hands over; on any failure it caps PCR17/18 and never enters the hypervisor.
#pragma once
#include <cstdint>

#include "platform/hal/hal.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::sl {

struct Outcome {
  bool launched = false;    // the hypervisor was entered
  Status reason;            // why not (or the hypervisor's own exit status)
  uint64_t event_log_used = 0;
};

// Entered with the SKINIT state (EAX = SLB base). Returns only in the simulator
// (and after a refusal); the bare-metal entry halts with the reason.
Outcome secure_loader_main(hal::Platform& platform, uint64_t slb_base);

// A refusal before secure_loader_main could start (the bare-metal stage 2 could
// not take over the DEV): caps PCR17/18 with the reason, writes no log.
Outcome refuse(hal::Platform& platform, uint64_t slb_base, const Status& why);

}  // namespace redoubt::sl
