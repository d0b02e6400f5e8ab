// The UART driver and debug_exit (platform/x86/drivers) against the simulated devices.
#define BOOST_TEST_MODULE x86_uart_driver
#include <boost/test/unit_test.hpp>

#include <string>

#include "platform/sim/devices/debug_exit.hpp"
#include "platform/sim/devices/uart16550.hpp"
#include "platform/x86/drivers/debug_exit.hpp"
#include "platform/x86/drivers/uart16550.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;

namespace {
struct Board {
  std::string line;
  sim::Uart16550 uart{[this](uint8_t b) { line.push_back(char(b)); }};
  sim::DebugExit exit;
  uint64_t lsr_reads = 0;
  devtest::FnPortBus io;
  Board() {
    io.in = [this](uint16_t p, unsigned s) -> uint32_t {
      if (p == 0x3FD) ++lsr_reads;
      if (uart.claims(p)) return uart.in(p, s);
      if (exit.claims(p)) return exit.in(p, s);
      return s == 4 ? ~0u : (1u << (8 * s)) - 1;
    };
    io.out = [this](uint16_t p, unsigned s, uint32_t v) {
      if (uart.claims(p)) uart.out(p, s, v);
      if (exit.claims(p)) exit.out(p, s, v);
    };
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(init_programs_115200_8n1) {
  Board b;
  x86::Uart16550 drv(b.io);
  BOOST_TEST_REQUIRE(drv.init(115200).is_ok());
  BOOST_TEST(b.uart.divisor() == 1);
  BOOST_TEST(b.uart.baud() == 115200u);
  BOOST_TEST(b.uart.lcr() == 0x03);  // 8N1, DLAB off
  BOOST_TEST(b.uart.mcr() == (arch::uart::mcr::kDtr | arch::uart::mcr::kRts | arch::uart::mcr::kOut2));
  BOOST_TEST(b.line.empty());
  BOOST_TEST(drv.init(9600).is_ok());
  BOOST_TEST(b.uart.divisor() == 12);
  const Status bad = drv.init(100000);
  BOOST_TEST(!bad.is_ok());
  BOOST_TEST(std::string(bad.message()).find("100000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(console_sends_cr_before_lf_after_thre) {
  Board b;
  x86::Uart16550 drv(b.io);
  BOOST_TEST_REQUIRE(drv.init().is_ok());
  hal::Console& con = drv;
  con.print("[sl] pcr%u ok\n", 17u);
  BOOST_TEST(b.line == "[sl] pcr17 ok\r\n");
  BOOST_TEST(b.lsr_reads == b.line.size());  // one THRE poll per byte (always empty here)
  BOOST_TEST(drv.thre_timeouts() == 0u);
}

BOOST_AUTO_TEST_CASE(debug_exit_stops_the_machine_with_the_status) {
  Board b;
  x86::debug_exit(b.io, redoubt::abi::ExitStatus::launch_refused);
  BOOST_TEST(b.exit.off());
  BOOST_TEST(*b.exit.status() == 3u);  // (1 << 1) | 1
}
