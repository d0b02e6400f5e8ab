// AMD-Vi (AMD IOMMU, spec 48882) driver and the hal::DmaProtection on top: the
// SL's DMA protection where the machine has no DEV (QEMU, DEV-less AMD parts).
// It finds the IOMMU's capability on PCI bus 0, builds a device table in which
// every one of the 64 Ki DeviceIDs is blocked (V = TV = 1, Mode 0, IR = IW = 0)
// in memory the untrusted loader set aside (BootParams::dev_table), enables
// translation, invalidates every cached entry, waits for that to complete, and
// then re-reads the table, which now protects itself: a DMA write that changed
// it before the enable is detected (docs/dma.md "AMD-Vi"). A later stage
// attach()es to it. The hypervisor grant()s one device access to chosen pages
// through 4-level I/O page tables; everything else stays blocked.
// Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arch/amd/iommu.hpp"
#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/amd_dev.hpp"  // PhysRange
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/pci_config.hpp"

namespace redoubt::x86 {

// The region the driver needs (inside BootParams::dev_table), from its start:
//   [0, 2 MiB)             device table: 64 Ki DTEs, all DeviceIDs (Size = 1FFh)
//   [2 MiB, +4 KiB)        command buffer (256 commands)
//   [2 MiB + 4 KiB, +4 KiB) event log (256 events)
//   [2 MiB + 8 KiB, +4 KiB) COMPLETION_WAIT store word
struct AmdIommuLayout {
  static constexpr uint64_t kDevTable = 0;
  static constexpr uint64_t kCmdBuf = arch::amd_iommu::kFullDevTableBytes;
  static constexpr uint64_t kEventLog = kCmdBuf + 4096;
  static constexpr uint64_t kWaitWord = kEventLog + 4096;
  static constexpr uint64_t kBytes = kWaitWord + 4096;
  static constexpr uint32_t kRingLen = arch::amd_iommu::ring_base::kMinLen;  // 2^8 entries of 16 bytes
};
static_assert(AmdIommuLayout::kBytes == (2u << 20) + 12 * 1024);
static_assert((1u << AmdIommuLayout::kRingLen) * arch::amd_iommu::kCommandBytes == 4096);

// The IOMMU itself (no vtable: stage 1 uses only this, and the SLB is tight).
class AmdIommuHw {
 public:
  // `regs`: the MMIO window for tests; null = the window find() reads from the capability (VolatileMmio).
  AmdIommuHw(PortBus& io, hal::PhysMem& mem, Mmio* regs = nullptr)
      : io_(io), mem_(mem), test_regs_(regs), regs_(regs ? regs : &vregs_) {}

  // Scans bus 0 (devices 0..31, functions 0..7) for capability 0Fh of type 011b,
  // reads the MMIO base from it (cap+4 / cap+8) and sanity-checks it. Refuses a
  // second IOMMU (not supported: each needs its own command buffer and event log).
  Status find();
  // The enable protocol (docs/dma.md "AMD-Vi"). table_pa: 4 KiB aligned; table_size:
  // at least AmdIommuLayout::kBytes. Every device is blocked from all memory, so the
  // `initial` ranges (the SLB, the boot params, stage 2) need nothing more than a
  // check that they do not overlap the region; they are taken for the DEV's signature.
  Status enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial);
  // Takes over an IOMMU an earlier stage enabled: IommuEn, CmdBufEn and EventLogEn
  // set, no exclusion range, the register bases where enable() puts them, and every
  // DTE blocking.
  Status attach();

  // Everything is blocked already: a check that no grant covers the range.
  Status check_protected(uint64_t pa, uint64_t n);
  // True while the IOMMU is enabled and no grant overlaps [pa, pa + n) (n > 0).
  bool covered(uint64_t pa, uint64_t n);

  // Memory (4 KiB aligned) the grants' I/O page tables are built in.
  Status set_page_table_pool(uint64_t pa, uint64_t size);
  // Lets `device_id` (bus << 8 | dev << 3 | fn) DMA to [pa, pa + size) at I/O
  // virtual address iova (4 KiB granular, 48-bit iova), with the given
  // permissions; its DTE moves from blocking to a 4-level page table (a domain of
  // its own). Invalidates the DTE and the domain's pages and waits.
  // domain_id: the DTE's DomainID (0 = DeviceID + 1); one page table per device, so two
  // devices of one guest share the DomainID (the IOTLB tag) but not the tables.
  Status grant(uint16_t device_id, uint64_t iova, uint64_t pa, uint64_t size, bool read, bool write,
               uint16_t domain_id = 0);
  // Moves `device_id` back to the blocking DTE and forgets its grants, then
  // INVALIDATE_DEVTAB_ENTRY + INVALIDATE_IOMMU_PAGES (its domain, every page) + COMPLETION_WAIT:
  // once it returns no cached translation lets the device reach the old pages (§2.4).
  // invalidate = false is test-only (kHvTestStaleIotlb: the stale-IOTLB attack must succeed).
  // Its I/O page tables are zeroed (their pool pages are not reused).
  Status revoke(uint16_t device_id, bool invalidate = true);
  // The device at `device_id` (any bus) if it is a Redoubt DMA engine (abi/dma_engine.hpp) or
  // QEMU's edu (arch/qemu/edu.hpp) with Memory Space on and a 32-bit memory BAR0: its BAR's
  // address and size. For edu it also turns Bus Master on (the DTE must still be blocking).

  Status engine_bar(uint16_t device_id, uint64_t& bar_pa, uint64_t& bar_size);

  // Copies up to `max` new events out of the event log (advancing its head).
  size_t read_events(arch::amd_iommu::Event* out, size_t max);
  bool event_overflow();

  // Issues INVALIDATE_IOMMU_ALL (or every DTE if unsupported) and a COMPLETION_WAIT.
  Status invalidate_all();

  uint64_t mmio_base() const { return base_; }
  PciAddress pci() const { return {0, uint8_t(devfn_ >> 3), uint8_t(devfn_ & 7)}; }
  uint8_t cap_offset() const { return cap_; }
  uint64_t ext_features() const { return efr_; }
  bool enabled() const { return enabled_; }

  static constexpr size_t kMaxGrants = 8;

 private:
  Mmio& regs() { return *regs_; }
  uint32_t cfg(uint32_t devfn, uint32_t reg);  // bus 0
  uint32_t cfg_any(uint16_t device_id, uint32_t reg);  // any bus
  void zero_tables(uint64_t table_pa, uint32_t level);
  uint64_t read64(uint32_t off);
  void write64(uint32_t off, uint64_t v);
  Status submit(const arch::amd_iommu::Command* cmds, size_t n);
  Status map_region(uint64_t table_pa);
  bool table_blocking(uint32_t& bad) const;
  uint64_t* alloc_table(uint64_t& pa);

  PortBus& io_;
  hal::PhysMem& mem_;
  Mmio* test_regs_;
  VolatileMmio vregs_{0};
  Mmio* regs_;
  uint32_t devfn_ = 0;
  uint8_t cap_ = 0;
  uint32_t cap_hdr_ = 0;
  uint64_t base_ = 0, efr_ = 0;
  bool enabled_ = false;
  uint64_t region_pa_ = 0;
  arch::amd_iommu::Dte* table_ = nullptr;
  arch::amd_iommu::Command* cmdbuf_ = nullptr;
  arch::amd_iommu::Event* evlog_ = nullptr;
  volatile uint64_t* wait_ = nullptr;
  uint32_t cmd_tail_ = 0;
  uint64_t wait_seq_ = 0;
  uint64_t pool_pa_ = 0, pool_size_ = 0, pool_used_ = 0;
  struct Grant {
    uint16_t device;
    uint64_t pa, size;
  };
  Grant grants_[kMaxGrants]{};
  size_t n_grants_ = 0;
};

// The hal::DmaProtection (stage 2, the hypervisor, through DmaProtectionSelector).
class AmdIommu final : public AmdIommuHw, public hal::DmaProtection {
 public:
  using AmdIommuHw::AmdIommuHw;
  Status protect(uint64_t pa, uint64_t n) override { return check_protected(pa, n); }
  bool is_protected(uint64_t pa, uint64_t n) override { return covered(pa, n); }
  Status set_domain_pool(uint64_t pa, uint64_t size) override { return set_page_table_pool(pa, size); }
  Status assign(uint16_t device_id, uint16_t domain_id, uint64_t iova, uint64_t pa, uint64_t size) override {
    return grant(device_id, iova, pa, size, true, true, domain_id);
  }
  Status unassign(uint16_t device_id, bool invalidate) override { return revoke(device_id, invalidate); }
  Status device_window(uint16_t device_id, uint64_t& pa, uint64_t& size) override { return engine_bar(device_id, pa, size); }
};

}  // namespace redoubt::x86
