// The hypervisor's host timer as the world switch needs it: a one-shot
// physical interrupt at a TSC deadline, and its end-of-interrupt. The LAPIC
// timer driver (platform/x86/drivers/) implements it; bare_svm.cpp only uses it.
#pragma once
#include <cstdint>

namespace redoubt::x86 {

class HostTimer {
 public:
  // Raise `vector` once the TSC reaches deadline_tsc (replaces any earlier arm).
  virtual void arm(uint64_t deadline_tsc, uint8_t vector) = 0;
  // Signal end-of-interrupt for the vector just taken (LAPIC EOI).
  virtual void eoi() = 0;

 protected:
  ~HostTimer() = default;
};

}  // namespace redoubt::x86
