// The simulated 16550 UART and debug-exit port, register by register.
#define BOOST_TEST_MODULE sim_uart16550
#include <boost/test/unit_test.hpp>

#include <string>

#include "platform/sim/devices/debug_exit.hpp"
#include "platform/sim/devices/uart16550.hpp"

using namespace redoubt;
namespace u = redoubt::arch::uart;

BOOST_AUTO_TEST_CASE(thr_goes_to_the_callback_and_lsr_is_always_empty) {
  std::string out;
  sim::Uart16550 uart([&](uint8_t b) { out.push_back(char(b)); });
  BOOST_TEST(uart.claims(0x3F8));
  BOOST_TEST(uart.claims(0x3FF));
  BOOST_TEST(!uart.claims(0x400));
  BOOST_TEST(uart.in(0x3FD, 1) == uint32_t(u::lsr::kThre | u::lsr::kTemt));
  uart.out(0x3F8, 1, 'o');
  uart.out(0x3F8, 1, 'k');
  BOOST_TEST(out == "ok");
  BOOST_TEST(uart.in(0x3FD, 1) == uint32_t(u::lsr::kThre | u::lsr::kTemt));
  BOOST_TEST(uart.bytes_sent() == 2u);
}

BOOST_AUTO_TEST_CASE(dlab_selects_the_divisor_latch) {
  std::string out;
  sim::Uart16550 uart([&](uint8_t b) { out.push_back(char(b)); });
  uart.out(0x3FB, 1, u::lcr::kDlab);
  uart.out(0x3F8, 1, 0x03);  // DLL
  uart.out(0x3F9, 1, 0x00);  // DLM
  BOOST_TEST(uart.in(0x3F8, 1) == 0x03u);
  BOOST_TEST(out.empty());  // a divisor write is not data
  uart.out(0x3FB, 1, u::lcr::k8N1);
  BOOST_TEST(uart.divisor() == 3);
  BOOST_TEST(uart.baud() == 38400u);
  BOOST_TEST(uart.in(0x3FB, 1) == 0x03u);
  uart.out(0x3F9, 1, 0xFF);
  BOOST_TEST(uart.in(0x3F9, 1) == 0x0Fu);  // IER bits 7:4 are 0
}

BOOST_AUTO_TEST_CASE(iir_fcr_scr_msr_and_loopback) {
  std::string out;
  sim::Uart16550 uart([&](uint8_t b) { out.push_back(char(b)); });
  BOOST_TEST(uart.in(0x3FA, 1) == 0x01u);  // no interrupt, FIFOs off
  uart.out(0x3FA, 1, u::fcr::kEnable);
  BOOST_TEST(uart.in(0x3FA, 1) == 0xC1u);
  uart.out(0x3FF, 1, 0x5A);
  BOOST_TEST(uart.in(0x3FF, 1) == 0x5Au);
  uart.out(0x3FC, 1, u::mcr::kLoop | u::mcr::kRts | u::mcr::kOut2);
  BOOST_TEST(uart.in(0x3FE, 1) == uint32_t(u::msr::kCts | u::msr::kDcd));
  uart.out(0x3F8, 1, 'L');
  BOOST_TEST(out.empty());
  BOOST_TEST((uart.in(0x3FD, 1) & u::lsr::kDataReady) != 0u);
  BOOST_TEST(uart.in(0x3F8, 1) == uint32_t('L'));
  BOOST_TEST((uart.in(0x3FD, 1) & u::lsr::kDataReady) == 0u);
  uart.receive('x');
  uart.out(0x3FA, 1, u::fcr::kEnable | u::fcr::kClearRx);
  BOOST_TEST((uart.in(0x3FD, 1) & u::lsr::kDataReady) == 0u);
}

BOOST_AUTO_TEST_CASE(debug_exit_status_is_value_shifted_or_one) {
  uint32_t seen = 0;
  sim::DebugExit dx([&](uint32_t s) { seen = s; });
  BOOST_TEST(dx.claims(0xF4));
  BOOST_TEST(!dx.off());
  dx.out(0xF4, 1, 0x102);  // a byte access keeps the low byte
  BOOST_TEST(dx.off());
  BOOST_TEST(*dx.status() == 5u);
  BOOST_TEST(*dx.value() == 2u);
  BOOST_TEST(seen == 5u);
  BOOST_TEST(dx.in(0xF4, 1) == 0xFFu);
}
