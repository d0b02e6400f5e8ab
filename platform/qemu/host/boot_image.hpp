// The QEMU boot stub's input (abi/harness_channel.hpp BootImageHeader): the RAM
// the simulator's untrusted pre-launch loader laid out (platform/sim/loader.cpp),
// so that QEMU starts from the very bytes, at the very addresses, the simulated
// machine starts from.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "platform/sim/machine.hpp"

namespace redoubt::qemu {

// Every 4 KiB page of m's RAM in [from, to) that is not all zero, coalesced into
// regions. QEMU's RAM starts zeroed, so the pages left out are already right.
std::vector<uint8_t> make_boot_image(sim::Machine& m, uint64_t slb_base, uint64_t from, uint64_t to);

struct BootImageRegion {
  uint64_t pa = 0;
  std::vector<uint8_t> bytes;
};
// Parses an image (tests and diagnostics). Throws std::invalid_argument naming the problem.
std::vector<BootImageRegion> parse_boot_image(const std::vector<uint8_t>& image, uint64_t* slb_base = nullptr);

}  // namespace redoubt::qemu
