// 64-bit C++ entry of the bare-metal hypervisor image.
#include "hypervisor/core/entry.hpp"
#include "platform/x86/bare_platform.hpp"

extern "C" [[noreturn]] void hv_bare_main(redoubt::hal::HypervisorHandoff* handoff) {
  redoubt::x86::BarePlatform platform;
  redoubt::Status s = redoubt::hv::hypervisor_main(platform, *handoff);
  platform.halt(s.message());
}
