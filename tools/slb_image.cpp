#include "tools/slb_image.hpp"

#include <cstring>
#include <string>

#include "abi/slb_layout.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

std::optional<policy::PublicKey> read_slot(const std::vector<uint8_t>& img, uint16_t off, const char* magic,
                                           const char* what) {
  if (off < sizeof(sl::SlbHeader) || off + sizeof(sl::SlbKeySlot) > img.size())
    throw InputError(std::string("SL image: ") + what + " offset is outside the image");
  sl::SlbKeySlot slot;
  std::memcpy(&slot, img.data() + off, sizeof slot);
  if (std::memcmp(slot.magic, magic, 8) != 0) throw InputError(std::string("SL image: ") + what + " magic missing");
  if (slot.sec1_len == 0) return std::nullopt;
  if (slot.sec1_len > sizeof slot.sec1) throw InputError(std::string("SL image: ") + what + " length is corrupt");
  policy::PublicKey k;
  k.alg = policy::CoseAlg(slot.cose_alg);
  k.sec1_len = slot.sec1_len;
  std::memcpy(k.sec1, slot.sec1, slot.sec1_len);
  return k;
}

void write_slot(std::vector<uint8_t>& img, uint16_t off, const char* magic, const policy::PublicKey& key) {
  sl::SlbKeySlot slot{};
  std::memcpy(slot.magic, magic, 8);
  slot.cose_alg = static_cast<int32_t>(key.alg);
  slot.sec1_len = static_cast<uint16_t>(key.sec1_len);
  std::memcpy(slot.sec1, key.sec1, key.sec1_len);
  std::memcpy(img.data() + off, &slot, sizeof slot);
}

}  // namespace

SlbInfo inspect_slb(const std::vector<uint8_t>& img) {
  if (img.size() < sizeof(sl::SlbHeader)) throw InputError("SL image is too small for an SLB header");
  sl::SlbHeader h;
  std::memcpy(&h, img.data(), sizeof h);
  if (std::memcmp(h.magic, sl::kSlbMagic, 8) != 0) throw InputError("not a Redoubt SL image (magic)");
  SlbInfo info;
  info.entry = h.entry_offset;
  info.length = h.length;
  info.key_slot_offset = h.key_slot_offset;
  info.owner_slot_offset = h.owner_slot_offset;
  // Whether the slots are inside the measured length is the loader's and the SL's check.
  info.key = read_slot(img, h.key_slot_offset, sl::kKeySlotMagic, "key slot");
  if (h.owner_slot_offset) info.owner = read_slot(img, h.owner_slot_offset, sl::kOwnerSlotMagic, "owner key slot");
  return info;
}

void seal_slb(std::vector<uint8_t>& img, const policy::PublicKey& key) {
  SlbInfo info = inspect_slb(img);
  write_slot(img, info.key_slot_offset, sl::kKeySlotMagic, key);
}

void seal_slb_owner(std::vector<uint8_t>& img, const policy::PublicKey& key) {
  SlbInfo info = inspect_slb(img);
  if (!info.owner_slot_offset) throw InputError("SL image has no owner key slot (built before launch policies)");
  write_slot(img, info.owner_slot_offset, sl::kOwnerSlotMagic, key);
}

}  // namespace redoubt::tools
