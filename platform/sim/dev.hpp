// AMD Device Exclusion Vector (APM vol. 2 §15.24.2 "Device Exclusion Vector"):
// one bit per 4 KiB physical page; a set bit blocks every device (bus master)
// access to that page. Devices reach memory only through DmaPort.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/sim/memory.hpp"

namespace redoubt::sim {

class DeviceExclusionVector {
 public:
  explicit DeviceExclusionVector(uint64_t ram_bytes);
  void protect(uint64_t pa, uint64_t n);
  bool page_protected(uint64_t pa) const;
  bool any_protected(uint64_t pa, uint64_t n) const;  // some page of the range
  bool all_protected(uint64_t pa, uint64_t n) const;  // every page of the range
  uint64_t protected_pages() const;

 private:
  std::vector<uint64_t> bits_;  // 1 bit per page (APM: DEV is a contiguous bit vector)
  uint64_t pages_;
};

struct DmaFault {
  std::string device;
  uint64_t pa;
  bool write;
};

// A PCI-style bus master. Every access is checked page by page against the DEV
// before any byte moves: a blocked access transfers nothing and records a fault.
class DmaPort {
 public:
  DmaPort(PhysicalMemory& mem, DeviceExclusionVector& dev) : mem_(mem), dev_(dev) {}
  bool write(const std::string& device, uint64_t pa, std::span<const uint8_t> data);
  bool read(const std::string& device, uint64_t pa, std::span<uint8_t> out);
  const std::vector<DmaFault>& faults() const { return faults_; }

 private:
  PhysicalMemory& mem_;
  DeviceExclusionVector& dev_;
  std::vector<DmaFault> faults_;
};

}  // namespace redoubt::sim
