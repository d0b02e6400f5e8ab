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
#include <algorithm>
#include <cstdint>
#include <iosfwd>
#include <optional>
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
  // Forgets every protect() (the native SL's stand-in protection, once the measured hv.bin's
  // harness has moved it into the table, platform/fake/measured_hv).
  void clear_protected() { std::fill(bits_.begin(), bits_.end(), 0); }

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

// A PCI requester: DeviceID = bus << 8 | device << 3 | function (the requester ID
// of PCI Express, the "DeviceID" AMD-Vi indexes its device table with).
struct BusMaster {
  std::string name;
  uint16_t device_id = 0;
};

// What stopped an access.
enum class DmaBlocker : uint8_t { none = 0, outside_ram = 1, dev = 2, iommu = 3 };
const char* dma_blocker_name(DmaBlocker b);
std::ostream& operator<<(std::ostream& o, DmaBlocker b);

struct DmaFault {
  std::string device;
  uint64_t pa;         // the address the device presented (an I/O virtual address when AMD-Vi translates)
  bool write;
  uint16_t device_id = 0;
  DmaBlocker by = DmaBlocker::none;
  uint64_t translated = 0;  // the physical address the IOMMU produced (== pa without translation)
};

struct DmaResult {
  bool ok = true;
  uint64_t fault_addr = 0;  // the device-side address of the first blocked page
  DmaBlocker by = DmaBlocker::none;
  explicit operator bool() const { return ok; }
};

// An IOMMU between the bus masters and memory (sim::AmdIommu, sim::IntelVtd). translate() is asked
// once per 4 KiB page of an access, with the device-side address; it returns the
// physical address, or nullopt when the request is blocked (target abort), after
// logging whatever the IOMMU logs (its own event log).
class DmaRemapper {
 public:
  virtual std::optional<uint64_t> translate(uint16_t device_id, uint64_t addr, bool write) = 0;

 protected:
  ~DmaRemapper() = default;
};

// A PCI-style bus master's only path to memory. Every access is split at the
// device-side 4 KiB page boundaries; each page is translated by the IOMMU (when
// one is attached: it passes addresses through while its IommuEn is clear), then
// the physical page is checked against RAM and the DEV. Only when every page
// passes does any byte move: a blocked access transfers nothing and records a
// fault. The DEV sees the translated address: it sits in the host bridge, behind
// the IOMMU (docs/dma.md "AMD-Vi model").
class DmaPort {
 public:
  DmaPort(PhysicalMemory& mem, DeviceExclusionVector& dev) : mem_(mem), dev_(dev) {}
  DmaResult write(const BusMaster& who, uint64_t addr, std::span<const uint8_t> data);
  DmaResult read(const BusMaster& who, uint64_t addr, std::span<uint8_t> out);
  // Without a requester ID (the older tests' bus masters): DeviceID 0000h.
  bool write(const std::string& device, uint64_t pa, std::span<const uint8_t> data) {
    return bool(write(BusMaster{device, 0}, pa, data));
  }
  bool read(const std::string& device, uint64_t pa, std::span<uint8_t> out) {
    return bool(read(BusMaster{device, 0}, pa, out));
  }
  const std::vector<DmaFault>& faults() const { return faults_; }
  void set_remapper(DmaRemapper* r) { remapper_ = r; }
  DmaRemapper* remapper() const { return remapper_; }

 private:
  DmaResult access(const BusMaster& who, uint64_t addr, uint64_t n, bool write, std::vector<uint64_t>& pages);

  PhysicalMemory& mem_;
  DeviceExclusionVector& dev_;
  DmaRemapper* remapper_ = nullptr;
  std::vector<DmaFault> faults_;
};

}  // namespace redoubt::sim
