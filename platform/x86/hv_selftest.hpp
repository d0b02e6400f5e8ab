// Test-only paths of hv.bin, selected by the boot area's flags (abi/bare_hv_entry.hpp),
// which only the QEMU boot stub sets: the VMRUN / GPR-exchange self-test.
#pragma once
#include "abi/bare_hv_entry.hpp"
#include "platform/hal/hal.hpp"
#include "platform/x86/bare_svm.hpp"

namespace redoubt::x86 {

// Runs one tiny guest under AMD-V with nested paging to VMMCALL and checks the
// world switch: all 15 GPRs both ways, VMLOAD of the guest's FS/KernelGsBase/
// LSTAR, VMSAVE of the guest's LSTAR, the host's own MSRs restored; then times
// `round_trips` VMRUN -> VMMCALL -> #VMEXIT round trips, and takes one software
// interrupt through the IDT's handler registry. Memory: the first
// 64 KiB of the hand-off's hypervisor memory.
Status vmrun_selftest(hal::Platform& platform, BareSvm& svm, const abi::BareHvEntry& entry, uint32_t round_trips);

}  // namespace redoubt::x86
