#include "platform/sim/devices/pci_config.hpp"

#include "arch/x86/pci.hpp"

namespace redoubt::sim {

namespace {
uint32_t key(uint32_t bus, uint32_t device, uint32_t function) { return bus << 8 | device << 3 | function; }
uint32_t ones(unsigned size) { return size >= 4 ? ~0u : (1u << (8 * size)) - 1; }
}  // namespace

void PciConfigPorts::attach(uint8_t bus, uint8_t device, uint8_t function, PciFunction& f) {
  functions_[key(bus, device & 0x1F, function & 7)] = &f;
}

PciFunction* PciConfigPorts::selected() {
  if (!(address_ & arch::pci::kEnable)) return nullptr;  // not a configuration cycle
  auto it = functions_.find(key((address_ >> 16) & 0xFF, (address_ >> 11) & 0x1F, (address_ >> 8) & 7));
  return it == functions_.end() ? nullptr : it->second;
}

uint32_t PciConfigPorts::in(uint16_t port, unsigned size) {
  if (port == arch::pci::kConfigAddress && size == 4) return address_;
  if (port < arch::pci::kConfigData || port > kLastPort || size == 0 || size > 4) return ones(size);
  const unsigned byte = port - arch::pci::kConfigData;
  if (byte + size > 4) return ones(size);  // an access may not cross the data dword
  PciFunction* f = selected();
  if (!f) return ones(size);  // master abort: all ones
  return (f->config_read(static_cast<uint8_t>(address_ & 0xFC)) >> (8 * byte)) & ones(size);
}

void PciConfigPorts::out(uint16_t port, unsigned size, uint32_t value) {
  // PCI 3.0 §3.2.2.3.2: only a dword write to 0xCF8 latches CONFIG_ADDRESS; bits 1:0 read 0.
  if (port == arch::pci::kConfigAddress && size == 4) {
    address_ = value & 0x80FFFFFCu;
    return;
  }
  if (port < arch::pci::kConfigData || port > kLastPort || size == 0 || size > 4) return;
  const unsigned byte = port - arch::pci::kConfigData;
  if (byte + size > 4) return;
  PciFunction* f = selected();
  if (!f) return;
  const uint32_t mask = ((1u << size) - 1) << byte;
  f->config_write(static_cast<uint8_t>(address_ & 0xFC), value << (8 * byte), mask);
}

}  // namespace redoubt::sim
