// 64-bit C++ entry of the bare-metal secure loader (reached from sl_entry.S once
// the long-mode switch exists). Runs the same secure_loader_main as the simulator.
#include "platform/x86/bare_platform.hpp"
#include "sl/secure_loader.hpp"

extern "C" [[noreturn]] void sl_bare_main(uint32_t slb_base) {
  redoubt::x86::BarePlatform platform;
  redoubt::sl::Outcome o = redoubt::sl::secure_loader_main(platform, slb_base);
  platform.halt(o.reason.message());
}
