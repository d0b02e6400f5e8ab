// The simulated machine's I/O fabric: port I/O and memory-mapped device
// registers, routed by address to the devices that claim them. Unclaimed ports
// read all-ones and drop writes, as an empty ISA/PCI bus does.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim {

class Bus final : public cpu::PortIo, public cpu::Mmio {
 public:
  using PortIn = std::function<uint32_t(uint16_t port, unsigned size)>;
  using PortOut = std::function<void(uint16_t port, unsigned size, uint32_t value)>;
  using MmioRead = std::function<uint64_t(uint64_t offset, unsigned size)>;
  using MmioWrite = std::function<void(uint64_t offset, unsigned size, uint64_t value)>;

  // Ports [base, base + count). Throws std::invalid_argument on an overlap.
  void map_ports(std::string name, uint16_t base, uint16_t count, PortIn in, PortOut out);
  // Physical [base, base + size), offsets passed relative to base.
  void map_mmio(std::string name, uint64_t base, uint64_t size, MmioRead rd, MmioWrite wr);

  // cpu::PortIo
  uint32_t in(uint16_t port, unsigned size) override;
  void out(uint16_t port, unsigned size, uint32_t value) override;
  // cpu::Mmio
  bool mmio_read(uint64_t pa, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t pa, unsigned size, uint64_t value) override;

  uint64_t port_accesses = 0, mmio_accesses = 0;

 private:
  struct PortRange { std::string name; uint16_t base, count; PortIn in; PortOut out; };
  struct MmioRange { std::string name; uint64_t base, size; MmioRead rd; MmioWrite wr; };
  std::vector<PortRange> ports_;
  std::vector<MmioRange> mmio_;
};

}  // namespace redoubt::sim
