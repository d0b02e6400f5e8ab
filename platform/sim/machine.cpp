#include "platform/sim/machine.hpp"

namespace redoubt::sim {

Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg), mem_(cfg.ram_bytes), dev_(mem_.size()), dma_(mem_, dev_) {
  bsp_.bsp = true;
  bsp_.apic_id = 0;
  for (unsigned i = 1; i < cfg.cpus; ++i) {
    CpuState ap;
    ap.apic_id = i;
    ap.run = RunState::running;
    aps_.push_back(ap);
  }
}

}  // namespace redoubt::sim
