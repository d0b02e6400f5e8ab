#include "hypervisor/core/shadow_paging.hpp"

#include <cstring>

#include "hypervisor/core/vm.hpp"

namespace redoubt::hv {

using namespace x86;

namespace {
// Reserved bits of a present guest entry at `level` (4 = PML4E .. 1 = PTE), APM vol. 2 §5.3.3 / §5.4.
bool reserved(uint64_t e, int level, bool nxe) {
  if (!nxe && (e & kPteNx)) return true;
  if (level == 4 && (e & kPteLarge)) return true;
  if ((e & kPteLarge) && level == 3 && (e & 0x3FFFE000ull)) return true;  // 1 GiB: bits 29:13
  if ((e & kPteLarge) && level == 2 && (e & 0x1FE000ull)) return true;    // 2 MiB: bits 20:13
  return false;
}
constexpr uint64_t kShadowTableFlags = kPtePresent | kPteWrite | kPteUser;  // the leaf decides
}  // namespace

Status ShadowPager::create(PageAllocator& alloc, PageTableBuilder& p2m, const GuestMemory& mem, uint64_t guest_cr3) {
  alloc_ = &alloc;
  p2m_ = &p2m;
  mem_ = &mem;
  REDOUBT_TRY(alloc.alloc(kPoolPages, 1, pool_pa_, "shadow page tables"));
  used_ = 1;  // page 0: the root (PML4), zeroed by the allocator
  st_.pages_peak = 1;
  guest_cr3_ = guest_cr3;
  return Status::ok();
}

uint64_t* ShadowPager::page(uint64_t index) {
  return reinterpret_cast<uint64_t*>(alloc_->map(pool_pa_ + index * 4096, 4096));
}

bool ShadowPager::alloc_table(uint64_t& pa) {
  if (used_ == kPoolPages) return false;
  pa = pool_pa_ + used_ * 4096;
  std::memset(page(used_), 0, 4096);
  ++used_;
  if (used_ > st_.pages_peak) st_.pages_peak = used_;
  return true;
}

void ShadowPager::flush() {
  std::memset(page(0), 0, used_ * 4096);  // contiguous pool: the root and every table in use
  used_ = 1;
  ++st_.flushes;
}

void ShadowPager::load_cr3(uint64_t cr3) {
  guest_cr3_ = cr3;
  if (!no_resync_) flush();
}

void ShadowPager::invlpg(uint64_t gva) {
  ++st_.invlpgs;
  if (no_resync_) return;  // TEST ONLY: the stale translation stays
  uint64_t* t = page(0);
  for (int level = 4; level >= 1; --level) {
    const unsigned shift = 12 + 9 * (level - 1);
    uint64_t& e = t[(gva >> shift) & 0x1FF];
    if (!(e & kPtePresent)) return;
    if (level == 1 || (e & kPteLarge)) {
      e = 0;
      return;
    }
    t = reinterpret_cast<uint64_t*>(alloc_->map(e & kPteAddrMask, 4096));
  }
}

bool ShadowPager::p2m(uint64_t gpa, uint64_t& hpa, uint64_t& size) {
  ++st_.p2m_refs;
  Leaf l;
  if (!p2m_->translate(gpa, l)) return false;
  hpa = l.pa + (gpa - l.va);
  size = l.size;
  return true;
}

bool ShadowPager::install(uint64_t gva, uint64_t hpa, bool large, uint64_t flags) {
  uint64_t* t = page(0);
  const int last = large ? 2 : 1;
  for (int level = 4; level > last; --level) {
    const unsigned shift = 12 + 9 * (level - 1);
    uint64_t& e = t[(gva >> shift) & 0x1FF];
    if (!(e & kPtePresent) || (e & kPteLarge)) {  // a large leaf where a table is needed: stale, replaced
      uint64_t pa;
      if (!alloc_table(pa)) return false;
      e = pa | kShadowTableFlags;
    }
    t = reinterpret_cast<uint64_t*>(alloc_->map(e & kPteAddrMask, 4096));
  }
  const unsigned shift = large ? 21 : 12;
  // Accessed and dirty are set in the shadow leaf: the guest's own bits are the ones that count.
  t[(gva >> shift) & 0x1FF] = (hpa & kPteAddrMask) | flags | kPtePresent | kPteAccessed | kPteDirty |
                              (large ? kPteLarge : 0);
  ++st_.fills;
  return true;
}

ShadowPager::Fill ShadowPager::fault(uint64_t gva, const Access& a, uint32_t& error, uint64_t& gpa) {
  // 1. The guest's own walk (APM vol. 2 §5.3), with its permission rules (§5.6).
  const uint32_t err = (a.write ? kPfWrite : 0) | (a.user ? kPfUser : 0) | (a.fetch && a.nxe ? kPfFetch : 0);
  uint64_t table = guest_cr3_ & kPteAddrMask;
  uint64_t* ent[4];
  uint64_t val[4];
  int n = 0;
  bool w = true, u = true, nx = false;
  unsigned shift = 12;
  for (int level = 4; level >= 1; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    const uint64_t egpa = table + ((gva >> sh) & 0x1FF) * 8;
    auto* p = reinterpret_cast<uint64_t*>(mem_->ptr(egpa, 8));
    if (!p) {
      gpa = egpa;
      return Fill::table_outside;
    }
    const uint64_t e = *p;
    ++st_.walk_refs;
    if (!(e & kPtePresent)) {
      error = err;
      ++st_.guest_faults;
      return Fill::guest_fault;
    }
    if (reserved(e, level, a.nxe)) {
      error = err | kPfPresent | kPfReserved;
      ++st_.guest_faults;
      return Fill::guest_fault;
    }
    w = w && (e & kPteWrite);
    u = u && (e & kPteUser);
    nx = nx || (a.nxe && (e & kPteNx));
    ent[n] = p;
    val[n++] = e;
    if (level == 1 || ((level == 3 || level == 2) && (e & kPteLarge))) {
      shift = sh;
      break;
    }
    table = e & kPteAddrMask;
  }
  if ((a.user && !u) || (a.write && !w && (a.user || a.wp)) || (a.fetch && nx)) {
    error = err | kPfPresent;
    ++st_.guest_faults;
    return Fill::guest_fault;
  }
  // 2. The guest's accessed bits on every level, dirty on the leaf for a write (§5.4.2).
  const uint64_t leaf = val[n - 1];
  if (a.write && !(leaf & kPteDirty)) ++st_.dirty_upgrades;
  for (int i = 0; i < n; ++i) {
    uint64_t nv = val[i] | kPteAccessed;
    if (i == n - 1 && a.write) nv |= kPteDirty;
    if (nv != val[i]) *ent[i] = nv;
  }
  const uint64_t gmask = (1ull << shift) - 1;
  gpa = ((leaf & kPteAddrMask) & ~gmask) | (gva & gmask);
  // 3. Guest-physical -> host-physical through the guest's memory map.
  uint64_t hpa, psize;
  if (!p2m(gpa, hpa, psize)) return Fill::violation;
  // A 2 MiB shadow leaf where the guest maps at least 2 MiB and the p2m maps the whole
  // 2 MiB around gpa contiguously; 4 KiB otherwise.
  const bool large = shift >= 21 && psize >= kPageSize2M && ((hpa ^ gpa) & (kPageSize2M - 1)) == 0;
  // Writable only once the guest's leaf is dirty: the first write faults and sets D above.
  const bool dirty = (leaf & kPteDirty) || a.write;
  const uint64_t flags = (w && dirty ? kPteWrite : 0) | (u ? kPteUser : 0) | (nx ? kPteNx : 0);
  const uint64_t target = large ? hpa & ~(kPageSize2M - 1) : hpa & ~0xFFFull;
  const uint64_t va = large ? gva & ~(kPageSize2M - 1) : gva & ~0xFFFull;
  if (!install(va, target, large, flags)) {
    // Pool full: drop everything and refill this one translation (at most 4 pages).
    flush();
    --st_.flushes;
    ++st_.recycles;
    if (!install(va, target, large, flags)) return Fill::no_memory;
  }
  return Fill::filled;
}

void ShadowPager::scrub() {
  if (!alloc_ || !pool_pa_) return;
  std::memset(page(0), 0, kPoolPages * 4096);
  used_ = 1;
}

}  // namespace redoubt::hv
