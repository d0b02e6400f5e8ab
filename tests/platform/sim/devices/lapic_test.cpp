// The simulated local APIC: registers, timer counting against the TSC, interrupt
// priority, EOI.
#define BOOST_TEST_MODULE sim_lapic
#include <boost/test/unit_test.hpp>

#include "platform/sim/devices/lapic.hpp"

using namespace redoubt;
namespace l = redoubt::arch::lapic;

namespace {
struct Fixture {
  uint64_t tsc = 1000;
  sim::LocalApic apic{[this] { return tsc; }, 8, 3};
  uint32_t rd(uint32_t off) { return static_cast<uint32_t>(apic.mmio_read(off, 4)); }
  void wr(uint32_t off, uint32_t v) { apic.mmio_write(off, 4, v); }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(reset_values, Fixture) {
  BOOST_TEST(rd(l::kId) == 0x03000000u);
  BOOST_TEST(rd(l::kVersion) == 0x00050010u);
  BOOST_TEST(rd(l::kSvr) == 0xFFu);  // software-disabled
  for (uint32_t off = l::kLvtTimer; off <= l::kLvtError; off += 0x10) BOOST_TEST(rd(off) == l::lvt::kMask);
  BOOST_TEST(rd(l::kTimerCurrentCount) == 0u);
  BOOST_TEST(apic.mmio_read(l::kSvr + 4, 4) == 0u);  // unaligned: not a register
  // Disabled: LVT masks cannot be cleared.
  wr(l::kLvtTimer, 0x40);
  BOOST_TEST(rd(l::kLvtTimer) == (l::lvt::kMask | 0x40));
}

BOOST_FIXTURE_TEST_CASE(one_shot_counts_down_at_the_tsc_derived_rate, Fixture) {
  wr(l::kSvr, l::svr::kApicSoftwareEnable | 0xFF);
  wr(l::kTimerDivide, 0x1);  // divide by 4: one count per 32 TSC ticks
  wr(l::kLvtTimer, 0x40);
  wr(l::kTimerInitialCount, 100);
  BOOST_TEST(apic.tsc_per_count() == 32u);
  BOOST_TEST(*apic.next_deadline() == 1000u + 3200u);
  tsc += 32 * 10 + 5;
  BOOST_TEST(rd(l::kTimerCurrentCount) == 90u);
  tsc = 1000 + 3199;
  BOOST_TEST(!apic.pending_vector().has_value());
  tsc = 1000 + 3200;
  BOOST_TEST(apic.pending_vector().value_or(0) == 0x40);
  BOOST_TEST(rd(l::kTimerCurrentCount) == 0u);
  BOOST_TEST(!apic.next_deadline().has_value());  // one-shot: disarmed
  BOOST_TEST(rd(l::kIrr + 0x20) == (1u << 0));     // vector 0x40 = bank 2, bit 0
  BOOST_TEST(apic.acknowledge(0x40));
  BOOST_TEST(apic.in_service(0x40));
  BOOST_TEST(rd(l::kPpr) == 0x40u);
  wr(l::kEoi, 0);
  BOOST_TEST(!apic.in_service(0x40));
  tsc += 100000;
  BOOST_TEST(!apic.pending_vector().has_value());
  BOOST_TEST(apic.timer_fires() == 1u);
}

BOOST_FIXTURE_TEST_CASE(periodic_reloads_and_coalesces, Fixture) {
  wr(l::kSvr, l::svr::kApicSoftwareEnable | 0xFF);
  wr(l::kTimerDivide, l::kDivideBy1);
  wr(l::kLvtTimer, l::lvt::kTimerPeriodic | 0x50);
  wr(l::kTimerInitialCount, 10);  // 80 TSC ticks per period
  tsc += 80;
  BOOST_TEST(apic.pending_vector().value_or(0) == 0x50);
  BOOST_TEST(*apic.next_deadline() == 1000u + 160u);
  tsc += 8 * 3;
  BOOST_TEST(rd(l::kTimerCurrentCount) == 7u);
  tsc += 80 * 5;  // five periods unobserved: one more fire, the IRR bit is already set
  apic.update();
  BOOST_TEST(apic.timer_fires() == 2u);
  BOOST_TEST(*apic.next_deadline() > tsc);
}

BOOST_FIXTURE_TEST_CASE(tpr_masked_and_illegal_vectors, Fixture) {
  wr(l::kSvr, l::svr::kApicSoftwareEnable | 0xFF);
  wr(l::kTimerDivide, l::kDivideBy1);
  wr(l::kTpr, 0x50);
  wr(l::kLvtTimer, 0x40);
  wr(l::kTimerInitialCount, 1);
  tsc += 8;
  BOOST_TEST(!apic.pending_vector().has_value());  // class 4 <= TPR class 5
  wr(l::kTpr, 0x30);
  BOOST_TEST(apic.pending_vector().value_or(0) == 0x40);
  // Masked: the expiry is lost.
  wr(l::kLvtTimer, l::lvt::kMask | 0x60);
  wr(l::kTimerInitialCount, 1);
  BOOST_TEST(!apic.next_deadline().has_value());
  tsc += 8;
  BOOST_TEST(apic.pending_vector().value_or(0) == 0x40);
  // Vector 5 is illegal: ESR, no request.
  wr(l::kLvtTimer, 0x05);
  wr(l::kTimerInitialCount, 1);
  tsc += 8;
  apic.update();
  BOOST_TEST(rd(l::kEsr) == l::kEsrReceiveIllegalVector);
}
