// A 16550 UART at COM1 (PC16550D data sheet): every byte written to THR goes
// to a callback at once, so LSR always reads THRE|TEMT; input bytes queued with
// receive() come out of RBR with LSR.DR. DLAB, divisor latch, LCR, MCR
// (loopback included), MSR and SCR hold what software writes. No interrupts
// (IIR always reads "none pending"), no line errors, no baud-rate timing.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>

#include "arch/x86/uart16550.hpp"

namespace redoubt::sim {

class Uart16550 {
 public:
  explicit Uart16550(std::function<void(uint8_t)> on_tx, uint16_t base = arch::uart::kCom1)
      : on_tx_(std::move(on_tx)), base_(base) {}

  bool claims(uint16_t port) const { return port >= base_ && port < base_ + arch::uart::kPorts; }
  // Port I/O (size 1; wider accesses touch consecutive registers byte by byte, as on an 8-bit ISA device).
  uint32_t in(uint16_t port, unsigned size);
  void out(uint16_t port, unsigned size, uint32_t value);

  void receive(uint8_t byte) { rx_.push_back(byte); }  // a byte arrives on the line
  uint16_t divisor() const { return divisor_; }
  uint32_t baud() const { return divisor_ ? arch::uart::kBaseBaud / divisor_ : 0; }
  uint8_t lcr() const { return lcr_; }
  uint8_t mcr() const { return mcr_; }
  uint64_t bytes_sent() const { return sent_; }

 private:
  uint8_t read_reg(uint16_t off);
  void write_reg(uint16_t off, uint8_t v);

  std::function<void(uint8_t)> on_tx_;
  uint16_t base_;
  uint16_t divisor_ = 12;  // 9600 baud until software programs it
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
  std::deque<uint8_t> rx_;
  uint64_t sent_ = 0;
};

}  // namespace redoubt::sim
