#include "platform/qemu/host/boot_image.hpp"

#include <cstring>
#include <stdexcept>

#include "abi/harness_channel.hpp"

namespace redoubt::qemu {

namespace {
constexpr uint64_t kPage = 4096;

bool zero_page(const uint8_t* p) {
  static const uint8_t zeros[kPage] = {};
  return std::memcmp(p, zeros, kPage) == 0;
}
}  // namespace

std::vector<uint8_t> make_boot_image(sim::Machine& m, uint64_t slb_base, uint64_t from, uint64_t to) {
  if (from % kPage || to % kPage || to < from || !m.mem().contains(from, to - from))
    throw std::invalid_argument("boot image: range is not page aligned or not inside the machine's RAM");
  struct Run {
    uint64_t pa, size;
  };
  std::vector<Run> runs;
  for (uint64_t pa = from; pa < to; pa += kPage) {
    if (zero_page(m.mem().map(pa, kPage))) continue;
    if (!runs.empty() && runs.back().pa + runs.back().size == pa)
      runs.back().size += kPage;
    else
      runs.push_back({pa, kPage});
  }
  abi::BootImageHeader h{};
  std::memcpy(h.magic, abi::kBootImageMagic, 8);
  h.version = 1;
  h.region_count = uint32_t(runs.size());
  h.slb_base = slb_base;
  std::vector<uint8_t> out(sizeof h + runs.size() * sizeof(abi::BootImageRegion));
  uint64_t offset = out.size();
  std::vector<abi::BootImageRegion> table;
  for (const Run& r : runs) {
    table.push_back({r.pa, r.size, offset});
    offset += r.size;
  }
  std::memcpy(out.data(), &h, sizeof h);
  if (!table.empty()) std::memcpy(out.data() + sizeof h, table.data(), table.size() * sizeof(abi::BootImageRegion));
  for (const Run& r : runs) {
    const uint8_t* p = m.mem().map(r.pa, r.size);
    out.insert(out.end(), p, p + r.size);
  }
  return out;
}

std::vector<BootImageRegion> parse_boot_image(const std::vector<uint8_t>& image, uint64_t* slb_base) {
  abi::BootImageHeader h;
  if (image.size() < sizeof h) throw std::invalid_argument("boot image: shorter than its header");
  std::memcpy(&h, image.data(), sizeof h);
  if (std::memcmp(h.magic, abi::kBootImageMagic, 8) != 0 || h.version != 1)
    throw std::invalid_argument("boot image: bad magic or version");
  if (h.region_count > (image.size() - sizeof h) / sizeof(abi::BootImageRegion))
    throw std::invalid_argument("boot image: region table runs past the end");
  if (slb_base) *slb_base = h.slb_base;
  std::vector<BootImageRegion> out;
  for (uint32_t i = 0; i < h.region_count; ++i) {
    abi::BootImageRegion r;
    std::memcpy(&r, image.data() + sizeof h + i * sizeof r, sizeof r);
    if (r.offset > image.size() || r.size > image.size() - r.offset)
      throw std::invalid_argument("boot image: region " + std::to_string(i) + " runs past the end");
    out.push_back({r.pa, std::vector<uint8_t>(image.begin() + long(r.offset), image.begin() + long(r.offset + r.size))});
  }
  return out;
}

}  // namespace redoubt::qemu
