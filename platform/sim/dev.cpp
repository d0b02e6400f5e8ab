#include "platform/sim/dev.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <ostream>

namespace redoubt::sim {

DeviceExclusionVector::DeviceExclusionVector(uint64_t ram_bytes)
    : bits_((ram_bytes / PhysicalMemory::kPageSize + 63) / 64, 0), pages_(ram_bytes / PhysicalMemory::kPageSize) {}

void DeviceExclusionVector::protect(uint64_t pa, uint64_t n) {
  if (n == 0) return;
  for (uint64_t p = pa / PhysicalMemory::kPageSize; p <= (pa + n - 1) / PhysicalMemory::kPageSize && p < pages_; ++p)
    bits_[p / 64] |= 1ull << (p % 64);
}

bool DeviceExclusionVector::page_protected(uint64_t pa) const {
  uint64_t p = pa / PhysicalMemory::kPageSize;
  if (p < pages_ && (bits_[p / 64] >> (p % 64)) & 1) return true;
  return table_mem_ && table_bit(pa);
}

void DeviceExclusionVector::attach_table(PhysicalMemory& mem, uint64_t base, uint64_t covered, bool protect_beyond) {
  table_mem_ = &mem;
  table_base_ = base;
  table_covered_ = covered;
  protect_beyond_ = protect_beyond;
}

bool DeviceExclusionVector::table_bit(uint64_t pa) const {
  if (pa >= table_covered_) return protect_beyond_;
  const uint64_t p = pa / PhysicalMemory::kPageSize;
  const uint8_t* byte = table_mem_->map(table_base_ + p / 8, 1);
  return !byte || ((*byte >> (p % 8)) & 1);
}

bool DeviceExclusionVector::any_protected(uint64_t pa, uint64_t n) const {
  for (uint64_t a = pa & ~(PhysicalMemory::kPageSize - 1); a < pa + n; a += PhysicalMemory::kPageSize)
    if (page_protected(a)) return true;
  return false;
}

bool DeviceExclusionVector::all_protected(uint64_t pa, uint64_t n) const {
  for (uint64_t a = pa & ~(PhysicalMemory::kPageSize - 1); a < pa + n; a += PhysicalMemory::kPageSize)
    if (!page_protected(a)) return false;
  return n > 0;
}

uint64_t DeviceExclusionVector::protected_pages() const {
  uint64_t c = 0;
  for (uint64_t w : bits_) c += static_cast<uint64_t>(std::popcount(w));
  return c;
}

const char* dma_blocker_name(DmaBlocker b) {
  switch (b) {
    case DmaBlocker::none: return "none";
    case DmaBlocker::outside_ram: return "outside RAM";
    case DmaBlocker::dev: return "DEV";
    case DmaBlocker::iommu: return "IOMMU";  // AMD-Vi or VT-d (translation or a PMR)
  }
  return "?";
}

std::ostream& operator<<(std::ostream& o, DmaBlocker b) { return o << dma_blocker_name(b); }

// pages[i]: the physical address of the i-th device-side page piece of [addr, addr + n).
DmaResult DmaPort::access(const BusMaster& who, uint64_t addr, uint64_t n, bool write, std::vector<uint64_t>& pages) {
  constexpr uint64_t kPage = PhysicalMemory::kPageSize;
  auto fault = [&](uint64_t at, DmaBlocker by, uint64_t pa) {
    faults_.push_back({who.name, at, write, who.device_id, by, pa});
    return DmaResult{false, at, by};
  };
  if (n == 0) return mem_.contains(addr, 0) ? DmaResult{} : fault(addr, DmaBlocker::outside_ram, addr);
  if (addr + (n - 1) < addr) return fault(addr, DmaBlocker::outside_ram, addr);  // wraps
  for (uint64_t at = addr; at - addr < n;) {
    const uint64_t piece = std::min<uint64_t>(kPage - (at % kPage), n - (at - addr));
    uint64_t pa = at;
    if (remapper_) {
      const std::optional<uint64_t> t = remapper_->translate(who.device_id, at, write);
      if (!t) return fault(at, DmaBlocker::iommu, at);
      pa = *t;
    }
    if (!mem_.contains(pa, piece)) return fault(at, DmaBlocker::outside_ram, pa);
    if (dev_.any_protected(pa, piece)) return fault(at, DmaBlocker::dev, pa);
    pages.push_back(pa);
    at += piece;
    if (at == 0) break;  // the access ended at the top of the address space
  }
  return {};
}

DmaResult DmaPort::write(const BusMaster& who, uint64_t addr, std::span<const uint8_t> data) {
  std::vector<uint64_t> pages;
  DmaResult r = access(who, addr, data.size(), true, pages);
  if (!r) return r;
  mem_.note_external_write();  // a CPU revalidates its decoded code at its next VMRUN
  uint64_t done = 0;
  for (uint64_t pa : pages) {
    const uint64_t piece = std::min<uint64_t>(PhysicalMemory::kPageSize - ((addr + done) % PhysicalMemory::kPageSize),
                                              data.size() - done);
    std::memcpy(mem_.map(pa, piece), data.data() + done, piece);
    done += piece;
  }
  return r;
}

DmaResult DmaPort::read(const BusMaster& who, uint64_t addr, std::span<uint8_t> out) {
  std::vector<uint64_t> pages;
  DmaResult r = access(who, addr, out.size(), false, pages);
  if (!r) return r;
  uint64_t done = 0;
  for (uint64_t pa : pages) {
    const uint64_t piece = std::min<uint64_t>(PhysicalMemory::kPageSize - ((addr + done) % PhysicalMemory::kPageSize),
                                              out.size() - done);
    std::memcpy(out.data() + done, mem_.map(pa, piece), piece);
    done += piece;
  }
  return r;
}

}  // namespace redoubt::sim
