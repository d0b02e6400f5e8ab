#include "hypervisor/core/vuart.hpp"

#include <cstring>

#include "platform/hal/format.hpp"

namespace redoubt::hv {

void VirtualUart::init(hal::Console* console, const char* prefix, uint8_t* log, uint64_t log_cap) {
  console_ = console;
  format(prefix_, sizeof prefix_, "%s", prefix);
  log_ = log;
  log_cap_ = log_cap;
  log_len_ = dropped_ = 0;
  line_len_ = 0;
}

void VirtualUart::flush() {
  if (line_len_ == 0) return;
  line_[line_len_] = 0;
  if (console_) console_->print("[%s] %s\n", prefix_, line_);
  line_len_ = 0;
}

void VirtualUart::put(uint8_t c) {
  if (log_len_ >= log_cap_) {
    // Full: the rest is only counted, neither kept nor echoed, so a flood costs the host
    // nothing more than the count (the hypervisor ends a guest that keeps on: policy.hpp).
    if (dropped_++ == 0) {
      flush();
      if (console_) console_->print("[%s] (serial log of %llu bytes full: further output dropped)\n", prefix_,
                                    (unsigned long long)log_cap_);
    }
    return;
  }
  log_[log_len_++] = c;
  if (c == '\n') {
    if (line_len_ == 0 && console_) console_->print("[%s] \n", prefix_);
    flush();
    return;
  }
  if (c == '\r') return;
  // Non-printable bytes are shown escaped on the host console (the log keeps them raw).
  if (c < 0x20 || c >= 0x7F) c = '.';
  line_[line_len_++] = char(c);
  if (line_len_ == sizeof line_ - 1) flush();
}

void VirtualUart::write_bytes(const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (dropped_) {  // full (and said so): count the rest at once
      dropped_ += n - i;
      return;
    }
    put(p[i]);
  }
}

uint8_t VirtualUart::in(uint16_t port) {
  const bool dlab = lcr_ & 0x80;
  switch (port - kBase) {
    case 0: return dlab ? dll_ : 0;      // RBR: no input
    case 1: return dlab ? dlm_ : ier_;
    case 2: return (fcr_ & 1) ? 0xC1 : 0x01;  // IIR: no interrupt pending
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return kLsrThre | kLsrTemt;  // LSR: transmitter empty, no data ready
    case 6: return 0xB0;                 // MSR: DCD DSR CTS
    case 7: return scr_;
  }
  return 0xFF;
}

void VirtualUart::out(uint16_t port, uint8_t v) {
  const bool dlab = lcr_ & 0x80;
  switch (port - kBase) {
    case 0:
      if (dlab)
        dll_ = v;
      else
        put(v);
      break;
    case 1:
      if (dlab)
        dlm_ = v;
      else
        ier_ = v & 0x0F;
      break;
    case 2: fcr_ = v; break;
    case 3: lcr_ = v; break;
    case 4: mcr_ = v; break;
    case 7: scr_ = v; break;
    default: break;  // LSR/MSR writes are ignored
  }
}

}  // namespace redoubt::hv
