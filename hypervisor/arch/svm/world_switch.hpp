// VMRUN together with the guest general-purpose registers the VMCB does not
// hold. APM vol. 2 §15.5.1: VMRUN loads (and #VMEXIT saves) RAX, RSP, RIP,
// RFLAGS and the segment/control state from the VMCB, but RBX, RCX, RDX, RSI,
// RDI, RBP and R8-R15 are left to software: on hardware a small stub around
// VMRUN swaps them with a save area (KVM's __svm_vcpu_run does the same);
// in the simulator an adapter over the SVM model does it.
//
// hal::Svm::vmrun(vmcb_pa) has no way to pass them, so the hypervisor takes a
// WorldSwitch beside the Platform (see docs/hypervisor.md, "Open contract
// question": this belongs in hal::Svm).
#pragma once
#include <cstdint>

#include "hypervisor/core/vcpu_arch.hpp"

namespace redoubt::svm {

class WorldSwitch {
 public:
  // VMRUN with RAX = vmcb_pa; regs in/out. regs.rax and regs.rsp are ignored
  // (they live in the VMCB save area).
  virtual void vmrun(uint64_t vmcb_pa, hv::GuestGprs& regs) = 0;

 protected:
  ~WorldSwitch() = default;
};

}  // namespace redoubt::svm
