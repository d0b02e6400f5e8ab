// libFuzzer: the secure loader's reading of what the untrusted pre-launch loader
// wrote (sl/secure_loader.cpp read_boot_params / read_guest_table, abi/boot_params.hpp):
// the boot-params pointer at the top of the SLB, the BootParams block, the guest
// table, and the bytes the regions point at, run through the whole of
// sl::secure_loader_main on the fuzz HAL (fuzz_hal.hpp) with a valid SLB.
// Input: u64 boot-params address, 144 bytes of BootParams, 1040 bytes of guest
// table (written at kTablePa), then up to 64 KiB placed at kBlobPa (manifest,
// image, policy). Invariants (docs/skinit.md, docs/trust-model.md): every extend
// is at locality 2 on PCR17-20 in every bank (fuzz_hal); a refusal names a
// reason and caps PCR17 and PCR18; a launch hands over only regions inside RAM,
// outside the SLB and DMA-protected; assigned devices bounded and never listed twice.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "abi/boot_params.hpp"
#include "abi/slb_layout.hpp"
#include "policy/fs/pcr_map.hpp"
#include "sl/secure_loader.hpp"
#include "tests/fuzz/fuzz_hal.hpp"
#include "tests/fuzz/p256_generator.hpp"

using namespace redoubt;
using namespace redoubt::sl;

namespace {

constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kSlb = 0x200000;
constexpr uint64_t kTablePa = 0x301000;
constexpr uint64_t kBlobPa = 0x400000;
constexpr uint16_t kMeasured = 0x400;

fuzz_hal::FuzzPlatform& platform() {
  static fuzz_hal::FuzzPlatform p(kRam);
  return p;
}

void write_slb(fuzz_hal::FuzzPlatform& p) {
  uint8_t* s = p.map(kSlb, kSlbSize);
  std::memset(s, 0, kSlbSize);
  SlbHeader h{};
  h.entry_offset = kMeasured;
  h.length = kMeasured;
  std::memcpy(h.magic, kSlbMagic, 8);
  h.version = 1;
  h.key_slot_offset = 0x100;
  h.owner_slot_offset = 0x200;
  std::memcpy(s, &h, sizeof h);
  const std::pair<uint16_t, const char*> slots[] = {{0x100, kKeySlotMagic}, {0x200, kOwnerSlotMagic}};
  for (const auto& [off, magic] : slots) {
    SlbKeySlot k{};
    std::memcpy(k.magic, magic, 8);
    k.cose_alg = -7;  // ES256
    k.sec1_len = 65;
    std::memcpy(k.sec1, fuzz::kP256G, 65);
    std::memcpy(s + off, &k, sizeof k);
  }
}

bool inside_ram_not_slb(uint64_t pa, uint64_t n) {
  return pa <= kRam && n <= kRam - pa && !(pa < kSlb + kSlbSize && kSlb < pa + n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 8 + sizeof(BootParams) + sizeof(GuestTable);
  if (size < kHead) return 0;
  fuzz_hal::FuzzPlatform& p = platform();
  p.reset();
  write_slb(p);
  uint64_t bp_pa;
  std::memcpy(&bp_pa, data, 8);
  std::memcpy(p.map(kSlb + kBootParamsPtrOffset, 8), &bp_pa, 8);
  const bool bp_written = inside_ram_not_slb(bp_pa, sizeof(BootParams));
  if (bp_written) std::memcpy(p.map(bp_pa, sizeof(BootParams)), data + 8, sizeof(BootParams));
  std::memcpy(p.map(kTablePa, sizeof(GuestTable)), data + 8 + sizeof(BootParams), sizeof(GuestTable));
  const size_t blob = std::min<size_t>(size - kHead, 64 * 1024);
  std::memcpy(p.map(kBlobPa, blob), data + kHead, blob);

  BootParams bp{};
  std::memcpy(&bp, data + 8, sizeof bp);
  const Outcome out = secure_loader_main(p, kSlb);

  if (out.launched != p.entered) std::abort();
  if (!out.launched) {
    if (out.reason.is_ok() || out.reason.message()[0] == 0) std::abort();  // a refusal names its reason
    // PCR17/18 capped: the last two extends (when the log could start at all, every refusal after the SKINIT state).
    if (p.extends.size() < 2 || p.extends[p.extends.size() - 2].pcr != policy::kPcrDrtmDetail ||
        p.extends.back().pcr != policy::kPcrDrtmAuthority)
      std::abort();
  } else {
    const hal::HypervisorHandoff& h = p.handoff;
    if (!p.is_protected(h.hv_image_pa, h.hv_image_size) || !p.is_protected(h.event_log_pa, h.event_log_cap)) std::abort();
    for (uint32_t i = 0; i < h.guest_count; ++i) {
      const auto& g = h.guests[i];
      if (!inside_ram_not_slb(g.ram_pa, g.ram_size) || !p.is_protected(g.ram_pa, g.ram_size) ||
          !p.is_protected(g.image_pa, g.image_size))
        std::abort();
      // Assigned devices (docs/dma.md "Device assignment"): at most 3 a guest, none twice in the table.
      if (g.device_count > hal::HypervisorHandoff::kMaxDevices) std::abort();
      for (uint32_t k = 0; k < g.device_count; ++k)
        for (uint32_t j = 0; j <= i; ++j)
          for (uint32_t l = 0; l < h.guests[j].device_count && (j < i || l < k); ++l)
            if (h.guests[j].devices[l] == g.devices[k]) std::abort();
    }
    // The DMA tables' region is handed on protected (the hypervisor builds AMD-Vi's tables there).
    if (h.dma_region_size && (!inside_ram_not_slb(h.dma_region_pa, h.dma_region_size) ||
                              !p.is_protected(h.dma_region_pa, h.dma_region_size)))
      std::abort();
  }
  // Leave RAM as found: what the SL wrote (its log) and what this input placed.
  if (bp_written && bp.event_log.pa <= kRam && out.event_log_used <= kRam - bp.event_log.pa)
    std::memset(p.map(bp.event_log.pa, out.event_log_used), 0, out.event_log_used);
  if (bp_written) std::memset(p.map(bp_pa, sizeof(BootParams)), 0, sizeof(BootParams));
  std::memset(p.map(kTablePa, sizeof(GuestTable)), 0, sizeof(GuestTable));
  std::memset(p.map(kBlobPa, blob), 0, blob);
  return 0;
}
