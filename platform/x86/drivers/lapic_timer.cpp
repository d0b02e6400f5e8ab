#include "platform/x86/drivers/lapic_timer.hpp"

#include "arch/x86/lapic.hpp"

namespace redoubt::x86 {

namespace l = arch::lapic;

Status LapicTimer::enable(uint8_t spurious_vector) {
  if ((mmio_.read32(l::kVersion) & 0xF0) != 0x10)
    return Status::fail(Err::unsupported, "local APIC version 0x%x is not an integrated APIC", mmio_.read32(l::kVersion));
  mmio_.write32(l::kSvr, l::svr::kApicSoftwareEnable | spurious_vector);  // APM §16.3.1 (Local APIC Enable)
  if (!(mmio_.read32(l::kSvr) & l::svr::kApicSoftwareEnable))
    return Status::fail(Err::internal, "local APIC did not accept the software enable (SVR 0x%x)", mmio_.read32(l::kSvr));
  return Status::ok();
}

Status LapicTimer::calibrate(uint64_t tsc_interval) {
  if (tsc_interval == 0) return Status::fail(Err::internal, "LAPIC calibration needs a non-empty TSC interval");
  if (tsc_interval >= (1ull << 47)) return Status::fail(Err::internal, "LAPIC calibration interval of %llu TSC ticks is too long", (unsigned long long)tsc_interval);
  mmio_.write32(l::kTimerDivide, l::kDivideBy1);
  mmio_.write32(l::kLvtTimer, l::lvt::kMask | 0xFF);  // masked, one-shot: nothing is delivered
  const uint64_t t0 = tsc_.now();
  mmio_.write32(l::kTimerInitialCount, 0xFFFFFFFFu);
  uint64_t t1 = t0;
  while (t1 - t0 < tsc_interval) t1 = tsc_.now();  // the TSC is monotonic (APM vol. 3 RDTSC), so this ends
  const uint32_t current = mmio_.read32(l::kTimerCurrentCount);
  mmio_.write32(l::kTimerInitialCount, 0);
  const uint64_t counted = 0xFFFFFFFFull - current;
  if (counted == 0) return Status::fail(Err::internal, "LAPIC timer did not count during %llu TSC ticks", (unsigned long long)(t1 - t0));
  if (current == 0) return Status::fail(Err::internal, "LAPIC timer ran out during calibration: use a shorter interval");
  // At most counted + 1 counts fit in the interval, so this rate is never above the true
  // one: deadlines computed from it are never early, and late by at most 1/counted of
  // the distance (a longer calibration is more precise).
  tsc_per_count_q16_ = ((t1 - t0) << 16) / (counted + 1);
  if (tsc_per_count_q16_ == 0) return Status::fail(Err::internal, "LAPIC timer counts faster than the TSC can resolve");
  return Status::ok();
}

Status LapicTimer::arm(uint64_t deadline_tsc, uint8_t vector) {
  if (tsc_per_count_q16_ == 0) return Status::fail(Err::internal, "LAPIC timer armed before calibration");
  if (vector < 16) return Status::fail(Err::internal, "LAPIC vector %u is reserved (0-15 are illegal)", unsigned(vector));
  const uint64_t now = tsc_.now();
  const uint64_t delta = deadline_tsc > now ? deadline_tsc - now : 0;
  if (delta >= (1ull << 47)) return Status::fail(Err::internal, "LAPIC deadline %llu TSC ticks away is out of range", (unsigned long long)delta);
  uint64_t counts = ((delta << 16) + tsc_per_count_q16_ - 1) / tsc_per_count_q16_;  // round up: never early
  if (counts == 0) counts = 1;
  if (counts > 0xFFFFFFFFull)
    return Status::fail(Err::internal, "LAPIC deadline %llu TSC ticks away exceeds the 32-bit count", (unsigned long long)delta);
  mmio_.write32(l::kLvtTimer, vector);  // unmasked, one-shot
  mmio_.write32(l::kTimerInitialCount, static_cast<uint32_t>(counts));
  return Status::ok();
}

void LapicTimer::disarm() { mmio_.write32(l::kTimerInitialCount, 0); }

void LapicTimer::eoi() { mmio_.write32(l::kEoi, 0); }

}  // namespace redoubt::x86
