// The native secure loader hands over to the MEASURED hypervisor: hv.bin, the
// bytes the SL just verified and measured, executed by the full-system CPU on
// the simulated machine (its own VMRUN runs the guests on the simulated SVM).
// A step of the "what is measured is what runs" work while sl.bin does not yet
// fit the SLB with its drivers (docs/skinit.md): the SL is native and checked
// against the sl.bin built from the same sources; everything after it is real.
// The hand-off is what sl.bin does on bare metal (platform/x86/hv_handoff.cpp):
// the DEV enabled with the pages the SL protected, a boot area at the end of
// hypervisor memory, and hv.bin entered in long mode with RDI = the boot area.
#pragma once
#include <memory>

#include "abi/handoff.hpp"
#include "platform/sim/full_system.hpp"

namespace redoubt::sim {

class MeasuredHypervisor {
 public:
  MeasuredHypervisor(Machine& m, TpmDevice& tpm, ConsoleSink sink, const LaunchLayout& layout,
                     FullSystemOptions opt = {});
  // Runs hv.bin until it powers off; the hand-off's event_log_used is updated
  // with the hypervisor's events. Ok when hv.bin stopped normally.
  Status enter(hal::HypervisorHandoff& ho);
  FullSystem& system() { return *system_; }
  // Test-only abi::kBareFlag* for hv.bin's entry header (the real SL always writes 0).
  void set_test_flags(uint64_t f) { test_flags_ = f; }

 private:
  Status enable_dev();
  Machine& m_;
  LaunchLayout layout_;
  std::unique_ptr<FullSystem> system_;
  uint64_t test_flags_ = 0;
};

}  // namespace redoubt::sim
