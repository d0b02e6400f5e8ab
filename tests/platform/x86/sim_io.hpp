// Test implementations of the driver accessor interfaces (platform/x86/drivers/io.hpp)
// that forward to a simulated device, so the bare-metal driver code runs natively
// against platform/sim/devices.
#pragma once
#include <cstdint>
#include <functional>
#include <ostream>

#include "platform/hal/digest.hpp"
#include "platform/hal/hal.hpp"
#include "platform/hal/status.hpp"

#include "platform/sim/memory.hpp"
#include "platform/x86/drivers/io.hpp"

// Boost.Test prints these in failure messages.
namespace redoubt {
inline std::ostream& operator<<(std::ostream& o, Err e) { return o << err_name(e); }
inline std::ostream& operator<<(std::ostream& o, HashAlg a) { return o << hash_alg_name(a); }
}  // namespace redoubt

namespace devtest {

// Mmio onto any device with mmio_read(offset, size) / mmio_write(offset, size, value).
template <class Device>
class DeviceMmio final : public redoubt::x86::Mmio {
 public:
  explicit DeviceMmio(Device& d) : d_(d) {}
  uint8_t read8(uint64_t off) override { ++reads; return static_cast<uint8_t>(d_.mmio_read(off, 1)); }
  uint32_t read32(uint64_t off) override { ++reads; return static_cast<uint32_t>(d_.mmio_read(off, 4)); }
  void write8(uint64_t off, uint8_t v) override { d_.mmio_write(off, 1, v); }
  void write32(uint64_t off, uint32_t v) override { d_.mmio_write(off, 4, v); }
  uint64_t reads = 0;

 private:
  Device& d_;
};

// A device's registers as a driver sees them, with a hook after each 32-bit write: the moment an
// attacker (a DMA engine the test programs) acts between two of the driver's register writes.
// kDwordOnly: byte reads go through the containing dword and byte writes are dropped (VT-d's
// registers take 32- and 64-bit accesses only, VT-d spec §10.2).
template <class Device, bool kDwordOnly = false>
class HookedMmio final : public redoubt::x86::Mmio {
 public:
  explicit HookedMmio(Device& d) : d_(d) {}
  std::function<void(uint32_t, uint32_t)> after_write;
  uint8_t read8(uint64_t off) override {
    if constexpr (kDwordOnly) return static_cast<uint8_t>(d_.mmio_read(off & ~3ull, 4) >> (8 * (off & 3)));
    else return static_cast<uint8_t>(d_.mmio_read(off, 1));
  }
  uint32_t read32(uint64_t off) override { return static_cast<uint32_t>(d_.mmio_read(off, 4)); }
  void write8(uint64_t off, uint8_t v) override {
    if constexpr (!kDwordOnly) d_.mmio_write(off, 1, v);
  }
  void write32(uint64_t off, uint32_t v) override {
    d_.mmio_write(off, 4, v);
    if (after_write) after_write(static_cast<uint32_t>(off), v);
  }

 private:
  Device& d_;
};

// hal::PhysMem onto the simulator's RAM (what the bare-metal drivers map their tables through).
struct SimPhysMem final : redoubt::hal::PhysMem {
  redoubt::sim::PhysicalMemory& m;
  explicit SimPhysMem(redoubt::sim::PhysicalMemory& mem) : m(mem) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return m.map(pa, n); }
};

// PortBus onto a function pair (port, size) -> value / (port, size, value).
class FnPortBus final : public redoubt::x86::PortBus {
 public:
  std::function<uint32_t(uint16_t, unsigned)> in;
  std::function<void(uint16_t, unsigned, uint32_t)> out;
  uint8_t in8(uint16_t p) override { return static_cast<uint8_t>(in(p, 1)); }
  uint16_t in16(uint16_t p) override { return static_cast<uint16_t>(in(p, 2)); }
  uint32_t in32(uint16_t p) override { return in(p, 4); }
  void out8(uint16_t p, uint8_t v) override { out(p, 1, v); }
  void out16(uint16_t p, uint16_t v) override { out(p, 2, v); }
  void out32(uint16_t p, uint32_t v) override { out(p, 4, v); }
};

}  // namespace devtest
