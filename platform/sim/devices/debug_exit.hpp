// The power-off port the measured images end with: QEMU's isa-debug-exit
// semantics at abi::kDebugExitPort (0xF4). A write of `value` stops the machine
// with status (value << 1) | 1; the device records it and tells the machine
// through a callback. Reads return all-ones (the port has no read side).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>

#include "abi/launch_outcome.hpp"

namespace redoubt::sim {

class DebugExit {
 public:
  explicit DebugExit(std::function<void(uint32_t status)> on_off = {}, uint16_t port = abi::kDebugExitPort)
      : on_off_(std::move(on_off)), port_(port) {}
  bool claims(uint16_t port) const { return port == port_; }
  uint32_t in(uint16_t, unsigned size) { return size >= 4 ? ~0u : (1u << (8 * size)) - 1; }
  void out(uint16_t port, unsigned size, uint32_t value) {
    if (!claims(port)) return;
    if (size < 4) value &= (1u << (8 * size)) - 1;
    status_ = (value << 1) | 1;  // QEMU hw/misc/debugexit.c: exit((val << 1) | 1)
    if (on_off_) on_off_(*status_);
  }
  // The exit status once software wrote the port; nullopt while the machine runs.
  std::optional<uint32_t> status() const { return status_; }
  bool off() const { return status_.has_value(); }
  // The ExitStatus the images wrote (status >> 1), for the harness's verdict.
  std::optional<uint32_t> value() const { return status_ ? std::optional<uint32_t>(*status_ >> 1) : std::nullopt; }

 private:
  std::function<void(uint32_t)> on_off_;
  uint16_t port_;
  std::optional<uint32_t> status_;
};

}  // namespace redoubt::sim
