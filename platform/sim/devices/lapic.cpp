#include "platform/sim/devices/lapic.hpp"

namespace redoubt::sim {

namespace l = arch::lapic;

LocalApic::LocalApic(std::function<uint64_t()> tsc, uint32_t tsc_per_tick, uint8_t apic_id)
    : tsc_(std::move(tsc)), tsc_per_tick_(tsc_per_tick ? tsc_per_tick : 1), id_(apic_id) {
  for (uint32_t& e : lvt_) e = l::lvt::kReset;  // APM §16.3: every LVT entry is masked after reset
}

uint32_t LocalApic::tsc_per_count() const { return tsc_per_tick_ * l::divide_value(divide_); }

uint32_t LocalApic::current_count(uint64_t now) const {
  if (!running_) return 0;
  const uint64_t elapsed = (now - start_) / tsc_per_count();
  if (elapsed < count0_) return static_cast<uint32_t>(count0_ - elapsed);
  if (!(lvt_[0] & l::lvt::kTimerPeriodic)) return 0;
  return static_cast<uint32_t>(initial_ - (elapsed - count0_) % initial_);  // periodic: reloaded from the initial count
}

void LocalApic::update() {
  const uint64_t now = tsc_();
  if (!running_ || now < deadline_) return;
  ++fires_;
  raise(lvt_[0]);
  if (lvt_[0] & l::lvt::kTimerPeriodic) {
    // Reload and count again; expiries missed while nobody looked coalesce into this one
    // (the IRR bit is already set, as on hardware).
    const uint64_t period = uint64_t{initial_} * tsc_per_count();
    deadline_ += ((now - deadline_) / period + 1) * period;
  } else {
    running_ = false;  // one-shot: the count stays 0 until reprogrammed
  }
}

std::optional<uint64_t> LocalApic::next_deadline() const {
  if (!running_ || !enabled() || (lvt_[0] & l::lvt::kMask)) return std::nullopt;
  return deadline_;
}

void LocalApic::raise(uint32_t entry) {
  if (!enabled() || (entry & l::lvt::kMask)) return;  // a masked expiry is lost (APM §16.4.1)
  const uint32_t vector = entry & l::lvt::kVectorMask;
  if (vector < 16) {
    esr_ |= l::kEsrReceiveIllegalVector;  // vectors 0-15 are illegal (APM vol. 2 ch. 16, APIC Error Status Register)
    return;
  }
  irr_.set(vector);
}

uint32_t LocalApic::ppr() const {
  // APM vol. 2 §16.6 (Processor Priority): the higher of TPR and the in-service class.
  uint32_t isrv = 0;
  for (int v = 255; v >= 16; --v)
    if (isr_[v]) {
      isrv = static_cast<uint32_t>(v);
      break;
    }
  return (tpr_ >> 4) >= (isrv >> 4) ? (tpr_ & 0xFF) : (isrv & 0xF0);
}

std::optional<uint8_t> LocalApic::pending_vector() {
  update();
  for (int v = 255; v >= 16; --v)
    if (irr_[v]) {
      if (static_cast<uint32_t>(v >> 4) > (ppr() >> 4)) return static_cast<uint8_t>(v);
      return std::nullopt;  // the highest request is held back by the priority
    }
  return std::nullopt;
}

bool LocalApic::acknowledge(uint8_t vector) {
  if (!irr_[vector]) return false;
  irr_.reset(vector);
  isr_.set(vector);
  return true;
}

uint64_t LocalApic::mmio_read(uint64_t offset, unsigned size) {
  if (size != 4 || offset >= kSize || (offset & 0xF)) return 0;
  return read_reg(static_cast<uint32_t>(offset));
}

void LocalApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4 || offset >= kSize || (offset & 0xF)) return;
  write_reg(static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
}

uint32_t LocalApic::read_reg(uint32_t off) {
  update();
  auto bank = [](const std::bitset<256>& b, uint32_t i) {
    uint32_t w = 0;
    for (uint32_t bit = 0; bit < 32; ++bit) w |= uint32_t{b[i * 32 + bit]} << bit;
    return w;
  };
  if (off >= l::kIsr && off < l::kIsr + 0x80) return bank(isr_, (off - l::kIsr) >> 4);
  if (off >= l::kTmr && off < l::kTmr + 0x80) return 0;  // edge-triggered only
  if (off >= l::kIrr && off < l::kIrr + 0x80) return bank(irr_, (off - l::kIrr) >> 4);
  if (off >= l::kLvtTimer && off <= l::kLvtError) return lvt_[(off - l::kLvtTimer) >> 4];
  switch (off) {
    case l::kId: return uint32_t{id_} << 24;
    case l::kVersion: return l::kVersionValue;
    case l::kTpr: return tpr_;
    case l::kPpr: return ppr();
    case l::kLdr: return ldr_;
    case l::kDfr: return dfr_;
    case l::kSvr: return svr_;
    case l::kEsr: return esr_;
    case l::kIcrLo: return icr_lo_;
    case l::kIcrHi: return icr_hi_;
    case l::kTimerInitialCount: return initial_;
    case l::kTimerCurrentCount: return current_count(tsc_());
    case l::kTimerDivide: return divide_;
    default: return 0;  // APR, EOI (write-only), reserved
  }
}

void LocalApic::write_reg(uint32_t off, uint32_t v) {
  update();
  if (off >= l::kLvtTimer && off <= l::kLvtError) {
    // APM §16.3.1: while the APIC is software-disabled every LVT mask bit stays set.
    uint32_t e = v & ~l::lvt::kDeliveryStatus;
    if (off == l::kLvtTimer) e &= l::lvt::kVectorMask | l::lvt::kMask | l::lvt::kTimerPeriodic;
    if (!enabled()) e |= l::lvt::kMask;
    lvt_[(off - l::kLvtTimer) >> 4] = e;
    return;
  }
  const uint64_t now = tsc_();
  switch (off) {
    case l::kId: id_ = static_cast<uint8_t>(v >> 24); return;
    case l::kTpr: tpr_ = v & 0xFF; return;
    case l::kEoi:
      // APM vol. 2 §16.6 (End of Interrupt): EOI retires the highest-priority in-service interrupt.
      for (int i = 255; i >= 0; --i)
        if (isr_[i]) {
          isr_.reset(i);
          break;
        }
      return;
    case l::kLdr: ldr_ = v & 0xFF000000u; return;
    case l::kDfr: dfr_ = v | 0x0FFFFFFFu; return;
    case l::kSvr:
      svr_ = v & (l::svr::kVectorMask | l::svr::kApicSoftwareEnable | l::svr::kFocusCheckDisable);
      if (!enabled())
        for (uint32_t& e : lvt_) e |= l::lvt::kMask;
      return;
    case l::kEsr: esr_ = 0; return;  // a write re-arms error logging; the model clears the log
    case l::kIcrLo: icr_lo_ = v; return;
    case l::kIcrHi: icr_hi_ = v; return;
    case l::kTimerInitialCount:
      // APM §16.4.1: writing the initial count (re)starts the count from it; 0 stops the timer.
      initial_ = count0_ = v;
      start_ = now;
      running_ = v != 0;
      deadline_ = now + uint64_t{v} * tsc_per_count();
      return;
    case l::kTimerDivide:
      if (running_) {  // continue from the current count at the new rate
        count0_ = current_count(now);
        start_ = now;
        divide_ = v & 0xB;
        running_ = count0_ != 0;
        deadline_ = now + uint64_t{count0_} * tsc_per_count();
      } else {
        divide_ = v & 0xB;
      }
      return;
    default: return;  // read-only or not modelled
  }
}

}  // namespace redoubt::sim
