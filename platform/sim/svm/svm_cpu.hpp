// The simulated CPU's AMD-V (SVM) model: hal::Svm for the simulator.
// Construct one over a Machine and attach it with SimPlatform::set_svm.
// The contract is the architecture: the hypervisor writes the VMCB, nested
// page tables, IOPM and MSRPM into the Machine's physical memory and calls
// vmrun(vmcb_pa); see docs/simulator-cpu.md ("Using the SVM model").
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include "platform/hal/svm.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/machine.hpp"

namespace redoubt::sim {

// Guest general-purpose registers that the VMCB does not hold (everything but
// RAX, RSP, RIP), indexed by encoding (RAX=0 ... R15=15; slots 0 and 4 unused).
// On hardware the hypervisor's world-switch stub keeps them; here SvmCpu keeps
// them per VMCB address, and vmrun(vmcb_pa, regs) exchanges them explicitly.
struct GuestGprs {
  uint64_t r[16];  // trivial (memcpy-able); value-initialised (zero) when first used
};

class SvmCpu final : public hal::Svm {
 public:
  explicit SvmCpu(Machine& m);

  // hal::Svm
  bool available() override { return true; }
  Status enable(uint64_t hsave_pa) override;
  void vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs, hal::GuestExtState* ext) override;
  void invlpga(uint64_t va, uint32_t asid) override;
  uint64_t rdtsc() override { return cpu_.icount; }
  void arm_timer(uint64_t deadline_tsc, uint8_t vector) override;

  // VMRUN with the non-VMCB guest GPRs passed in and out, as the interpreter
  // indexes them (r[0] = RAX ... r[15] = R15), and DR0-3/x87/SSE if ext is given.
  // Never throws for anything the guest did: a guest state or operation the
  // model cannot execute ends as #VMEXIT(VMEXIT_INVALID) (why: last_invalid_reason()).
  void vmrun(uint64_t vmcb_pa, GuestGprs& regs, hal::GuestExtState* ext = nullptr);
  // For tests and benchmarks that drive the model directly: VMRUN with GPRs
  // kept per VMCB (gprs(vmcb_pa)).
  void vmrun(uint64_t vmcb_pa) { vmrun(vmcb_pa, gprs_[vmcb_pa]); }
  // The stored GPRs of the guest that runs on `vmcb_pa` (used by vmrun(vmcb_pa)).
  GuestGprs& gprs(uint64_t vmcb_pa) { return gprs_[vmcb_pa]; }

  cpu::Cpu& cpu() { return cpu_; }
  cpu::Counters& counters() { return cpu_.counters; }
  void set_ports(cpu::PortIo* p) { cpu_.ports = p; }
  // Instructions one VMRUN may retire before the simulator gives up (CpuError); 0 = unlimited.
  void set_run_limit(uint64_t n) { run_limit_ = n; }
  // Host code changed guest memory without going through the CPU (loader, DMA).
  void code_modified() { cpu_.code_modified_externally(); }
  // Why the last VMRUN gave VMEXIT_INVALID (nullptr otherwise).
  const char* last_invalid_reason() const { return invalid_reason_; }

 private:
  std::string limit_reason_;  // a simulator limit the guest hit (owned text for invalid_reason_)
  Machine& m_;
  cpu::Cpu cpu_;
  std::unordered_map<uint64_t, GuestGprs> gprs_;
  uint64_t run_limit_ = 0;
  const char* invalid_reason_ = nullptr;
};

}  // namespace redoubt::sim
