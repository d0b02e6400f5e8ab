// The SVM permission maps as the CPU consults them (pure functions on the
// map bytes in host memory).
#pragma once
#include <cstdint>

namespace redoubt::sim::svm {

// IOPM (APM vol. 2 §15.10.1): one bit per port; an access of `size` bytes is
// intercepted if any of the bits port..port+size-1 is set (the 12 KiB map
// covers the wrap beyond port 0xFFFF).
inline bool io_intercepted(const uint8_t* iopm, uint16_t port, unsigned size) {
  for (unsigned i = 0; i < size; ++i) {
    const uint32_t p = uint32_t(port) + i;
    if ((iopm[p >> 3] >> (p & 7)) & 1) return true;
  }
  return false;
}

// MSRPM (APM vol. 2 §15.11, Table 15-x): three 2 KiB vectors, two bits per
// MSR (even = read, odd = write). MSRs outside the three ranges always exit.
inline bool msr_intercepted(const uint8_t* msrpm, uint32_t msr, bool write) {
  uint32_t base;
  if (msr <= 0x1FFF) base = 0x000;                                  // 0000_0000-0000_1FFF
  else if (msr >= 0xC0000000 && msr <= 0xC0001FFF) base = 0x800;    // C000_0000-C000_1FFF
  else if (msr >= 0xC0010000 && msr <= 0xC0011FFF) base = 0x1000;   // C001_0000-C001_1FFF
  else return true;
  const uint32_t bit = (msr & 0x1FFF) * 2 + (write ? 1 : 0);
  return (msrpm[base + bit / 8] >> (bit % 8)) & 1;
}

}  // namespace redoubt::sim::svm
