#include "platform/x86/drivers/uart16550.hpp"

namespace redoubt::x86 {

namespace u = arch::uart;

Status Uart16550::init(uint32_t baud) {
  if (baud == 0 || baud > u::kBaseBaud || u::kBaseBaud % baud != 0)
    return Status::fail(Err::unsupported, "UART: %u baud is not 115200 / n", baud);
  const uint32_t divisor = u::kBaseBaud / baud;  // PC16550D: baud = clock / (16 * divisor)
  if (divisor > 0xFFFF) return Status::fail(Err::unsupported, "UART: %u baud needs divisor %u > 65535", baud, divisor);
  io_.out8(base_ + u::kIer, 0);  // no interrupts: we poll
  io_.out8(base_ + u::kLcr, u::lcr::kDlab);
  io_.out8(base_ + u::kRbrThr, static_cast<uint8_t>(divisor));       // DLL
  io_.out8(base_ + u::kIer, static_cast<uint8_t>(divisor >> 8));     // DLM
  io_.out8(base_ + u::kLcr, u::lcr::k8N1);                           // DLAB off, 8N1
  io_.out8(base_ + u::kIirFcr, u::fcr::kEnable | u::fcr::kClearRx | u::fcr::kClearTx | u::fcr::kTrigger14);
  io_.out8(base_ + u::kMcr, u::mcr::kDtr | u::mcr::kRts | u::mcr::kOut2);
  return Status::ok();
}

void Uart16550::put(uint8_t byte) {
  uint32_t i = 0;
  while (!(io_.in8(base_ + u::kLsr) & u::lsr::kThre) && ++i < kThrePolls) {
  }
  if (i == kThrePolls) ++timeouts_;
  io_.out8(base_ + u::kRbrThr, byte);
}

void Uart16550::write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') put('\r');  // a serial terminal needs CR before LF
    put(static_cast<uint8_t>(s[i]));
  }
}

}  // namespace redoubt::x86
