// The host's side of the harness channel's evidence dump (abi/harness_channel.hpp):
// the regions of memory the images sent on COM2 at power-off. The same parser
// reads what the simulator's COM2 collected and what QEMU's did.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace redoubt::qemu {

struct DumpRegion {
  uint64_t pa = 0;
  std::vector<uint8_t> bytes;
};

struct EvidenceDump {
  uint32_t exit_status = 0;  // abi::ExitStatus the images powered off with
  std::vector<DumpRegion> regions;
};

// Finds the last "RDBTDUMP" frame in `channel` and parses it. nullopt with *why set
// when there is none or it is malformed or cut short (the message names the cause).
std::optional<EvidenceDump> parse_evidence_dump(std::span<const uint8_t> channel, std::string* why);

}  // namespace redoubt::qemu
