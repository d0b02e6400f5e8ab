// The Secure Loader Block: AMD APM vol. 2 §15.27.4 ("Secure Loader Block"):
// a 64 KiB-aligned, 64 KiB block whose first word is the SL entry offset and
// whose second word is the length measured by SKINIT. Redoubt adds its own
// header after those two words and a sealed hypervisor-signing key, both inside
// the measured region so that PCR17 covers them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::sl {

inline constexpr uint64_t kSlbSize = 64 * 1024;        // APM vol. 2 §15.27.4: always 64 KiB
inline constexpr uint64_t kSlbAlign = 64 * 1024;       // and 64 KiB aligned
// The pre-launch loader stores the physical address of the BootParams as a u64
// at the top of the SLB, where SKINIT points ESP (APM §15.27.5: ESP = SLB + 64K);
// the SL reads it before its first push. The measured region must stay below it.
inline constexpr uint64_t kBootParamsPtrOffset = kSlbSize - 8;
inline constexpr uint64_t kMaxMeasuredLength = kBootParamsPtrOffset;

inline constexpr char kSlbMagic[8] = {'R', 'D', 'B', 'T', 'S', 'L', 'B', '1'};
inline constexpr char kKeySlotMagic[8] = {'R', 'D', 'B', 'T', 'K', 'E', 'Y', '1'};
inline constexpr char kOwnerSlotMagic[8] = {'R', 'D', 'B', 'T', 'O', 'W', 'N', '1'};

struct SlbHeader {
  uint16_t entry_offset;    // APM: word 0, SL entry point relative to the SLB base
  uint16_t length;          // APM: word 1, bytes measured into PCR17 (SLB[0:length])
  char magic[8];            // "RDBTSLB1"
  uint16_t version;         // 1
  uint16_t key_slot_offset; // offset of SlbKeySlot from the SLB base
  uint16_t owner_slot_offset; // offset of the platform owner's SlbKeySlot (launch policies); 0 = none
  uint16_t stage2_pin_offset; // offset of the SlbStage2Pin (a two-stage SL, docs/skinit.md); 0 = single stage
};
static_assert(sizeof(SlbHeader) == 20);
static_assert(offsetof(SlbHeader, entry_offset) == 0);
static_assert(offsetof(SlbHeader, length) == 2);
static_assert(offsetof(SlbHeader, magic) == 4);
static_assert(offsetof(SlbHeader, key_slot_offset) == 14);
static_assert(offsetof(SlbHeader, owner_slot_offset) == 16);
static_assert(offsetof(SlbHeader, stage2_pin_offset) == 18);

// The hypervisor-signing public key, sealed into the SLB by `redoubt slb seal`
// (or by the launcher) before SKINIT. An empty slot (sec1_len == 0) refuses launch.
// The same layout, with magic "RDBTOWN1", holds the platform owner's key that
// signs launch policies (issue 4); an empty owner slot refuses any launch policy.
struct SlbKeySlot {
  char magic[8];        // "RDBTKEY1"
  int32_t cose_alg;     // -7 ES256 (P-256) or -35 ES384 (P-384)
  uint16_t sec1_len;    // 65 or 97; 0 = not sealed
  uint16_t reserved;
  uint8_t sec1[97];     // SEC1 uncompressed point 04||X||Y
  uint8_t pad[15];
};
static_assert(sizeof(SlbKeySlot) == 128);
static_assert(offsetof(SlbKeySlot, sec1) == 16);

// sl_entry.S copies SLB[0:length] here, after the page tables, before its first
// write into the image (the relocation pass): the bytes SKINIT measured, which the
// DRTM log's first event hashes. The stage-1 stack lies above it.
inline constexpr uint64_t slb_measured_copy_offset(uint64_t length) { return ((length + 0xFFF) & ~uint64_t{0xFFF}) + 8192; }

// The SL in two stages (docs/skinit.md "Two stages"): the 64 KiB SLB holds
// stage 1 (entry, long mode, DEV, SHA-256) and this pin of stage 2 — the
// secure loader proper — which the untrusted loader places in RAM
// (BootParams::sl_stage2). Stage 1 DEV-protects the region, hashes
// [0, image_size) and enters stage 2 only if the digest equals the pin. The pin
// is inside SKINIT's measurement, so PCR17 names stage 2 as surely as it names
// the SLB: no second measurement is needed (or made).
inline constexpr char kStage2PinMagic[8] = {'R', 'D', 'B', 'T', 'S', '2', 'P', '1'};
struct SlbStage2Pin {
  char magic[8];         // "RDBTS2P1"
  uint32_t image_size;   // bytes of stage 2 hashed (its whole flat image, stack included)
  uint32_t reserved;
  uint8_t sha256[32];    // SHA-256 of those bytes (written into sl.bin after stage 2 is linked)
};
static_assert(sizeof(SlbStage2Pin) == 48);
static_assert(offsetof(SlbStage2Pin, image_size) == 8);
static_assert(offsetof(SlbStage2Pin, sha256) == 16);

// Stage 2's image header, at its offset 0 (like hv::HvImageHeader).
inline constexpr char kStage2Magic[8] = {'R', 'D', 'B', 'T', 'S', 'L', '2', '1'};
struct Stage2Header {
  char magic[8];         // "RDBTSL21"
  uint32_t header_size;  // 24
  uint32_t entry_offset; // 64-bit entry, from the image base
  uint64_t image_size;   // bytes of the flat image
};
static_assert(sizeof(Stage2Header) == 24);
static_assert(offsetof(Stage2Header, entry_offset) == 12);
static_assert(offsetof(Stage2Header, image_size) == 16);
inline constexpr uint64_t kMaxStage2Size = 1ull << 20;  // stage 1 refuses a larger pin

}  // namespace redoubt::sl
