// The simulated x86 machine: RAM, CPUs, the DEV and a bus master for DMA.
#pragma once
#include <cstdint>
#include <vector>

#include "platform/sim/cpu_state.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/memory.hpp"
#include "platform/sim/reset.hpp"

namespace redoubt::sim {

struct MachineConfig {
  uint64_t ram_bytes = 256ull << 20;
  unsigned cpus = 2;             // BSP + APs
  bool skinit_supported = true;  // CPUID Fn8000_0001_ECX[SKINIT]
};

class Machine {
 public:
  explicit Machine(const MachineConfig& cfg = {});
  PhysicalMemory& mem() { return mem_; }
  DeviceExclusionVector& dev() { return dev_; }
  DmaPort& dma() { return dma_; }
  CpuState& bsp() { return bsp_; }
  std::vector<CpuState>& aps() { return aps_; }
  const MachineConfig& config() const { return cfg_; }
  // The platform's sticky "secrets in memory" flag (platform/sim/reset.hpp): it survives a warm reset.
  SecretsFlag& secrets() { return secrets_; }
  // A warm reset: the CPUs start over, RAM keeps its contents, and the platform scrubs all
  // of it first when the secrets flag is set (reset.hpp). What a reset attacker gets next.
  WarmResetReport warm_reset();

 private:
  void reset_cpus();
  MachineConfig cfg_;
  PhysicalMemory mem_;
  DeviceExclusionVector dev_;
  DmaPort dma_;
  CpuState bsp_;
  std::vector<CpuState> aps_;
  SecretsFlag secrets_;
};

}  // namespace redoubt::sim
