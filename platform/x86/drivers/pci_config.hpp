// PCI configuration mechanism #1 over I/O ports (PCI Local Bus Specification 3.0
// §3.2.2.3.2): dword accesses only. Not re-entrant (CONFIG_ADDRESS is shared
// state): the SL and hypervisor run it on one CPU with interrupts off.
// Freestanding, header-only.
#pragma once
#include <cstdint>

#include "arch/x86/pci.hpp"
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

struct PciAddress {
  uint8_t bus, device, function;
};

inline uint32_t pci_read32(PortBus& io, PciAddress a, uint8_t reg) {
  io.out32(arch::pci::kConfigAddress, arch::pci::config_address(a.bus, a.device, a.function, reg));
  return io.in32(arch::pci::kConfigData);
}

inline void pci_write32(PortBus& io, PciAddress a, uint8_t reg, uint32_t v) {
  io.out32(arch::pci::kConfigAddress, arch::pci::config_address(a.bus, a.device, a.function, reg));
  io.out32(arch::pci::kConfigData, v);
}

}  // namespace redoubt::x86
