// A local APIC reduced to what a hypervisor's scheduler uses (AMD APM vol. 2
// ch. 16): ID, version, TPR/PPR, EOI, SVR software enable, IRR/ISR, ESR, the
// LVT entries, and the timer (initial/current count, divide configuration,
// one-shot and periodic). The timer's bus clock is derived from the CPU's TSC
// (the simulator's TSC counts retired instructions): one bus tick every
// `tsc_per_tick` TSC ticks, one count every divide * tsc_per_tick.
//
// The CPU side: next_deadline() says when the timer next raises an interrupt
// (to arm the CPU's timer), update() fires expiries up to the current TSC,
// pending_vector() is the interrupt the APIC presents to the core, acknowledge()
// is the core taking it (IRR -> ISR), and a write to EOI retires it.
// Not modelled: IPIs (ICR writes are stored only), LINT0/1, thermal/perf/error
// interrupts, logical destinations, level-triggered TMR, the x2APIC MSRs.
#pragma once
#include <bitset>
#include <cstdint>
#include <functional>
#include <optional>

#include "arch/x86/lapic.hpp"

namespace redoubt::sim {

class LocalApic {
 public:
  static constexpr uint64_t kBase = arch::lapic::kBase;
  static constexpr uint64_t kSize = arch::lapic::kSize;

  LocalApic(std::function<uint64_t()> tsc, uint32_t tsc_per_tick = 8, uint8_t apic_id = 0);

  // MMIO inside the 4 KiB page; 4-byte accesses at 16-byte aligned offsets (APM
  // §16.3.2). Other accesses read 0 and are dropped on write.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);

  void update();  // fire every timer expiry up to tsc()
  // TSC at which the timer next sets an IRR bit; nullopt if stopped, masked or the APIC is disabled.
  std::optional<uint64_t> next_deadline() const;
  // The highest requested vector whose priority class beats the PPR (APM §16.6), if any.
  std::optional<uint8_t> pending_vector();
  bool acknowledge(uint8_t vector);  // the core accepts it: IRR -> ISR
  bool in_service(uint8_t vector) const { return isr_[vector]; }
  uint64_t timer_fires() const { return fires_; }
  uint32_t tsc_per_count() const;

 private:
  uint32_t read_reg(uint32_t off);
  void write_reg(uint32_t off, uint32_t v);
  uint32_t current_count(uint64_t now) const;
  uint32_t ppr() const;
  void raise(uint32_t lvt_entry);
  bool enabled() const { return svr_ & arch::lapic::svr::kApicSoftwareEnable; }

  std::function<uint64_t()> tsc_;
  uint32_t tsc_per_tick_;
  uint8_t id_;
  uint32_t tpr_ = 0, svr_ = 0xFF, esr_ = 0, ldr_ = 0, dfr_ = 0xFFFFFFFF, icr_lo_ = 0, icr_hi_ = 0;
  uint32_t lvt_[6] = {};  // timer, thermal, perf, LINT0, LINT1, error
  uint32_t initial_ = 0, divide_ = 0;
  uint32_t count0_ = 0;    // the count at start_ (initial_ on a load; the current count on a divide change)
  uint64_t start_ = 0;     // TSC when counting (re)started
  uint64_t deadline_ = 0;  // TSC of the next expiry while running_
  bool running_ = false;
  std::bitset<256> irr_, isr_;
  uint64_t fires_ = 0;
};

}  // namespace redoubt::sim
