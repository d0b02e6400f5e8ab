#include "platform/sim/memory.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace redoubt::sim {

PhysicalMemory::PhysicalMemory(uint64_t bytes) : bytes_((bytes + kPageSize - 1) / kPageSize * kPageSize, 0) {}

uint8_t* PhysicalMemory::map(uint64_t pa, uint64_t n) { return contains(pa, n) ? bytes_.data() + pa : nullptr; }

static std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

void PhysicalMemory::write(uint64_t pa, std::span<const uint8_t> data) {
  if (!contains(pa, data.size()))
    throw std::out_of_range("physical write [" + hex(pa) + ", +" + hex(data.size()) + ") is outside RAM (" +
                            hex(size()) + " bytes)");
  std::memcpy(bytes_.data() + pa, data.data(), data.size());
}

std::vector<uint8_t> PhysicalMemory::read(uint64_t pa, uint64_t n) const {
  if (!contains(pa, n))
    throw std::out_of_range("physical read [" + hex(pa) + ", +" + hex(n) + ") is outside RAM");
  return {bytes_.begin() + static_cast<ptrdiff_t>(pa), bytes_.begin() + static_cast<ptrdiff_t>(pa + n)};
}

}  // namespace redoubt::sim
