// The LAPIC timer driver (platform/x86/drivers) against the simulated local APIC:
// calibration against the TSC, one-shot deadlines, EOI.
#define BOOST_TEST_MODULE x86_lapic_timer_driver
#include <boost/test/unit_test.hpp>

#include "platform/sim/devices/lapic.hpp"
#include "platform/x86/drivers/lapic_timer.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;

namespace {
// The driver's TSC: every read advances the clock a little, like the
// instructions of a polling loop on the simulated CPU.
struct SteppingTsc final : x86::Tsc {
  uint64_t& t;
  uint64_t step;
  SteppingTsc(uint64_t& tsc, uint64_t s) : t(tsc), step(s) {}
  uint64_t now() override { return t += step; }
};

struct Fixture {
  uint64_t tsc = 5000;
  uint32_t tsc_per_tick;
  sim::LocalApic apic;
  devtest::DeviceMmio<sim::LocalApic> mmio{apic};
  SteppingTsc clock{tsc, 7};
  x86::LapicTimer timer{mmio, clock};
  explicit Fixture(uint32_t ratio = 25) : tsc_per_tick(ratio), apic([this] { return tsc; }, ratio) {}
};
}  // namespace

BOOST_AUTO_TEST_CASE(calibration_recovers_the_tsc_ratio) {
  for (uint32_t ratio : {1u, 8u, 25u, 100u}) {
    Fixture f(ratio);
    BOOST_TEST_REQUIRE(f.timer.enable().is_ok());
    BOOST_TEST_REQUIRE(f.timer.calibrate(1'000'000).is_ok());
    const double got = double(f.timer.tsc_per_count_q16()) / 65536.0;
    BOOST_TEST(got <= double(ratio));  // never above the true rate
    BOOST_TEST(got == double(ratio), boost::test_tools::tolerance(0.001));
  }
}

BOOST_AUTO_TEST_CASE(one_shot_deadline_is_never_early_and_at_most_one_count_late) {
  Fixture f(25);
  BOOST_TEST_REQUIRE(f.timer.enable(0xEF).is_ok());
  BOOST_TEST((f.apic.mmio_read(arch::lapic::kSvr, 4) & 0x1FF) == 0x1EFu);
  BOOST_TEST_REQUIRE(f.timer.calibrate(500'000).is_ok());
  for (uint64_t ahead : {1ull, 24ull, 25ull, 1000ull, 123457ull, 10'000'000ull}) {
    BOOST_TEST_CONTEXT("deadline " << ahead << " ticks ahead") {
      const uint64_t deadline = f.tsc + ahead;
      BOOST_TEST_REQUIRE(f.timer.arm(deadline, 0x41).is_ok());
      const std::optional<uint64_t> fire = f.apic.next_deadline();
      BOOST_TEST_REQUIRE(fire.has_value());
      BOOST_TEST(*fire >= deadline);
      // One count, the TSC read inside arm(), and the calibration's 1/counted (20000 counts: 50 ppm).
      BOOST_TEST(*fire <= deadline + 25 + 7 + ahead / 20000 + 1);
      f.tsc = *fire - 1;
      BOOST_TEST(!f.apic.pending_vector().has_value());
      f.tsc = *fire;
      BOOST_TEST(f.apic.pending_vector().value_or(0) == 0x41);
      BOOST_TEST(f.apic.acknowledge(0x41));
      f.timer.eoi();
      BOOST_TEST(!f.apic.in_service(0x41));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  Fixture f;
  Status st = f.timer.arm(f.tsc + 100, 0x40);
  BOOST_TEST(std::string(st.message()).find("before calibration") != std::string::npos);
  BOOST_TEST_REQUIRE(f.timer.enable().is_ok());
  BOOST_TEST_REQUIRE(f.timer.calibrate(100'000).is_ok());
  st = f.timer.arm(f.tsc + 100, 3);
  BOOST_TEST(std::string(st.message()).find("vector 3") != std::string::npos);
  st = f.timer.arm(f.tsc + (1ull << 40), 0x40);  // 2^40 / 25 counts > 32 bits
  BOOST_TEST(std::string(st.message()).find("exceeds") != std::string::npos);
  f.timer.arm(f.tsc + 1000, 0x40);
  f.timer.disarm();
  BOOST_TEST(!f.apic.next_deadline().has_value());
}
