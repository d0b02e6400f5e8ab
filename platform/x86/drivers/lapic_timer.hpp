// Local APIC timer driver (AMD APM vol. 2 §16.3 "Local APIC", §16.4.1 "APIC
// Timer Interrupt"): software-enable the APIC through SVR, calibrate the timer's
// count rate against the TSC (count down from 0xFFFFFFFF over a TSC interval),
// then arm one-shot interrupts at TSC deadlines and EOI them. AMD has no
// TSC-deadline mode, hence the calibration. Freestanding.
#pragma once
#include <cstdint>

#include "platform/hal/status.hpp"
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

class LapicTimer {
 public:
  // mmio: the APIC page (0xFEE00000, mapped uncacheable); tsc: RDTSC.
  LapicTimer(Mmio& mmio, Tsc& tsc) : mmio_(mmio), tsc_(tsc) {}

  // SVR: APIC software enable with the given spurious vector (low nibble should be 1111b on older parts).
  Status enable(uint8_t spurious_vector = 0xFF);
  // Divide by 1, masked one-shot count from 0xFFFFFFFF for `tsc_interval` TSC ticks;
  // the rate is kept as TSC ticks per count in 16.16 fixed point.
  Status calibrate(uint64_t tsc_interval);
  // One-shot interrupt `vector` (16..255) at the first count boundary at or after
  // deadline_tsc (a deadline already past fires after one count).
  Status arm(uint64_t deadline_tsc, uint8_t vector);
  void disarm();  // initial count 0 stops the timer
  void eoi();     // retire the interrupt being serviced
  uint64_t tsc_per_count_q16() const { return tsc_per_count_q16_; }

 private:
  Mmio& mmio_;
  Tsc& tsc_;
  uint64_t tsc_per_count_q16_ = 0;
};

}  // namespace redoubt::x86
