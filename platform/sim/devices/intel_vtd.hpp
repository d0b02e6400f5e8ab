// A simulated Intel VT-d DMA-remapping unit (Intel VT-d Architecture
// Specification, rev 3.x/4.x; layouts and section numbers in arch/intel/vtd.hpp).
//
// One unit covering every requester (a DRHD with INCLUDE_PCI_ALL, §8.3) at MMIO
// 0xFED90000 (QEMU's intel-iommu address), its registers where QEMU puts them
// (IOTLB registers at 0x200, eight fault recording registers at 0x220).
//
// Modelled (docs/dma.md "VT-d model"):
//  * Registers (§10.4): VER, CAP, ECAP (configurable, read-only), GCMD/GSTS
//    (TE/TES, SRTP/RTPS; the other commands are unsupported by CAP/ECAP and
//    ignored), RTADDR (legacy TTM only), CCMD (global / domain / device-selective
//    with function mask, CAIG reported, reserved granularity rejected), IVA +
//    IOTLB_REG (global / domain / page-selective with AM <= MAMV; rejected
//    without CAP.PSI), FSTS (PFO, PPF, FRI), FECTL (IM), the fault recording
//    registers (§10.4.14, F RW1C), PMEN/PLMBASE/PLMLIMIT/PHMBASE/PHMLIMIT.
//  * Translation of every bus-master request (sim::DmaRemapper, once per 4 KiB
//    piece): with TES = 0 the address passes; with TES = 1 root entry (§9.1) ->
//    context entry (§9.3: P, FPD, TT 00b/01b/10b, AW, DID) -> second-level walk
//    of 3 or 4 levels per the context's AW and CAP.SAGAW (§9.8: R/W ANDed down
//    the walk, 2 MiB / 1 GiB pages where CAP.SLLPS allows, reserved bits).
//  * Protected Memory Regions (§10.4.16-§10.4.20): with PMEN.EPM set a request
//    whose output address lies in the low or high region is blocked whether or
//    not translation is on. For remapped requests the spec lets hardware block
//    or not; this model blocks (the driver never relies on it). The unit's own
//    table reads are not subject to the PMRs (§10.4.16).
//  * Faults (§7.2.1 primary fault logging, Appendix A reasons): recorded in the
//    next fault recording register; if that one still holds an unread fault, PFO
//    is set and the fault is lost. FPD in a present context entry suppresses
//    recording (the request is still blocked).
//  * Caches: a context cache (per source-id, present entries only: CAP.CM = 0)
//    and an IOTLB (per domain-id and 4 KiB page). SRTP, TE and table writes do
//    not touch them; only CCMD / IOTLB_REG invalidations (or a reset) do, so a
//    stale context entry or mapping is observable.
//
// Not modelled: queued invalidation, interrupt remapping, scalable mode,
// PASIDs, device TLBs (ATS), fault events (interrupts), the advanced fault log,
// write-buffer flushing, paging-structure caches, 5-level tables.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>

#include "arch/intel/vtd.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim {

namespace vtd_defaults {
namespace c = arch::vtd::cap;
// 256 domains (ND = 2), PMRs low and high, 3- and 4-level tables, MGAW 48, fault recording
// at 0x220, 2 MiB and 1 GiB pages, page-selective invalidation, 8 fault records, MAMV 18.
inline constexpr uint64_t kCap = 2 | c::kPlmr | c::kPhmr | c::kSagaw39 | c::kSagaw48 | (47ull << c::kMgawShift) |
                                 (uint64_t{arch::vtd::reg::kFrcdQemu / 16} << c::kFroShift) | c::kSllps2M |
                                 c::kSllps1G | c::kPsi | (7ull << c::kNfrShift) | (18ull << c::kMamvShift);
// Pass-through supported, IOTLB registers at 0x200.
inline constexpr uint64_t kEcap = arch::vtd::ecap::kPt | (uint64_t{arch::vtd::reg::kIvaQemu / 16} << arch::vtd::ecap::kIroShift);
}  // namespace vtd_defaults

struct IntelVtdConfig {
  uint64_t mmio_base = arch::vtd::kDefaultBase;
  uint64_t cap = vtd_defaults::kCap;
  uint64_t ecap = vtd_defaults::kEcap;
  size_t iotlb_capacity = 4096;  // entries; when full the cache is emptied
};

class IntelVtd final : public DmaRemapper {
 public:
  explicit IntelVtd(PhysicalMemory& mem, IntelVtdConfig cfg = {});

  // MMIO relative to the base: 4-byte accesses to any register, 8-byte to the 64-bit ones
  // (a 64-bit register written as two dwords acts on the write of its upper half). Anything
  // else reads 0 / is dropped.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);
  uint64_t mmio_base() const { return cfg_.mmio_base; }
  static constexpr uint64_t kMmioSize = arch::vtd::kMmioSize;

  // DmaRemapper: nullopt = blocked (a fault recorded where the spec says so).
  std::optional<uint64_t> translate(uint16_t sid, uint64_t addr, bool write) override;

  // Power-on state: registers at their reset values, caches empty, fault records clear.
  void reset();

  // Whether `pa` lies in an enabled protected memory region.
  bool in_pmr(uint64_t pa) const;

  // For tests and the harness (not registers).
  struct Stats {
    uint64_t translations = 0, context_cache_hits = 0, iotlb_hits = 0, walks = 0, faults = 0, faults_recorded = 0,
             faults_lost = 0, faults_suppressed = 0, pmr_blocked = 0, context_invalidations = 0, iotlb_invalidations = 0,
             rejected_invalidations = 0, iotlb_flushes_full = 0;
  };
  const Stats& stats() const { return stats_; }
  size_t context_cache_entries() const { return ctx_cache_.size(); }
  size_t iotlb_entries() const { return iotlb_.size(); }
  bool translation_enabled() const { return gsts_ & arch::vtd::gcmd::kTe; }
  bool pmr_enabled() const { return pmen_ & arch::vtd::pmen::kEpm; }

 private:
  using Entry = arch::vtd::Entry128;
  struct IotlbEntry {
    uint64_t pa_page;
    bool r, w;
  };

  // intel_vtd.cpp: registers
  uint64_t slot_read(uint32_t slot);
  void slot_write(uint32_t slot, uint64_t value, uint64_t mask);
  void gcmd_write(uint32_t v);
  void context_invalidate();
  void iotlb_invalidate();
  uint32_t fsts() const;
  uint32_t nfr() const { return arch::vtd::cap::nfr(cfg_.cap); }

  // intel_vtd_walk.cpp: translation, caches, faults
  bool context_for(uint16_t sid, uint64_t addr, bool write, Entry& ce);
  std::optional<uint64_t> walk(uint16_t sid, const Entry& ce, uint64_t addr, bool write);
  void fault(uint16_t sid, uint64_t addr, bool write, uint8_t reason, bool fpd = false);

  PhysicalMemory& mem_;
  IntelVtdConfig cfg_;
  uint32_t iva_off_, frcd_off_;
  uint32_t gsts_ = 0, fectl_ = 0, fedata_ = 0, feaddr_ = 0, feuaddr_ = 0, pmen_ = 0, plmbase_ = 0, plmlimit_ = 0;
  uint64_t rtaddr_ = 0, active_root_ = 0, ccmd_ = 0, iva_ = 0, iotlb_reg_ = 0, phmbase_ = 0, phmlimit_ = 0;
  bool pfo_ = false;
  uint32_t fri_ = 0;  // the next fault recording register hardware writes
  std::array<Entry, 256> frcd_{};

  std::unordered_map<uint16_t, Entry> ctx_cache_;                    // source-id -> present context entry
  std::map<std::pair<uint16_t, uint64_t>, IotlbEntry> iotlb_;        // (domain-id, page) -> leaf
  Stats stats_;
};

}  // namespace redoubt::sim
