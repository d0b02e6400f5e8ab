// The AMD family 0Fh/10h host bridge's miscellaneous-control function (bus 0,
// device 18h, function 3) reduced to what DEV needs: a type-0 header with a
// capability list holding the DEV capability block at 0xF0 (AMD APM vol. 2
// §15.24): DEV_OP/DEV_DATA indirection to DEV_BASE_LO/HI (2 domains),
// DEV_MAP (4 maps), DEV_CAP and DEV_CR. DEV_CR.DEV_EN with a valid domain-0
// base attaches the in-memory table to sim::DeviceExclusionVector, which every
// simulated bus master (sim::DmaPort) goes through.
//
// Not modelled: per-device domains (the simulated bus masters carry no bus/unit
// ID, so every device is in domain 0 and the DEV_MAP registers only hold their
// values), the DEV cache (INV is accepted, reads 0, and nothing is cached),
// DEV_ERR_STATUS/ADDR (read 0; DmaPort keeps the fault log), MEM_CLR, IOSP,
// MCE. SL_DEV_EN reads 1 while SKINIT's SLB protection is in force; software
// cannot clear it here (the model keeps the SLB protected for the whole run).
#pragma once
#include <cstdint>

#include "arch/amd/dev.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/pci_config.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim {

class AmdDevBridge final : public PciFunction {
 public:
  static constexpr uint32_t kDomains = 2;
  static constexpr uint32_t kMaps = 4;
  static constexpr uint32_t kRevision = 1;

  AmdDevBridge(DeviceExclusionVector& dev, PhysicalMemory& mem) : dev_(dev), mem_(mem) {}
  // Attaches itself at 00:18.3 as family 0Fh/10h did.
  void plug_into(PciConfigPorts& pci) {
    pci.attach(arch::amd_dev::kBus, arch::amd_dev::kDevice, arch::amd_dev::kFunction, *this);
  }

  uint32_t config_read(uint8_t reg) override;
  void config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) override;

  uint32_t dev_read(uint32_t function, uint32_t index);
  void dev_write(uint32_t function, uint32_t index, uint32_t value);
  bool dev_enabled() const { return cr_ & arch::amd_dev::cr::kDevEn; }

 private:
  void apply();  // (re)attach or detach the table after a register change

  DeviceExclusionVector& dev_;
  PhysicalMemory& mem_;
  uint32_t op_ = 0;
  uint32_t base_lo_[kDomains] = {}, base_hi_[kDomains] = {};
  uint32_t map_[kMaps] = {};
  uint32_t cr_ = 0;
  uint16_t command_ = 0;
};

}  // namespace redoubt::sim
