#include "platform/sim/dev.hpp"

#include <bit>
#include <cstring>

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

bool DmaPort::write(const std::string& device, uint64_t pa, std::span<const uint8_t> data) {
  if (!mem_.contains(pa, data.size()) || dev_.any_protected(pa, data.size())) {
    faults_.push_back({device, pa, true});
    return false;
  }
  std::memcpy(mem_.map(pa, data.size()), data.data(), data.size());
  return true;
}

bool DmaPort::read(const std::string& device, uint64_t pa, std::span<uint8_t> out) {
  if (!mem_.contains(pa, out.size()) || dev_.any_protected(pa, out.size())) {
    faults_.push_back({device, pa, false});
    return false;
  }
  std::memcpy(out.data(), mem_.map(pa, out.size()), out.size());
  return true;
}

}  // namespace redoubt::sim
