// Host time of many short intervals (each world switch) by the TSC. Two vDSO clock reads per
// VMRUN were ~7 % of a VMMCALL-heavy `redoubt run` on the 2026-12-04 build VM (a PVM guest,
// where clock_gettime is slow: perf, docs/skinit.md "Speed, fifth pass"). The TSC is read
// only when it is invariant (CPUID 8000_0007h EDX bit 8, AMD APM vol. 3 / Intel SDM vol. 3
// §18.17.1: it ticks at a constant rate in every P- and C-state); ticks become seconds with the
// ratio of steady_clock to TSC measured over this object's own lifetime. Without an invariant
// TSC, ticks are steady_clock nanoseconds.
#pragma once
#include <cpuid.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdint>

namespace redoubt::sim {

class HostTicks {
 public:
  HostTicks() : invariant_(invariant_tsc()), t0_(Clock::now()), tsc0_(invariant_ ? __rdtsc() : 0) {}

  uint64_t now() const {
    return invariant_ ? __rdtsc()
                      : uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0_).count());
  }
  // Seconds in `ticks` (a sum of now() differences taken during this object's lifetime).
  double seconds(uint64_t ticks) const {
    if (!invariant_) return double(ticks) * 1e-9;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
    const uint64_t dt = __rdtsc() - tsc0_;
    return dt ? double(ticks) * elapsed / double(dt) : 0.0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static bool invariant_tsc() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return d & (1u << 8);
  }
  bool invariant_;
  Clock::time_point t0_;
  uint64_t tsc0_;
};

}  // namespace redoubt::sim
