#include "platform/sim/loader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "abi/boot_params.hpp"
#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"

namespace redoubt::sim {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

std::string check_slb_image(const std::vector<uint8_t>& img, uint64_t slb_base) {
  if (slb_base % sl::kSlbAlign != 0)
    return "SLB base " + hex(slb_base) + " is not 64 KiB aligned (SKINIT ignores EAX[15:0] and would measure " +
           hex(slb_base & ~(sl::kSlbAlign - 1)) + " instead)";
  if (img.size() > sl::kSlbSize)
    return "SL image is " + std::to_string(img.size()) + " bytes; the SLB is 64 KiB (65536 bytes)";
  if (img.size() < 4) return "SL image is " + std::to_string(img.size()) + " bytes: no SLB header";
  uint16_t entry, length;
  std::memcpy(&entry, img.data(), 2);
  std::memcpy(&length, img.data() + 2, 2);
  if (length == 0) return "SLB header: length is 0 (nothing would be measured)";
  if (entry >= length)
    return "SLB header: entry offset " + hex(entry) + " is not below the measured length " + hex(length) +
           " (the SL would start in unmeasured memory)";
  if (length > img.size())
    return "SLB header: length " + hex(length) + " exceeds the image (" + std::to_string(img.size()) + " bytes)";
  if (length > sl::kMaxMeasuredLength)
    return "SLB header: length " + hex(length) + " overlaps the boot-params pointer at SLB+0xfff8";
  return "";
}

std::vector<GuestPlacement> place_guests(const LaunchLayout& L, const std::vector<GuestInput>& guests) {
  if (guests.size() > sl::kMaxGuests)
    throw std::invalid_argument(std::to_string(guests.size()) + " guests; at most " + std::to_string(sl::kMaxGuests));
  std::vector<GuestPlacement> out;
  uint64_t img = L.guest_images, ram = L.guest_ram;
  for (const GuestInput& g : guests) {
    GuestPlacement p;
    auto take = [&img](uint64_t n) {
      const uint64_t at = img;
      img += (n + 0xFFF) & ~0xFFFull;
      return at;
    };
    p.image_pa = take(g.image.size());
    p.image_size = g.image.size();
    if (!g.manifest.empty()) {
      p.manifest_pa = take(g.manifest.size());
      p.manifest_size = g.manifest.size();
    }
    if (!g.initrd.empty()) {
      p.initrd_pa = take(g.initrd.size());
      p.initrd_size = g.initrd.size();
    }
    if (img > L.hv_memory)
      throw std::invalid_argument("guest images do not fit below the hypervisor memory at " + hex(L.hv_memory));
    if (g.ram_size == 0 || g.ram_size % (2ull << 20))
      throw std::invalid_argument("guest " + g.name + ": RAM size must be a multiple of 2 MiB");
    p.ram_pa = ram;
    p.ram_size = g.ram_size;
    ram += g.ram_size;
    out.push_back(p);
  }
  return out;
}

std::string lay_out(Machine& m, const LaunchInputs& in, const std::function<void(const std::string&)>& sink) {
  const LaunchLayout& L = in.layout;
  auto say = [&](const std::string& s) { sink("[loader] " + s); };

  if (std::string why = check_slb_image(in.sl_image, L.slb_base); !why.empty()) return (why);
  if (in.hv_image.empty()) return ("hypervisor image is empty");
  if (in.manifest.empty()) return ("hypervisor manifest is empty");
  if (in.manifest.size() > L.launch_policy - L.manifest)
    return ("hypervisor manifest is " + std::to_string(in.manifest.size()) + " bytes, limit " +
                                   std::to_string(L.launch_policy - L.manifest));
  if (in.launch_policy.size() > std::min<uint64_t>(sl::kMaxLaunchPolicy, L.hv_image - L.launch_policy))
    return ("launch policy is " + std::to_string(in.launch_policy.size()) + " bytes, limit " +
                                   std::to_string(sl::kMaxLaunchPolicy));
  if (in.sl_stage2.size() > std::min<uint64_t>(sl::kMaxStage2Size, L.hv_image - L.sl_stage2))
    return ("SL stage 2 is " + std::to_string(in.sl_stage2.size()) + " bytes, limit " +
            std::to_string(std::min<uint64_t>(sl::kMaxStage2Size, L.hv_image - L.sl_stage2)));
  if (L.dev_table > L.hv_image && in.hv_image.size() > L.dev_table - L.hv_image)
    return ("hypervisor image is " + std::to_string(in.hv_image.size()) + " bytes, limit " +
            std::to_string(L.dev_table - L.hv_image) + " (the DMA-protection region follows it)");
  if (!m.mem().contains(L.hv_image, in.hv_image.size()))
    return ("hypervisor image (" + std::to_string(in.hv_image.size()) +
                                   " bytes) does not fit in RAM at " + hex(L.hv_image));

  // The untrusted pre-launch loader lays everything out.
  std::vector<uint8_t> slb(sl::kSlbSize, 0);
  std::memcpy(slb.data(), in.sl_image.data(), in.sl_image.size());
  std::memcpy(slb.data() + sl::kBootParamsPtrOffset, &L.boot_params, 8);
  m.mem().write(L.slb_base, slb);
  sl::BootParams bp{};
  std::memcpy(bp.magic, sl::kBootParamsMagic, 8);
  bp.size = sizeof bp;
  bp.version = 1;
  bp.hv_image = {L.hv_image, in.hv_image.size()};
  bp.hv_manifest = {L.manifest, in.manifest.size()};
  bp.event_log = {L.event_log, L.event_log_size};
  if (!in.guests.empty()) {
    std::vector<GuestPlacement> place;
    try {
      place = place_guests(L, in.guests);
    } catch (const std::exception& e) {
      return (e.what());
    }
    if (!m.mem().contains(place.back().ram_pa, place.back().ram_size))
      return ("guest RAM does not fit in the machine's RAM");
    sl::GuestTable gt{};
    std::memcpy(gt.magic, sl::kGuestTableMagic, 8);
    gt.count = static_cast<uint32_t>(in.guests.size());
    gt.entry_size = sizeof(sl::GuestEntry);
    for (size_t i = 0; i < in.guests.size(); ++i) {
      const GuestInput& g = in.guests[i];
      sl::GuestEntry& e = gt.entries[i];
      std::snprintf(e.name, sizeof e.name, "%s", g.name.c_str());
      e.image = {place[i].image_pa, place[i].image_size};
      e.ram = {place[i].ram_pa, place[i].ram_size};
      e.manifest = {place[i].manifest_pa, place[i].manifest_size};
      e.initrd = {place[i].initrd_pa, place[i].initrd_size};
      if (!g.manifest.empty()) m.mem().write(place[i].manifest_pa, g.manifest);
      if (!g.initrd.empty()) m.mem().write(place[i].initrd_pa, g.initrd);
      for (size_t k = 0; k < 4; ++k) e.args[k] = g.args[k];
      e.flags = g.flags;
      e.io_base = g.io_base;
      e.io_count = g.io_count;
      if (g.devices.size() > sl::kMaxGuestDevices)
        return "guest " + g.name + ": " + std::to_string(g.devices.size()) + " devices, at most " +
               std::to_string(sl::kMaxGuestDevices);
      e.device_count = uint16_t(g.devices.size());
      for (size_t k = 0; k < g.devices.size(); ++k) e.devices[k] = g.devices[k];
      m.mem().write(place[i].image_pa, g.image);
    }
    m.mem().write(L.guest_table, {reinterpret_cast<const uint8_t*>(&gt), sizeof gt});
    bp.guest_table = {L.guest_table, sizeof gt};
    say(std::to_string(in.guests.size()) + " guest(s): images from " + hex(L.guest_images) + ", RAM from " +
        hex(L.guest_ram) + ", hypervisor memory " + hex(L.hv_memory) + " (+" + hex(L.hv_memory_size) + ")");
  }
  bp.outcome = {L.outcome, sizeof(abi::LaunchOutcome)};
  bp.dev_table = {L.dev_table, L.dev_table_size};
  if (!in.sl_stage2.empty()) {
    m.mem().write(L.sl_stage2, in.sl_stage2);
    bp.sl_stage2 = {L.sl_stage2, (in.sl_stage2.size() + 4095) & ~uint64_t{4095}};
    say("SL stage 2 " + std::to_string(in.sl_stage2.size()) + " bytes at " + hex(L.sl_stage2));
  }
  // Always: the SL runs on a stack in it and the hypervisor keeps its state there.
  bp.hv_memory = {L.hv_memory, L.hv_memory_size};
  m.mem().write(L.outcome, std::vector<uint8_t>(sizeof(abi::LaunchOutcome), 0));
  m.mem().write(L.boot_params, {reinterpret_cast<const uint8_t*>(&bp), sizeof bp});
  m.mem().write(L.event_log, std::vector<uint8_t>(L.event_log_size, 0));
  m.mem().write(L.manifest, in.manifest);
  if (!in.launch_policy.empty()) {
    m.mem().write(L.launch_policy, in.launch_policy);
    bp.launch_policy = {L.launch_policy, in.launch_policy.size()};
    m.mem().write(L.boot_params, {reinterpret_cast<const uint8_t*>(&bp), sizeof bp});
    say("launch policy " + std::to_string(in.launch_policy.size()) + " bytes at " + hex(L.launch_policy));
  }
  m.mem().write(L.hv_image, in.hv_image);
  say("SLB at " + hex(L.slb_base) + ", hypervisor " + std::to_string(in.hv_image.size()) + " bytes at " +
      hex(L.hv_image) + ", manifest " + std::to_string(in.manifest.size()) + " bytes at " + hex(L.manifest));

  // BSP in 64-bit kernel mode with SVM on; APs parked in INIT (INIT IPI).
  CpuState& bsp = m.bsp();
  bsp.cr0 = kCr0Pe | kCr0Pg | 0x10;
  bsp.efer = (in.svm_enabled ? kEferSvme : 0) | (1ull << 8) | (1ull << 10);  // LME, LMA
  bsp.cpl = 0;
  bsp.rax = L.slb_base;
  for (CpuState& ap : m.aps()) ap.run = in.aps_in_init ? RunState::init_wait : RunState::running;
  return "";
}

}  // namespace redoubt::sim
