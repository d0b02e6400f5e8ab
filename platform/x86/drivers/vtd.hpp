// Intel VT-d DMA-remapping driver (legacy-mode root/context tables, second-level
// tables, register-based invalidation, primary fault recording, PMRs) and the
// hal::DmaProtection on top: the Intel counterpart of amd_iommu.
//
// The hand-off from TXT's Protected Memory Regions to translation leaves no
// window (docs/dma.md "VT-d"): SINIT leaves the PMRs covering the measured
// image; enable() checks they cover the hypervisor and the driver's own tables,
// installs a root table with no present entry (every requester blocked, fault
// reason 1h), invalidates the context cache and IOTLB globally, turns
// translation on, checks the root table was not changed, and only then releases
// the PMRs. grant() gives a device a domain of its own (a 4-level second-level
// table) over chosen pages; every change is followed by the invalidation that
// makes it visible. Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arch/intel/vtd.hpp"
#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/amd_dev.hpp"  // PhysRange
#include "platform/x86/drivers/io.hpp"

namespace redoubt::x86 {

// One recorded fault (§10.4.14).
struct VtdFault {
  uint16_t sid;     // requester: bus << 8 | device << 3 | function
  uint8_t reason;   // Appendix A (arch::vtd::FaultReason)
  bool write;
  uint64_t page;    // the faulting address, 4 KiB granular
};

class VtdHw {
 public:
  // `regs`: the register page for tests; null = volatile MMIO at `base`. `io`: PCI
  // configuration cycles, for device_window() (assignment); null = no assignment.
  explicit VtdHw(hal::PhysMem& mem, Mmio* regs = nullptr, uint64_t base = arch::vtd::kDefaultBase, PortBus* io = nullptr)
      : mem_(mem), vregs_(base), regs_(regs ? regs : &vregs_), base_(base), io_(io) {}

  // Reads VER/CAP/ECAP and checks what the driver needs: legacy mode with 4-level tables
  // (SAGAW bit 2), the IOTLB and fault recording registers inside the page, PLMR.
  Status probe();

  // What SINIT does (Intel TXT MLE Developer's Guide: the PMRs cover the MLE) and what a
  // platform without TXT does first: PMRs over [low_base, +low_size) and [high_base,
  // +high_size) (2 MiB granular; size 0 = that region off), then PMEN.EPM, waiting for PRS.
  Status set_pmrs(uint64_t low_base, uint64_t low_size, uint64_t high_base, uint64_t high_size);
  // Whether the enabled PMRs, as the registers say, cover all of [pa, pa + n).
  bool pmr_covers(uint64_t pa, uint64_t n);
  // PMEN.PRS: the PMRs are enabled (§10.4.16; SINIT leaves them so after SENTER).
  bool pmr_enabled() { return regs().read32(arch::vtd::reg::kPmen) & arch::vtd::pmen::kPrs; }

  // The enable protocol. root_pa: a 4 KiB page for the root table; `hv` the ranges the
  // PMRs must already cover (the hypervisor, its stacks and tables); the root table and the
  // page-table pool (set_page_table_pool first) must be covered too.
  enum : uint32_t {
    kKeepPmr = 1u << 0,           // leave the PMRs on after translation is enabled
    kTestPmrOffFirst = 1u << 1,   // TEST ONLY: release the PMRs before translation is on (the window)
  };
  Status enable(uint64_t root_pa, const PhysRange* hv, size_t n_hv, uint32_t flags = 0);

  // Memory (4 KiB aligned) the context and second-level tables are built in. Refused once
  // tables were built in the current pool (they stay in use: a grant could cover them).
  Status set_page_table_pool(uint64_t pa, uint64_t size);
  // Lets `sid` DMA to [pa, pa + size) at I/O virtual address iova (4 KiB granular, 48-bit)
  // in domain `did` (0: a fresh one); the device's context entry goes from not present to
  // a 4-level second-level table. Invalidates the device's context entry and the domain's
  // IOTLB entries. A page already mapped is remapped (and invalidated).
  Status grant(uint16_t sid, uint64_t iova, uint64_t pa, uint64_t size, bool read, bool write, uint16_t did = 0);
  // Unmaps [iova, +size) of `sid`'s domain: leaf entries cleared, then a page-selective
  // IOTLB invalidation of each page (domain-selective without CAP.PSI).
  Status unmap(uint16_t sid, uint64_t iova, uint64_t size);
  // Context entry not present again, device-selective context-cache and domain-selective
  // IOTLB invalidation, tables zeroed. invalidate = false is TEST ONLY (the stale caches stay).
  Status revoke(uint16_t sid, bool invalidate = true);
  // Global context-cache and IOTLB invalidation, waited for.
  Status invalidate_all();
  // The device at `sid` if it is a Redoubt DMA engine (abi/dma_engine.hpp) or QEMU's edu
  // with Memory Space on and a 32-bit memory BAR0: its BAR (as AmdIommuHw::engine_bar; edu
  // also gets Bus Master on, while the device is still blocked).
  Status engine_bar(uint16_t sid, uint64_t& bar_pa, uint64_t& bar_size);

  // Copies up to `max` pending faults out of the fault recording registers (from FSTS.FRI),
  // clearing each F; PFO is reported by fault_overflow() and cleared by clear_overflow().
  size_t read_faults(VtdFault* out, size_t max);
  bool fault_overflow();
  void clear_overflow();

  // True while [pa, pa + n) is closed to every device: by translation (on, and no grant
  // overlaps) or by the PMRs.
  bool covered(uint64_t pa, uint64_t n);

  uint64_t cap() const { return cap_; }
  uint64_t ecap() const { return ecap_; }
  bool enabled() const { return enabled_; }
  uint64_t mmio_base() const { return base_; }
  static constexpr size_t kMaxGrants = 16;

 private:
  Mmio& regs() { return *regs_; }
  uint64_t read64(uint32_t off);
  void write64(uint32_t off, uint64_t v);
  Status gcmd(uint32_t bit, bool on);  // one GCMD command, waited for in GSTS
  Status context_invalidate(uint64_t ccmd);
  Status iotlb_invalidate(uint64_t iotlb, uint64_t iva = 0);
  uint64_t* alloc_table(uint64_t& pa);
  uint64_t* table_at(uint64_t pa) { return reinterpret_cast<uint64_t*>(mem_.map(pa, 4096)); }
  arch::vtd::Entry128* context_entry(uint16_t sid, bool create);
  void zero_tables(uint64_t pa, uint32_t level);

  hal::PhysMem& mem_;
  VolatileMmio vregs_;
  Mmio* regs_;
  uint64_t base_;
  PortBus* io_;
  uint64_t cap_ = 0, ecap_ = 0;
  uint32_t iotlb_off_ = 0, frcd_off_ = 0, nfr_ = 0;
  bool enabled_ = false;
  uint64_t root_pa_ = 0, pool_pa_ = 0, pool_size_ = 0, pool_used_ = 0;
  uint16_t next_did_ = 1;
  struct Grant {
    uint16_t sid;
    uint64_t pa, size;
  };
  Grant grants_[kMaxGrants]{};
  size_t n_grants_ = 0;
};

// The hal::DmaProtection (the hypervisor on an Intel platform).
class Vtd final : public VtdHw, public hal::DmaProtection {
 public:
  using VtdHw::VtdHw;
  Status protect(uint64_t pa, uint64_t n) override {
    if (n == 0 || covered(pa, n)) return Status::ok();
    return Status::fail(Err::internal, "VT-d: [0x%llx, +0x%llx) is not protected (translation off, granted, or outside the PMRs)",
                        (unsigned long long)pa, (unsigned long long)n);
  }
  bool is_protected(uint64_t pa, uint64_t n) override { return covered(pa, n); }
  Status set_domain_pool(uint64_t pa, uint64_t size) override { return set_page_table_pool(pa, size); }
  Status assign(uint16_t device_id, uint16_t domain_id, uint64_t iova, uint64_t pa, uint64_t size) override {
    return grant(device_id, iova, pa, size, true, true, domain_id);
  }
  Status unassign(uint16_t device_id, bool invalidate) override { return revoke(device_id, invalidate); }
  Status device_window(uint16_t device_id, uint64_t& pa, uint64_t& size) override { return engine_bar(device_id, pa, size); }
};

}  // namespace redoubt::x86
