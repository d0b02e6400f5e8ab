// Shadow paging: memory virtualization without nested paging (APM vol. 2 §15.25 off).
// The CPU walks tables the hypervisor builds (the shadow tables, in hypervisor memory,
// CR3 = their root) that map guest-virtual straight to host-physical: the composition of
// the guest's own tables (guest-virtual -> guest-physical, read from guest RAM) and the
// guest's memory map (guest-physical -> host-physical, the p2m; here the same 4-level
// tables nested paging would load, walked in software and never given to the CPU).
//
// The shadow is a virtual TLB filled on demand (docs/hypervisor.md "Shadow paging"):
//  - #PF intercepted: walk the guest tables; a fault by the guest's own tables is reflected
//    with the guest's error code and CR2; otherwise the guest's A (and D on a write) bits are
//    set, the guest-physical address goes through the p2m (unmapped: a violation, as #NPF
//    would be) and one shadow leaf (4 KiB, or 2 MiB where the guest and the p2m both map
//    2 MiB) is installed;
//  - guest page-table writes are not trapped: like the TLB (APM vol. 2 §5.5.3), the shadow
//    may keep a stale translation until INVLPG (drops that one) or a CR3 load (drops all);
//  - the pool is a fixed number of pages: when it is full everything is dropped and refilled
//    (a recycle); a guest that keeps doing it (a page-table bomb) is ended by the caller.
// Freestanding; errors as values.
#pragma once
#include <cstdint>

#include "hypervisor/core/page_table.hpp"
#include "hypervisor/core/phys_alloc.hpp"

namespace redoubt::hv {

class GuestMemory;

struct ShadowStats {
  uint64_t fills = 0;         // shadow leaves installed
  uint64_t guest_faults = 0;  // #PF reflected to the guest (its own tables said no)
  uint64_t flushes = 0;       // whole shadow dropped (CR3 load, CR0/CR4/EFER.NXE change)
  uint64_t invlpgs = 0;       // INVLPG emulated
  uint64_t walk_refs = 0;     // guest page-table entries read by the hypervisor's software walk
  uint64_t p2m_refs = 0;      // p2m entries read (guest-physical -> host-physical)
  uint64_t recycles = 0;      // pool full: dropped and refilled
  uint64_t dirty_upgrades = 0;  // a write to a clean page: guest D set, shadow leaf made writable
  uint64_t pages_peak = 0;    // pool pages in use at most
};

class ShadowPager {
 public:
  static constexpr uint64_t kPoolPages = 128;  // 512 KiB of hypervisor memory per guest, fixed

  // The pool comes from the hypervisor's allocator; p2m is the guest's memory map.
  Status create(PageAllocator& alloc, PageTableBuilder& p2m, const GuestMemory& mem, uint64_t guest_cr3);
  uint64_t root() const { return pool_pa_; }  // host-physical: what the CPU's CR3 holds
  uint64_t guest_cr3() const { return guest_cr3_; }
  const ShadowStats& stats() const { return st_; }

  void load_cr3(uint64_t cr3);  // MOV to CR3: the new guest root, every shadow translation dropped
  void flush();                 // drop every translation
  void invlpg(uint64_t gva);    // drop gva's translation

  enum class Fill : uint8_t {
    filled,       // a shadow leaf now maps gva: resume the guest
    guest_fault,  // the guest's tables fault: reflect #PF(error) with CR2 = gva
    violation,    // the guest's tables map gva to a guest-physical address outside its memory map
    table_outside,  // a guest page table lies outside its memory map (as #NPF during the walk)
    no_memory,    // the pool cannot hold one translation even when empty (cannot happen: 4 pages suffice)
  };
  struct Access {
    bool write, user, fetch;  // from the hardware #PF error code (APM vol. 2 §8.4.2)
    bool wp, nxe;             // guest CR0.WP and EFER.NXE
  };
  // A #PF intercepted at gva; error = guest #PF error code when guest_fault, gpa = the
  // guest-physical address (violation) or the table's (table_outside).
  Fill fault(uint64_t gva, const Access& a, uint32_t& error, uint64_t& gpa);

  // Teardown: zeroes the pool (the shadow tables name host-physical addresses of guest RAM).
  void scrub();
  // TEST ONLY (kHvTestShadowNoResync): INVLPG and CR3 loads keep the shadow (stale translations).
  void set_no_resync(bool v) { no_resync_ = v; }

 private:
  uint64_t* page(uint64_t index);  // the pool page at index (0 = the root)
  bool alloc_table(uint64_t& pa);  // false: pool full
  // Installs the leaf for gva -> hpa; false when the pool is full.
  bool install(uint64_t gva, uint64_t hpa, bool large, uint64_t flags);
  bool p2m(uint64_t gpa, uint64_t& hpa, uint64_t& size);

  PageAllocator* alloc_ = nullptr;
  PageTableBuilder* p2m_ = nullptr;
  const GuestMemory* mem_ = nullptr;
  uint64_t pool_pa_ = 0;
  uint64_t used_ = 0;  // pool pages in use (1: the root only)
  uint64_t guest_cr3_ = 0;
  bool no_resync_ = false;
  ShadowStats st_{};
};

}  // namespace redoubt::hv
