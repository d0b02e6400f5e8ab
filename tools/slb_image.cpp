#include "tools/slb_image.hpp"

#include <cstring>
#include <string>

#include "sl/slb_layout.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

SlbInfo inspect_slb(const std::vector<uint8_t>& img) {
  if (img.size() < sizeof(sl::SlbHeader)) throw InputError("SL image is too small for an SLB header");
  sl::SlbHeader h;
  std::memcpy(&h, img.data(), sizeof h);
  if (std::memcmp(h.magic, sl::kSlbMagic, 8) != 0) throw InputError("not a Redoubt SL image (magic)");
  SlbInfo info{h.entry_offset, h.length, h.key_slot_offset, std::nullopt};
  // Whether the slot is inside the measured length is the loader's and the SL's check.
  if (h.key_slot_offset < sizeof h || h.key_slot_offset + sizeof(sl::SlbKeySlot) > img.size())
    throw InputError("SL image: key slot offset is outside the image");
  sl::SlbKeySlot slot;
  std::memcpy(&slot, img.data() + h.key_slot_offset, sizeof slot);
  if (std::memcmp(slot.magic, sl::kKeySlotMagic, 8) != 0) throw InputError("SL image: key slot magic missing");
  if (slot.sec1_len != 0) {
    if (slot.sec1_len > sizeof slot.sec1) throw InputError("SL image: key slot length is corrupt");
    policy::PublicKey k;
    k.alg = policy::CoseAlg(slot.cose_alg);
    k.sec1_len = slot.sec1_len;
    std::memcpy(k.sec1, slot.sec1, slot.sec1_len);
    info.key = k;
  }
  return info;
}

void seal_slb(std::vector<uint8_t>& img, const policy::PublicKey& key) {
  SlbInfo info = inspect_slb(img);
  sl::SlbKeySlot slot{};
  std::memcpy(slot.magic, sl::kKeySlotMagic, 8);
  slot.cose_alg = static_cast<int32_t>(key.alg);
  slot.sec1_len = static_cast<uint16_t>(key.sec1_len);
  std::memcpy(slot.sec1, key.sec1, key.sec1_len);
  std::memcpy(img.data() + info.key_slot_offset, &slot, sizeof slot);
}

}  // namespace redoubt::tools
