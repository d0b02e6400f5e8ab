// AMD Device Exclusion Vector driver (AMD APM vol. 2 §15.24) and the
// hal::DmaProtection on top. It finds the DEV capability in the host bridge
// (00:18.3 on family 0Fh/10h), builds the protection table in memory the
// untrusted loader set aside (BootParams::dev_table), marks the table's own
// pages and the caller's ranges (the SLB, the boot parameters), enables DEV,
// then re-reads the table now that it protects itself: a DMA write that changed
// it before the enable is detected (docs/dma.md). Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/pci_config.hpp"

namespace redoubt::x86 {

struct PhysRange {
  uint64_t pa;
  uint64_t size;
};

class AmdDev final : public hal::DmaProtection {
 public:
  AmdDev(PortBus& io, hal::PhysMem& mem) : io_(io), mem_(mem) {}

  // Finds the DEV capability block: 00:18.3 must be an AMD function with a
  // capability list holding capability 0Fh of type DEV.
  Status find();
  // The enable protocol (docs/dma.md). table_pa: 4 KiB aligned; table_size: at
  // least 128 KiB; the table used is always 128 KiB (covers 4 GiB; DEV_BASE_LO.P blocks all above).
  // Memory above the covered range is blocked too (DEV_BASE_LO.P).
  Status enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial);

  // Takes over a DEV that an earlier stage (the SL) enabled: reads domain 0's
  // table base and size back from the registers. Fails if DEV_EN is clear.
  Status attach();

  // Sets the table bits of every page touching [pa, pa + n), then invalidates the DEV cache.
  Status protect(uint64_t pa, uint64_t n) override;
  // Every page touching [pa, pa + n) blocked (n > 0).
  bool is_protected(uint64_t pa, uint64_t n) override;
  // Clears the table bits of every page inside [pa, pa + n) (whole pages only), then
  // invalidates the DEV cache: the hypervisor hands a guest's RAM to the guest's AMD-Vi
  // domain (docs/dma.md "Device assignment"). Pages above the covered range stay blocked (P).
  Status unprotect(uint64_t pa, uint64_t n);
  // Clears DEV_CR.DEV_EN (SL_DEV_EN, SKINIT's SLB protection, stays as it is). Test-only
  // (kHvTestDevOffBeforeIommu: the hand-off with a window, which the attack test must beat).
  void disable();

  uint64_t table_pa() const { return table_pa_; }
  uint64_t table_bytes() const { return table_bytes_; }

  uint8_t cap_offset() const { return cap_; }
  uint32_t domains() const { return domains_; }
  uint32_t maps() const { return maps_; }
  uint64_t covered() const { return covered_; }

 private:
  uint32_t read(uint32_t function, uint32_t index);
  void write(uint32_t function, uint32_t index, uint32_t value);
  bool page_bit(uint64_t page) const;
  void set_pages(uint64_t pa, uint64_t n);
  uint8_t expected_byte(uint64_t i, const PhysRange* initial, size_t n_initial) const;

  PortBus& io_;
  hal::PhysMem& mem_;
  uint8_t cap_ = 0;
  uint32_t domains_ = 0, maps_ = 0;
  uint8_t* table_ = nullptr;
  uint64_t table_pa_ = 0, table_bytes_ = 0, covered_ = 0;
  bool enabled_ = false;
};

}  // namespace redoubt::x86
