#include "platform/sim/bus.hpp"

#include <stdexcept>

namespace redoubt::sim {

void Bus::map_ports(std::string name, uint16_t base, uint16_t count, PortIn in, PortOut out) {
  for (const PortRange& r : ports_)
    if (base < r.base + r.count && r.base < base + count)
      throw std::invalid_argument("ports of " + name + " overlap " + r.name);
  ports_.push_back({std::move(name), base, count, std::move(in), std::move(out)});
}

void Bus::map_mmio(std::string name, uint64_t base, uint64_t size, MmioRead rd, MmioWrite wr) {
  for (const MmioRange& r : mmio_)
    if (base < r.base + r.size && r.base < base + size)
      throw std::invalid_argument("MMIO of " + name + " overlaps " + r.name);
  mmio_.push_back({std::move(name), base, size, std::move(rd), std::move(wr)});
}

uint32_t Bus::in(uint16_t port, unsigned size) {
  ++port_accesses;
  for (PortRange& r : ports_)
    if (port >= r.base && port < r.base + r.count) return r.in ? r.in(port, size) : ~0u;
  return size == 4 ? ~0u : (1u << (8 * size)) - 1;
}

void Bus::out(uint16_t port, unsigned size, uint32_t value) {
  ++port_accesses;
  for (PortRange& r : ports_)
    if (port >= r.base && port < r.base + r.count) {
      if (r.out) r.out(port, size, value);
      return;
    }
}

bool Bus::mmio_read(uint64_t pa, unsigned size, uint64_t& value) {
  for (MmioRange& r : mmio_)
    if (pa >= r.base && pa - r.base < r.size) {
      ++mmio_accesses;
      value = r.rd ? r.rd(pa - r.base, size) : ~0ull;
      return true;
    }
  return false;
}

bool Bus::mmio_write(uint64_t pa, unsigned size, uint64_t value) {
  for (MmioRange& r : mmio_)
    if (pa >= r.base && pa - r.base < r.size) {
      ++mmio_accesses;
      if (r.wr) r.wr(pa - r.base, size, value);
      return true;
    }
  return false;
}

}  // namespace redoubt::sim
