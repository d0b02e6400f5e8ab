// Power-off through the debug-exit port (abi::kDebugExitPort, QEMU
// isa-debug-exit and the simulator's DebugExit): the machine stops with status
// (value << 1) | 1. On hardware without such a device the write does nothing,
// so the caller must still halt. Freestanding, header-only.
#pragma once
#include <cstdint>

#include "abi/launch_outcome.hpp"
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

inline void debug_exit(PortBus& io, abi::ExitStatus status) {
  io.out8(abi::kDebugExitPort, static_cast<uint8_t>(status));
}

}  // namespace redoubt::x86
