// AMD-V as the measured hypervisor's own instructions see it: VMRUN, VMLOAD and
// VMSAVE executed by interpreted host code (APM vol. 2 §15.5-§15.6). VMRUN
// saves the host state, loads the guest from the VMCB and switches the CPU into
// guest mode in the middle of its run loop; at the guest's #VMEXIT the machine
// (platform/sim/full_system) calls vmexit(), which writes the guest back to the
// VMCB and resumes the host after its VMRUN with GIF = 0. Nothing here knows
// which program is the host.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/host_ticks.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim::svm {

class HostSvm final : public cpu::HostSvm {
 public:
  HostSvm(cpu::Cpu& c, PhysicalMemory& mem) : c_(c), mem_(mem) { c.host_svm = this; }
  ~HostSvm() { c_.host_svm = nullptr; }
  HostSvm(const HostSvm&) = delete;
  HostSvm& operator=(const HostSvm&) = delete;

  void vmrun(cpu::Cpu& c) override;
  void vmload(cpu::Cpu& c) override;
  void vmsave(cpu::Cpu& c) override;

  // The guest stopped (cpu.run returned Stop::vmexit): world switch back to the host.
  void vmexit();
  // The guest did something the model cannot execute (a cpu::CpuError in guest mode):
  // its run ends as #VMEXIT(VMEXIT_INVALID) with `why` as last_invalid_reason(); the host goes on.
  void vmexit_invalid(const std::string& why);
  bool in_guest() const { return c_.guest; }
  uint64_t current_vmcb() const { return vmcb_pa_; }

  // Observers: called at every world switch (entering = true just before the
  // guest's first instruction, false right after its state is stored back).
  std::function<void(uint64_t vmcb_pa, bool entering)> on_world_switch;
  // Host wall-clock time spent in guest mode, per VMCB (for statistics).
  struct PerVmcb { double seconds = 0; uint64_t walks = 0, walk_refs = 0, nested_refs = 0, ticks = 0; };
  std::map<uint64_t, PerVmcb> per_vmcb() const {  // seconds from the ticks counted per world switch
    std::map<uint64_t, PerVmcb> out = per_;
    for (auto& [pa, p] : out) p.seconds = ticks_.seconds(p.ticks);
    return out;
  }
  // Why the last VMRUN gave VMEXIT_INVALID (nullptr otherwise).
  const char* last_invalid_reason() const { return invalid_reason_; }

 private:
  struct HostState {  // what VMRUN saves in VM_HSAVE (§15.5.1; the layout there is ours)
    Segment es, cs, ss, ds, gdtr, idtr;
    uint64_t cr0, cr3, cr4, efer, rflags, rip, rsp, rax, pat;
  };
  cpu::Cpu& c_;
  PhysicalMemory& mem_;
  HostState host_{};
  uint64_t vmcb_pa_ = 0;
  uint64_t external_writes_seen_ = 0;  // PhysicalMemory::external_writes() at the last VMRUN
  uint64_t icount0_ = 0, idle0_ = 0, walks0_ = 0, refs0_ = 0, nrefs0_ = 0;
  HostTicks ticks_;
  uint64_t t0_ = 0;
  std::map<uint64_t, PerVmcb> per_;
  const char* invalid_reason_ = nullptr;
  std::string limit_reason_;
};

}  // namespace redoubt::sim::svm
