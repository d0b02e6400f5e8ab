// AMD Device Exclusion Vector (APM vol. 2 §15.24.2 "Device Exclusion Vector"):
// one bit per 4 KiB physical page; a set bit blocks every device (bus master)
// access to that page. Devices reach memory only through DmaPort.
//
// Two sources of protection, either blocks a page:
//  - protect(): the CPU's own (SKINIT's SLB protection, SL_DEV_EN; the native
//    simulator's hal::DmaProtection), kept here;
//  - the table software programs through the DEV registers
//    (platform/sim/devices/amd_dev): once DEV_EN is set with a valid base, every
//    check reads the bit from simulated memory at DEV_BASE (no DEV cache is
//    modelled, so table writes take effect at once).
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
  uint64_t protected_pages() const;  // pages protect() covers (not the table's)

  // The in-memory table (DEV_EN with a valid DEV_BASE_LO): bit p of the table at
  // `base` covers page p, for `covered` bytes; above that, `protect_beyond` (the P
  // bit) decides. A table byte outside RAM reads as "protected" (fail closed).
  void attach_table(PhysicalMemory& mem, uint64_t base, uint64_t covered, bool protect_beyond);
  void detach_table() { table_mem_ = nullptr; }
  bool table_attached() const { return table_mem_ != nullptr; }

 private:
  bool table_bit(uint64_t pa) const;

  std::vector<uint64_t> bits_;  // 1 bit per page (APM: DEV is a contiguous bit vector)
  uint64_t pages_;
  PhysicalMemory* table_mem_ = nullptr;
  uint64_t table_base_ = 0, table_covered_ = 0;
  bool protect_beyond_ = false;
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
