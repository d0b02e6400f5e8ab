#include "platform/sim/devices/uart16550.hpp"

namespace redoubt::sim {

namespace u = arch::uart;

uint32_t Uart16550::in(uint16_t port, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size && i < 4; ++i) {
    const uint16_t p = static_cast<uint16_t>(port + i);
    v |= uint32_t{claims(p) ? read_reg(static_cast<uint16_t>(p - base_)) : uint8_t{0xFF}} << (8 * i);
  }
  return v;
}

void Uart16550::out(uint16_t port, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size && i < 4; ++i) {
    const uint16_t p = static_cast<uint16_t>(port + i);
    if (claims(p)) write_reg(static_cast<uint16_t>(p - base_), static_cast<uint8_t>(value >> (8 * i)));
  }
}

uint8_t Uart16550::read_reg(uint16_t off) {
  const bool dlab = lcr_ & u::lcr::kDlab;
  switch (off) {
    case u::kRbrThr:
      if (dlab) return static_cast<uint8_t>(divisor_);
      if (rx_.empty()) return 0;
      {
        const uint8_t b = rx_.front();
        rx_.pop_front();
        return b;
      }
    case u::kIer: return dlab ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
    case u::kIirFcr: return u::iir::kNoInterrupt | ((fcr_ & u::fcr::kEnable) ? u::iir::kFifosEnabled : 0);
    case u::kLcr: return lcr_;
    case u::kMcr: return mcr_;
    case u::kLsr:
      // Transmission is instantaneous: the holding register and the shifter are always empty.
      return u::lsr::kThre | u::lsr::kTemt | (rx_.empty() ? 0 : u::lsr::kDataReady);
    case u::kMsr:
      // Loopback (PC16550D MCR bit 4): DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. Otherwise a
      // connected terminal: CTS, DSR and DCD asserted.
      if (mcr_ & u::mcr::kLoop)
        return ((mcr_ & u::mcr::kRts) ? u::msr::kCts : 0) | ((mcr_ & u::mcr::kDtr) ? u::msr::kDsr : 0) |
               ((mcr_ & u::mcr::kOut1) ? u::msr::kRi : 0) | ((mcr_ & u::mcr::kOut2) ? u::msr::kDcd : 0);
      return u::msr::kCts | u::msr::kDsr | u::msr::kDcd;
    case u::kScr: return scr_;
  }
  return 0xFF;
}

void Uart16550::write_reg(uint16_t off, uint8_t v) {
  const bool dlab = lcr_ & u::lcr::kDlab;
  switch (off) {
    case u::kRbrThr:
      if (dlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | v);
      } else if (mcr_ & u::mcr::kLoop) {
        rx_.push_back(v);  // loopback: the transmitter feeds the receiver, nothing leaves
      } else {
        ++sent_;
        if (on_tx_) on_tx_(v);
      }
      return;
    case u::kIer:
      if (dlab) divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (v << 8));
      else ier_ = v & 0x0F;  // bits 7:4 are always 0
      return;
    case u::kIirFcr:
      fcr_ = v;
      if (v & u::fcr::kClearRx) rx_.clear();
      return;
    case u::kLcr: lcr_ = v; return;
    case u::kMcr: mcr_ = v & 0x1F; return;
    case u::kScr: scr_ = v; return;
    default: return;  // LSR and MSR are read-only here (factory test writes not modelled)
  }
}

}  // namespace redoubt::sim
