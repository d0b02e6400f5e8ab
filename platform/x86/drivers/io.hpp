// The tiny accessor interfaces the bare-metal drivers are written against, so
// the same driver code runs on hardware (volatile MMIO, IN/OUT) and in native
// unit tests (an implementation forwarding to a simulated device).
// Freestanding, header-only.
#pragma once
#include <cstdint>

namespace redoubt::x86 {

// A device's MMIO window; offsets are relative to its base.
class Mmio {
 public:
  virtual uint8_t read8(uint64_t off) = 0;
  virtual uint32_t read32(uint64_t off) = 0;
  virtual void write8(uint64_t off, uint8_t v) = 0;
  virtual void write32(uint64_t off, uint32_t v) = 0;

 protected:
  ~Mmio() = default;
};

// x86 I/O port space (Intel SDM vol. 1 §19.2 / AMD APM vol. 1 §3.8: IN/OUT of 1, 2 or 4 bytes).
class PortBus {
 public:
  virtual uint8_t in8(uint16_t port) = 0;
  virtual uint16_t in16(uint16_t port) = 0;
  virtual uint32_t in32(uint16_t port) = 0;
  virtual void out8(uint16_t port, uint8_t v) = 0;
  virtual void out16(uint16_t port, uint16_t v) = 0;
  virtual void out32(uint16_t port, uint32_t v) = 0;

 protected:
  ~PortBus() = default;
};

// The time stamp counter (RDTSC, APM vol. 3): the only clock the drivers have.
class Tsc {
 public:
  virtual uint64_t now() = 0;

 protected:
  ~Tsc() = default;
};

// ---- bare-metal implementations ----------------------------------------------

// Uncached MMIO through volatile pointers (the window must be mapped UC, or
// paging off: APM vol. 2 §7.4 memory types; physical = virtual in the SL).
class VolatileMmio final : public Mmio {
 public:
  explicit VolatileMmio(uint64_t base) : base_(base) {}
  uint8_t read8(uint64_t off) override { return *reinterpret_cast<volatile uint8_t*>(base_ + off); }
  uint32_t read32(uint64_t off) override { return *reinterpret_cast<volatile uint32_t*>(base_ + off); }
  void write8(uint64_t off, uint8_t v) override { *reinterpret_cast<volatile uint8_t*>(base_ + off) = v; }
  void write32(uint64_t off, uint32_t v) override { *reinterpret_cast<volatile uint32_t*>(base_ + off) = v; }

 private:
  uint64_t base_;
};

#if defined(__x86_64__) || defined(__i386__)
class X86PortBus final : public PortBus {
 public:
  uint8_t in8(uint16_t port) override {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
  }
  uint16_t in16(uint16_t port) override {
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
  }
  uint32_t in32(uint16_t port) override {
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
  }
  void out8(uint16_t port, uint8_t v) override { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
  void out16(uint16_t port, uint16_t v) override { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
  void out32(uint16_t port, uint32_t v) override { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
};

class RdtscClock final : public Tsc {
 public:
  uint64_t now() override {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
  }
};
#endif

}  // namespace redoubt::x86
