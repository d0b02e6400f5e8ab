// AMD-V on the real CPU (hal::Svm): the instructions themselves, the world
// switch stub (vmrun.S) and the interrupt window in which the host takes the
// physical interrupt that caused #VMEXIT(INTR). docs/hypervisor.md.
#pragma once
#include <cstdint>

#include "platform/hal/svm.hpp"
#include "platform/x86/host_timer.hpp"

namespace redoubt::x86 {

class BareSvm final : public hal::Svm {
 public:
  void guests_done() override;
  explicit BareSvm(HostTimer& timer) : timer_(timer) {}

  bool available() override;
  Status enable(uint64_t hsave_pa) override;
  void vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs, hal::GuestExtState* ext) override;
  void invlpga(uint64_t va, uint32_t asid) override;
  uint64_t rdtsc() override;
  void arm_timer(uint64_t deadline_tsc, uint8_t vector) override;

  // Counters for tests and the run record.
  uint64_t vmruns() const { return vmruns_; }
  uint64_t interrupt_windows() const { return windows_; }

 private:
  static void on_timer_irq(void* self, uint8_t vector);
  HostTimer& timer_;
  bool enabled_ = false;
  bool fpu_locked_ = false;
  uint8_t timer_vector_ = 0;
  uint64_t vmruns_ = 0;
  uint64_t windows_ = 0;
};

}  // namespace redoubt::x86
