#include "platform/sim/machine.hpp"

namespace redoubt::sim {

Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg), mem_(cfg.ram_bytes), dev_(mem_.size()), dma_(mem_, dev_) {
  reset_cpus();
}

void Machine::reset_cpus() {
  bsp_ = CpuState{};
  bsp_.bsp = true;
  bsp_.apic_id = 0;
  aps_.clear();
  for (unsigned i = 1; i < cfg_.cpus; ++i) {
    CpuState ap;
    ap.apic_id = i;
    ap.run = RunState::running;
    aps_.push_back(ap);
  }
}

WarmResetReport Machine::warm_reset() {
  reset_cpus();
  return WarmReset::run(mem_, secrets_);
}

}  // namespace redoubt::sim
