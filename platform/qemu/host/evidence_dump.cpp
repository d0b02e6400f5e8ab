#include "platform/qemu/host/evidence_dump.hpp"

#include <algorithm>
#include <cstring>

#include "abi/harness_channel.hpp"

namespace redoubt::qemu {

std::optional<EvidenceDump> parse_evidence_dump(std::span<const uint8_t> ch, std::string* why) {
  auto fail = [&](const std::string& w) -> std::optional<EvidenceDump> {
    if (why) *why = "harness channel: " + w;
    return std::nullopt;
  };
  const uint8_t* magic = reinterpret_cast<const uint8_t*>(abi::kDumpMagic);
  auto it = std::find_end(ch.begin(), ch.end(), magic, magic + 8);
  if (it == ch.end()) return fail("no evidence dump (the images did not power off through launch_stop)");
  size_t at = size_t(it - ch.begin()) + 8;
  auto take = [&](void* out, size_t n) {
    if (ch.size() - at < n) return false;
    if (n) std::memcpy(out, ch.data() + at, n);  // an empty region's data() may be null (C11 7.24.1: UB even for 0 bytes)
    at += n;
    return true;
  };
  uint32_t version = 0, status = 0, count = 0;
  if (!take(&version, 4) || !take(&status, 4) || !take(&count, 4)) return fail("evidence dump cut short in its header");
  if (version != abi::kDumpVersion) return fail("evidence dump version " + std::to_string(version) + ", expected 1");
  if (count > abi::kDumpMaxRegions) return fail("evidence dump has " + std::to_string(count) + " regions, limit 48");
  EvidenceDump d;
  d.exit_status = status;
  for (uint32_t i = 0; i < count; ++i) {
    DumpRegion r;
    uint64_t size = 0;
    if (!take(&r.pa, 8) || !take(&size, 8)) return fail("evidence dump cut short in region " + std::to_string(i));
    if (size > abi::kDumpMaxRegionBytes)
      return fail("evidence dump region " + std::to_string(i) + " is " + std::to_string(size) + " bytes, limit 1 MiB");
    r.bytes.resize(size);
    if (!take(r.bytes.data(), size)) return fail("evidence dump cut short in region " + std::to_string(i) + "'s bytes");
    d.regions.push_back(std::move(r));
  }
  char end[8];
  if (!take(end, 8) || std::memcmp(end, abi::kDumpEnd, 8) != 0) return fail("evidence dump has no end marker");
  return d;
}

}  // namespace redoubt::qemu
