// Moving state between the simulated CPU and a VMCB, split the way the
// architecture splits it (AMD APM vol. 2 §15.5-§15.6, §15.5.2):
//  - VMRUN loads, and #VMEXIT stores, the "VMRUN state": ES/CS/SS/DS, GDTR/IDTR,
//    CR0/CR2/CR3/CR4, EFER, DR6/DR7, RFLAGS, RIP, RSP, RAX, CPL, G_PAT;
//  - VMLOAD/VMSAVE move the "hidden state": FS, GS, TR, LDTR (with their hidden
//    parts), KernelGsBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP.
// Used by SvmCpu (the native path's VMRUN from C++) and HostSvm (the measured
// hypervisor's own VMRUN instruction).
#pragma once
#include <cstdint>

#include "arch/svm/vmcb.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim::svm {

void load_controls(cpu::Cpu& c, PhysicalMemory& mem, const redoubt::svm::VmcbControl& ctl);
void load_vmrun_state(cpu::Cpu& c, const redoubt::svm::VmcbSave& s);
void store_vmrun_state(const cpu::Cpu& c, redoubt::svm::VmcbSave& o);
void load_hidden_state(cpu::Cpu& c, const redoubt::svm::VmcbSave& s);
void store_hidden_state(const cpu::Cpu& c, redoubt::svm::VmcbSave& o);
// EVENTINJ (§15.20): delivered before the first guest instruction, not itself intercepted.
void inject_pending_event(cpu::Cpu& c, const redoubt::svm::VmcbControl& ctl);
// EXITCODE/EXITINFO1/2/EXITINTINFO/nRIP, the interrupt shadow, EVENTINJ consumed.
void store_exit_info(const cpu::Cpu& c, redoubt::svm::VmcbControl& oc);
// Whether the simulated CPU can execute this guest's mode; nullptr = yes, else why not.
const char* guest_mode_unsupported(const redoubt::svm::VmcbSave& s);

}  // namespace redoubt::sim::svm
