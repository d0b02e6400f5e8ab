// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2):
// a dword write to CONFIG_ADDRESS (0xCF8) selects bus/device/function/register,
// accesses to CONFIG_DATA (0xCFC..0xCFF) read or write that dword's bytes.
// Functions plug in by bus/device/function; absent ones read all-ones.
// Not modelled: mechanism #2, extended (ECAM/MMCONFIG) space, registers above 0xFF.
#pragma once
#include <cstdint>
#include <map>

namespace redoubt::sim {

// One PCI function's 256-byte configuration space, dword at a time.
class PciFunction {
 public:
  virtual uint32_t config_read(uint8_t reg) = 0;  // reg is dword aligned
  // byte_mask: which of the dword's bytes the access writes (bit i = byte i).
  virtual void config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) = 0;

 protected:
  ~PciFunction() = default;
};

class PciConfigPorts {
 public:
  static constexpr uint16_t kFirstPort = 0xCF8;
  static constexpr uint16_t kLastPort = 0xCFF;

  void attach(uint8_t bus, uint8_t device, uint8_t function, PciFunction& f);
  bool claims(uint16_t port) const { return port >= kFirstPort && port <= kLastPort; }
  uint32_t in(uint16_t port, unsigned size);
  void out(uint16_t port, unsigned size, uint32_t value);
  uint32_t address() const { return address_; }

 private:
  PciFunction* selected();
  std::map<uint32_t, PciFunction*> functions_;  // key: bus << 8 | device << 3 | function
  uint32_t address_ = 0;
};

}  // namespace redoubt::sim
