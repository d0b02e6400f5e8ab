// Intel VT-x on the real CPU (hal::Vmx): the VMX instructions as inline
// assembly, the world switch stub (vmx_run.S) and the interrupt window in
// which the host takes the physical interrupt behind an external-interrupt
// exit (as BareSvm does after #VMEXIT(INTR)). docs/intel.md.
#pragma once
#include <cstdint>

#include "platform/hal/vmx.hpp"

namespace redoubt::x86 {

class BareVmx final : public hal::Vmx {
 public:
  bool available() override;
  uint64_t rdmsr(uint32_t msr) override;
  Status enable(uint64_t vmxon_pa) override;
  hal::VmxResult vmclear(uint64_t vmcs_pa) override;
  hal::VmxResult vmptrld(uint64_t vmcs_pa) override;
  hal::VmxResult vmread(uint64_t field, uint64_t& value) override;
  hal::VmxResult vmwrite(uint64_t field, uint64_t value) override;
  Status write_host_state() override;
  hal::VmxResult vmenter(bool launch, hal::GuestGprs& regs, hal::GuestExtState* ext, uint64_t& cr2) override;
  hal::VmxResult invept(uint64_t eptp) override;
  hal::VmxResult invvpid(uint16_t vpid) override;
  void guests_done() override;

  uint64_t entries() const { return entries_; }

 private:
  bool on_ = false;
  bool fpu_locked_ = false;
  uint64_t entries_ = 0;
};

}  // namespace redoubt::x86
