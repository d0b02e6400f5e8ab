// A per-guest virtual 16550 UART at 0x3F8 (National Semiconductor PC16550D
// register set), emulated on IOIO intercepts: THR writes are the guest's
// serial output, LSR always reports the transmitter empty, there is no input.
#pragma once
#include <cstdint>

#include "platform/hal/hal.hpp"

namespace redoubt::hv {

class VirtualUart {
 public:
  static constexpr uint16_t kBase = 0x3F8;
  static constexpr uint16_t kPorts = 8;
  static constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;

  void init(hal::Console* console, const char* prefix, uint8_t* log, uint64_t log_cap);
  static bool claims(uint16_t port) { return port >= kBase && port < kBase + kPorts; }
  uint8_t in(uint16_t port);
  void out(uint16_t port, uint8_t value);
  // Bytes written by the guest by other means (the console hypercall).
  void write_bytes(const uint8_t* p, uint64_t n);
  void flush();  // emit a partial line
  uint64_t log_len() const { return log_len_; }
  uint64_t dropped() const { return dropped_; }

 private:
  void put(uint8_t c);

  hal::Console* console_ = nullptr;
  char prefix_[24] = {};
  uint8_t* log_ = nullptr;
  uint64_t log_cap_ = 0, log_len_ = 0, dropped_ = 0;
  char line_[160];
  uint32_t line_len_ = 0;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0, fcr_ = 0;
};

}  // namespace redoubt::hv
