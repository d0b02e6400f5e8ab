// A simulated AMD-Vi IOMMU (AMD I/O Virtualization Technology (IOMMU)
// Specification, publication 48882, rev 3.x; layouts in arch/amd/iommu.hpp).
//
// Discovered as the driver discovers QEMU's: a PCI function (00:02.0 by default,
// class 08h/06h) whose capability list holds the IOMMU capability block (§3.2,
// ID 0Fh, type 011b) naming the 16 KiB MMIO window (0xFED80000 by default, as
// QEMU; programmed and locked by "firmware": Enable = 1).
//
// Modelled (docs/dma.md "AMD-Vi model"):
//  * MMIO registers (§3.4): Device Table Base, Command Buffer Base/Head/Tail,
//    Event Log Base/Head/Tail, Control (IommuEn, EventLogEn, CmdBufEn, ComWaitIntEn
//    and the other bits stored), Exclusion Base/Limit (ExEn, Allow: honoured),
//    Extended Feature (read-only, configurable), Status (EventOverflow,
//    EventLogInt, ComWaitInt RW1C; EventLogRun, CmdBufRun read-only).
//  * Translation of every bus-master request (sim::DmaRemapper, called by
//    sim::DmaPort per 4 KiB page): device table entry (§2.2.2.1: V, TV, Mode, root,
//    IR/IW, DomainID, SA/SE, EX), host page tables of Mode 1..6 (§2.2.3: PR,
//    NextLevel with level skipping, larger pages by NextLevel 0 and by the page
//    size encoding of NextLevel 7, IR/IW ANDed down the walk, reserved bits).
//  * Caches: a device-table-entry cache (per DeviceID) and an IOTLB (per DomainID
//    and page, leaf translations) plus a page-directory-entry cache. Entries stay
//    until a command invalidates them (or a reset): a mapping changed without
//    INVALIDATE_IOMMU_PAGES / INVALIDATE_DEVTAB_ENTRY is observably stale.
//    Not-present entries and faults are never cached (capability NpCache = 0).
//  * The event log (§2.5): IO_PAGE_FAULT, ILLEGAL_DEV_TABLE_ENTRY,
//    DEV_TAB_HARDWARE_ERROR, PAGE_TAB_HARDWARE_ERROR, ILLEGAL_COMMAND_ERROR,
//    COMMAND_HARDWARE_ERROR; overflow when full.
//  * The command buffer (§2.4), processed synchronously when the tail moves (or
//    when CmdBufEn turns on): COMPLETION_WAIT (store, ComWaitInt), INVALIDATE_
//    DEVTAB_ENTRY, INVALIDATE_IOMMU_PAGES (S, PDE, DomainID), INVALIDATE_IOMMU_ALL
//    (only with EFR.IASup), INVALIDATE_IOTLB_PAGES and INVALIDATE_INTERRUPT_TABLE
//    (accepted, nothing to do); reserved bits or an unknown opcode log
//    ILLEGAL_COMMAND_ERROR and stop the processor until CmdBufEn is cleared and set.
//
// Not modelled: interrupts (MSI, the *IntEn bits only stored), interrupt
// remapping, guest (GCR3/PASID) translation, PPR, ATS / remote IOTLBs, the HT
// tunnel, performance counters, MMIO beyond the first 16 KiB.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "arch/amd/iommu.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/pci_config.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim {

struct AmdIommuConfig {
  uint64_t mmio_base = 0xFED80000;  // QEMU's; 16 KiB aligned
  uint8_t bus = 0, device = 2, function = 0;
  // EFR (MMIO 0030h): INVALIDATE_IOMMU_ALL supported, host tables of up to 6 levels.
  uint64_t ext_features = arch::amd_iommu::ext_feature::kIaSup | arch::amd_iommu::ext_feature::kHats6Levels;
  size_t iotlb_capacity = 4096;  // entries; when full the cache is emptied (hardware may evict at will)
};

class AmdIommu final : public PciFunction, public DmaRemapper {
 public:
  static constexpr uint16_t kVendorId = 0x1022;  // AMD
  static constexpr uint16_t kDeviceId = 0x1419;  // family 15h IOMMU
  static constexpr uint8_t kCapOffset = 0x40;    // as QEMU

  AmdIommu(PhysicalMemory& mem, AmdIommuConfig cfg = {});
  void plug_into(PciConfigPorts& pci) { pci.attach(cfg_.bus, cfg_.device, cfg_.function, *this); }

  // PciFunction
  uint32_t config_read(uint8_t reg) override;
  void config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) override;

  // MMIO, offset inside the window: 1/2/4/8-byte reads; 4- and 8-byte naturally
  // aligned writes (narrower writes are dropped). Outside the registers: 0 / dropped.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);
  uint64_t mmio_base() const { return cfg_.mmio_base; }
  static constexpr uint64_t kMmioSize = arch::amd_iommu::kMmioSize;

  // DmaRemapper: nullopt = target abort (logged in the event log where the spec says so).
  std::optional<uint64_t> translate(uint16_t device_id, uint64_t addr, bool write) override;

  // Power-on state: registers cleared (the capability stays), caches empty.
  void reset();

  // For tests and the harness (not registers).
  struct Stats {
    uint64_t translations = 0, iotlb_hits = 0, dte_cache_hits = 0, pde_cache_hits = 0, walks = 0;
    uint64_t events_logged = 0, events_dropped = 0, commands = 0, illegal_commands = 0, iotlb_flushes_full = 0;
  };
  const Stats& stats() const { return stats_; }
  size_t iotlb_entries() const { return iotlb_.size(); }
  size_t dte_cache_entries() const { return dte_cache_.size(); }
  size_t pde_cache_entries() const { return pde_cache_.size(); }
  // Opcodes of the executed commands, in order (the last 4096).
  const std::vector<uint32_t>& executed() const { return executed_; }
  bool enabled() const { return control_ & arch::amd_iommu::control::kIommuEn; }
  // Called for every write the IOMMU itself makes to memory (event log entries,
  // COMPLETION_WAIT stores): those are not bus-master requests, the DEV does not see them.
  std::function<void(uint64_t pa, uint64_t n)> on_own_write;

 private:
  struct IotlbEntry {
    uint64_t pa_page;
    bool r, w;
  };
  using Dte = arch::amd_iommu::Dte;

  // amd_iommu.cpp: registers and commands
  uint64_t reg_read(uint32_t reg);  // 8-byte aligned register
  void reg_write(uint32_t reg, uint64_t value, uint64_t mask);
  void process_commands();
  bool execute(const arch::amd_iommu::Command& c, uint64_t at);  // false: illegal, stop
  void log_event(const arch::amd_iommu::Event& e);
  uint64_t status() const;

  // amd_iommu_walk.cpp: translation and caches
  std::optional<Dte> fetch_dte(uint16_t device_id, uint64_t addr, bool write);
  std::optional<uint64_t> walk(uint16_t device_id, const Dte& d, uint64_t addr, bool write);
  void page_fault(uint16_t device_id, const Dte& d, uint64_t addr, bool write, uint32_t flags);
  void invalidate_pages(uint16_t domain, uint64_t first, uint64_t last, bool pde);

  PhysicalMemory& mem_;
  AmdIommuConfig cfg_;
  uint16_t command_ = 0;  // PCI command register
  uint64_t dev_table_base_ = 0, cmd_base_ = 0, evt_base_ = 0, control_ = 0, excl_base_ = 0, excl_limit_ = 0;
  uint64_t cmd_head_ = 0, cmd_tail_ = 0, evt_head_ = 0, evt_tail_ = 0;
  bool evt_overflow_ = false, evt_int_ = false, com_wait_int_ = false;
  bool cmd_stopped_ = false;  // an illegal command halted the processor
  bool in_commands_ = false;

  std::unordered_map<uint16_t, Dte> dte_cache_;
  std::map<std::pair<uint16_t, uint64_t>, IotlbEntry> iotlb_;               // (DomainID, iova page)
  std::map<std::tuple<uint16_t, uint32_t, uint64_t>, uint64_t> pde_cache_;  // (DomainID, level, iova >> level shift) -> PDE
  Stats stats_;
  std::vector<uint32_t> executed_;
};

}  // namespace redoubt::sim
