// The VMX MSR areas (Intel SDM vol. 3C §25.7.2, §25.8.2): 16-byte entries
// {MSR index (bits 31:0), reserved (63:32), data (127:64)} for the VM-entry
// MSR-load list (§27.4), the VM-exit MSR-store list (§28.4) and the VM-exit
// MSR-load list (§28.6). The MSRs are those the simulated CPU's RDMSR/WRMSR know.
#pragma once
#include <cstdint>

#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim::vmx {

// §27.4: 0 if every entry of the VM-entry MSR-load list can be loaded, else the 1-based index of
// the first that cannot (reserved bits, FS/GS base, the x2APIC range, SMM monitor control, or a
// value WRMSR would refuse) -- the exit qualification of a VM-entry failure with reason 34.
// Throws CpuError if the list is outside RAM.
uint32_t msr_load_failure(const cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count);
// Loads a list (checked before for the entry list). A VM-exit MSR-load failure is a VMX abort
// (§28.7), which the model reports as CpuError.
void load_msr_list(cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count);
// §28.4: stores the current value of each listed MSR into its entry's data field.
void store_msr_list(cpu::Cpu& c, PhysicalMemory& mem, uint64_t addr, uint64_t count);

}  // namespace redoubt::sim::vmx
