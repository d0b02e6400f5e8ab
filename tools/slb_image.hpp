// Host-side view of an SL image (sl.bin): header fields and the sealed keys.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "policy/fs/cose.hpp"

namespace redoubt::tools {

struct SlbInfo {
  uint16_t entry = 0;
  uint16_t length = 0;
  uint16_t key_slot_offset = 0;
  uint16_t owner_slot_offset = 0;        // 0: this SL has no owner slot (no launch policies)
  std::optional<policy::PublicKey> key;  // nullopt: slot empty (not sealed)
  std::optional<policy::PublicKey> owner;  // the platform owner's policy-signing key
};

// Throws InputError naming what is wrong when the image is not a Redoubt SL.
SlbInfo inspect_slb(const std::vector<uint8_t>& image);
// Writes `key` into the key slot (inside the measured region, so PCR17 covers it).
void seal_slb(std::vector<uint8_t>& image, const policy::PublicKey& key);
// Writes the platform owner's key into the owner slot (also measured).
void seal_slb_owner(std::vector<uint8_t>& image, const policy::PublicKey& key);

}  // namespace redoubt::tools
