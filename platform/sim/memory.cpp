#include "platform/sim/memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace redoubt::sim {

static std::string hex(uint64_t v);

PhysicalMemory::PhysicalMemory(uint64_t bytes) : size_((bytes + kPageSize - 1) / kPageSize * kPageSize) {
  if (size_ == 0) size_ = kPageSize;
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw std::runtime_error("cannot reserve " + hex(size_) + " bytes of simulated RAM: " + std::strerror(errno));
  base_ = static_cast<uint8_t*>(p);
}

PhysicalMemory::~PhysicalMemory() { munmap(base_, size_); }

uint8_t* PhysicalMemory::map(uint64_t pa, uint64_t n) { return contains(pa, n) ? base_ + pa : nullptr; }

static std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

void PhysicalMemory::write(uint64_t pa, std::span<const uint8_t> data) {
  if (!contains(pa, data.size()))
    throw std::out_of_range("physical write [" + hex(pa) + ", +" + hex(data.size()) + ") is outside RAM (" +
                            hex(size()) + " bytes)");
  // An empty span may have data() == nullptr (an empty file, `run --guest EMPTY`): memcpy's
  // pointers must be valid even for 0 bytes (C11 7.24.1p2), so there is nothing to call.
  if (data.empty()) return;
  ++external_writes_;
  std::memcpy(base_ + pa, data.data(), data.size());
}

std::vector<uint8_t> PhysicalMemory::read(uint64_t pa, uint64_t n) const {
  if (!contains(pa, n))
    throw std::out_of_range("physical read [" + hex(pa) + ", +" + hex(n) + ") is outside RAM");
  return {base_ + pa, base_ + pa + n};
}

}  // namespace redoubt::sim
