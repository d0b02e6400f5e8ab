// Polled 16550 UART driver (PC16550D data sheet) and the hal::Console on top:
// 115200 8N1, FIFOs on, interrupts off; each byte waits for LSR.THRE (bounded),
// and '\n' goes out as "\r\n". Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arch/x86/uart16550.hpp"
#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

class Uart16550 final : public hal::Console {
 public:
  // THRE polls before a byte is written anyway: at 115200 baud one byte takes ~87 µs
  // and a port read >= ~1 µs, so this is several byte times; a dead UART never hangs us.
  static constexpr uint32_t kThrePolls = 100000;

  explicit Uart16550(PortBus& io, uint16_t base = arch::uart::kCom1) : io_(io), base_(base) {}

  // Programs the divisor for `baud` (115200 / baud must be a whole number >= 1), 8N1,
  // FIFOs enabled and cleared, interrupts off, DTR|RTS|OUT2.
  Status init(uint32_t baud = 115200);
  void put(uint8_t byte);  // waits for THRE (bounded), then THR
  void write(const char* s, size_t n) override;  // '\n' -> "\r\n"
  uint64_t thre_timeouts() const { return timeouts_; }

 private:
  PortBus& io_;
  uint16_t base_;
  uint64_t timeouts_ = 0;
};

}  // namespace redoubt::x86
