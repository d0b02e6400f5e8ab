// The hypervisor's DMA take-over on an Intel machine (docs/dma.md "VT-d"): the
// one call an Intel entry makes where the AMD one attaches the DEV / AMD-Vi. The
// PMRs SINIT left must cover everything the hand-off names (SLB or MLE, hv image
// and memory, event log, policy, every guest's image, RAM, manifest and initrd,
// and the DMA region); VT-d is then enabled with its root table at the start of
// the DMA region and its tables in the rest (until the hypervisor names its own
// pool), and the PMRs are released. Freestanding.
#pragma once
#include <cstdint>

#include "abi/handoff.hpp"
#include "platform/x86/drivers/vtd.hpp"

namespace redoubt::x86 {

// flags: VtdHw::kKeepPmr / kTestPmrOffFirst, passed to enable().
Status vtd_take_over(VtdHw& vtd, const hal::HypervisorHandoff& h, uint32_t flags = 0);

}  // namespace redoubt::x86
