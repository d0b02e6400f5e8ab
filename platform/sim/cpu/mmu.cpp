// Address translation: the guest's 4-level page walk (APM vol. 2 §5.3-§5.4),
// nested paging through nCR3 (§15.25), the ASID-tagged TLB and the per-page
// fast path in front of it.
#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/x86/cpuid.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/cpu/cpuid_table.hpp"

namespace redoubt::sim::cpu {

using namespace redoubt::x86;
namespace npf = redoubt::svm::npf;

namespace {
constexpr unsigned kMaxPhysBits = kPhysAddrBits;  // CPUID Fn8000_0008 EAX[7:0] as we report it
const bool kPage1GbSupported = cpuid_leaf(x86::cpuid::kLeafExtFeatures).edx & x86::cpuid::kPage1Gb;
constexpr uint64_t kPhysRsvd = ((1ull << 52) - 1) & ~((1ull << kMaxPhysBits) - 1);  // bits 51:MAXPHYADDR

// Reserved bits of a present entry at `level` (4 = PML4E ... 1 = PTE), APM vol. 2 §5.3.3 / §5.4.
bool reserved(uint64_t e, int level, bool nxe) {
  if (e & kPhysRsvd) return true;
  if (!nxe && (e & kPteNx)) return true;
  if (level == 4 && (e & kPteLarge)) return true;
  // PS in a PDPTE maps 1 GiB when CPUID Fn8000_0001_EDX[Page1GB] is reported (it is: cpuid_table.cpp).
  if ((e & kPteLarge) && level == 3 && (!kPage1GbSupported || (e & 0x3FFFE000ull))) return true;  // bits 29:13
  if ((e & kPteLarge) && level == 2 && (e & 0x1FE000ull)) return true;    // 2 MiB: bits 20:13
  return false;
}
uint64_t load64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
void store64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
}  // namespace

uint64_t Cpu::nested_walk(uint64_t gpa, Access acc, bool walk, NestedResult& r) {
  r = NestedResult{};
  if (!(guest && ctl.np)) return gpa;
  if (ctl.ept) return ept_walk(gpa, acc, walk, r);  // Intel EPT (ept.cpp)
  // Nested table walks are user-level accesses (APM vol. 2 §15.25.5).
  const uint64_t kind = walk ? npf::kPageWalk : npf::kFinalAddress;
  const uint64_t err = npf::kUser | (acc == kWrite ? npf::kWrite : 0) | (acc == kFetch ? npf::kFetch : 0);
  uint64_t table = ctl.ncr3 & kPteAddrMask;
  uint8_t* ent[4];
  uint64_t val[4];
  int n = 0;
  bool w = true, u = true, nx = false;
  unsigned shift = 12;
  for (int level = 4; level >= 1; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    uint8_t* p = host_ptr(table + ((gpa >> sh) & 0x1FF) * 8, 8);
    if (!p) throw CpuError("nested page table outside RAM (nCR3 chain)");
    const uint64_t e = load64(p);
    ++counters.walk_refs;
    ++counters.nested_walk_refs;
    if (!(e & kPtePresent)) raise(NestedFault{err | kind, gpa});
    if (reserved(e, level, true)) raise(NestedFault{err | kind | npf::kPresent | npf::kReserved, gpa});
    w = w && (e & kPteWrite);
    u = u && (e & kPteUser);
    nx = nx || (e & kPteNx);
    ent[n] = p;
    val[n++] = e;
    if (level == 1 || ((level == 3 || level == 2) && (e & kPteLarge))) {
      shift = sh;
      break;
    }
    table = e & kPteAddrMask;
  }
  if (!u || (acc == kWrite && !w) || (acc == kFetch && nx))
    raise(NestedFault{err | kind | npf::kPresent, gpa});
  for (int i = 0; i < n; ++i) {
    uint64_t nv = val[i] | kPteAccessed;
    if (i == n - 1 && acc == kWrite) nv |= kPteDirty;
    if (nv != val[i]) store64(ent[i], nv);
  }
  const uint64_t leaf = val[n - 1];
  r.shift = shift;
  r.writable = w;
  r.nx = nx;
  r.dirty = (leaf & kPteDirty) || acc == kWrite;
  const uint64_t mask = (1ull << shift) - 1;
  return ((leaf & kPteAddrMask) & ~mask) | (gpa & mask);
}

uint64_t Cpu::nested_translate(uint64_t gpa, Access acc, bool walk) {
  NestedResult r;
  return nested_walk(gpa, acc, walk, r);
}

uint64_t Cpu::walk(uint64_t va, Access acc, bool user, TlbEntry& out) {
  ++counters.walks;
  walk_va = va;
  const uint64_t refs0 = counters.walk_refs;
  const bool nxe = efer & kEferNxe;
  uint64_t gpa;
  unsigned shift = 30;
  bool w = true, u = true, nx = false, global = false, dirty = true;
  if (cr0 & kCr0Pg) {
    const uint32_t err = (acc == kWrite ? kPfWrite : 0) | (user ? kPfUser : 0) | (acc == kFetch && nxe ? kPfFetch : 0);
    auto pf = [&](uint32_t e) { raise(GuestFault{14, true, e, va}); };
    uint64_t table = cr3 & kPteAddrMask;
    uint64_t egpa[4], val[4];
    uint8_t* eptr[4];
    bool ewr[4], enx[4];
    int n = 0;
    for (int level = 4; level >= 1; --level) {
      const unsigned sh = 12 + 9 * (level - 1);
      const uint64_t a = table + ((va >> sh) & 0x1FF) * 8;
      NestedResult nr;
      uint8_t* p = host_ptr(nested_walk(a, kRead, true, nr), 8);
      const uint64_t e = p ? load64(p) : 0;
      ++counters.walk_refs;
      if (!(e & kPtePresent)) pf(err);
      if (reserved(e, level, nxe)) pf(err | kPfPresent | kPfReserved);
      w = w && (e & kPteWrite);
      u = u && (e & kPteUser);
      nx = nx || (nxe && (e & kPteNx));
      egpa[n] = a;
      eptr[n] = p;
      ewr[n] = nr.writable;
      enx[n] = nr.nx;
      val[n++] = e;
      if (level == 1 || ((level == 3 || level == 2) && (e & kPteLarge))) {
        shift = sh;
        break;
      }
      table = e & kPteAddrMask;
    }
    // Permission checks (APM vol. 2 §5.6): U/S, R/W with CR0.WP for supervisor writes, NX on fetch.
    if (user && !u) pf(err | kPfPresent);
    if (acc == kWrite && !w && (user || (cr0 & kCr0Wp))) pf(err | kPfPresent);
    if (acc == kFetch && nx) pf(err | kPfPresent);
    // Accessed bits on every level, dirty on the leaf for writes (§5.4.2); the
    // update is a write through the nested tables.
    for (int i = 0; i < n; ++i) {
      uint64_t nv = val[i] | kPteAccessed;
      if (i == n - 1 && acc == kWrite) nv |= kPteDirty;
      if (nv != val[i]) {
        // The update is a write to the guest table page: it needs nested write permission
        // (the nested translation itself was made, and counted, by the read above).
        if (guest && ctl.np && !ewr[i]) nested_ad_fault(egpa[i], enx[i]);
        store64(eptr[i], nv);
      }
    }
    const uint64_t leaf = val[n - 1];
    global = (leaf & kPteGlobal) && (cr4 & kCr4Pge);
    dirty = (leaf & kPteDirty) || acc == kWrite;
    const uint64_t mask = (1ull << shift) - 1;
    gpa = ((leaf & kPteAddrMask) & ~mask) | (va & mask);
  } else {
    gpa = va;
  }
  NestedResult nr;
  const uint64_t hpa = nested_walk(gpa, acc, false, nr);
  counters.last_walk_refs = counters.walk_refs - refs0;
  const unsigned s = shift < nr.shift ? shift : nr.shift;
  out.size_shift = uint8_t(s);
  out.pa_page = hpa & ~((1ull << s) - 1);
  out.writable = w;
  out.user = u;
  out.nx = nx || (guest && ctl.np && nr.nx);
  out.dirty = dirty && nr.dirty;
  out.global = global;
  out.host_writable = nr.writable;
  return hpa;
}

uint64_t Cpu::translate(uint64_t va, Access acc, bool implicit_supervisor) {
  if (mode_ != Mode::long64) {
    va = uint32_t(va);  // outside 64-bit mode linear addresses are 32 bits and wrap (APM vol. 2 §4.3)
  } else if (uint64_t(int64_t(va << 16) >> 16) != va) {
    raise(GuestFault{13, true, 0, va});  // non-canonical (§5.3.1)
  }
  const bool user = cpl == 3 && !implicit_supervisor && !implicit_sup;
  if (auto e = tlb.lookup(asid, va)) {
    const bool ok = !(user && !e->user) && !(acc == kWrite && !e->writable && (user || (cr0 & kCr0Wp))) &&
                    !(acc == kFetch && e->nx) && !(acc == kWrite && (!e->dirty || !e->host_writable));
    if (ok) {
      ++asid_counters().tlb_hits;
      return e->pa_page | (va & ((1ull << e->size_shift) - 1));
    }
  }
  ++asid_counters().tlb_misses;
  TlbEntry ne;
  const uint64_t pa = walk(va, acc, user, ne);
  tlb.insert(asid, va, ne);
  return pa;
}

void Cpu::fill_soft_tlb(uint64_t va, uint64_t hpa, bool writable) {
  if (implicit_sup) return;  // supervisor-only rights must not leak to the CPL's fast path
  uint8_t* host = host_ptr(hpa & ~0xFFFull, 4096);
  if (!host) return;
  SoftTlb& e = stlb_[(va >> 12) & (kStlb - 1)];
  const uint64_t page = va & ~0xFFFull;
  ++counters.soft_tlb_fills;
  if (e.host != host || e.tag_r != page) e.tag_w = 1;
  e.tag_r = page;
  e.host = host;
  const uint64_t pg = hpa >> 12;
  if (writable && !(pg < code_pages_.size() && code_pages_[pg])) e.tag_w = page;
}

uint64_t Cpu::rd_slow(uint64_t va, unsigned n) {
  if ((va & 0xFFF) + n > 4096) {  // straddles two pages: translate both before reading
    const uint64_t first = 4096 - (va & 0xFFF);
    const uint64_t lo = rd_slow(va, unsigned(first));
    const uint64_t hi = rd_slow(va + first, unsigned(n - first));
    return lo | (hi << (8 * first));
  }
  const uint64_t hpa = translate(va, kRead);
  const uint8_t* p = host_ptr(hpa, n);
  if (!p) {  // not RAM: a device register, or nothing (the bus floats high)
    uint64_t v = ~0ull;
    if (mmio && mmio->mmio_read(hpa, n, v)) return n == 8 ? v : v & ((1ull << (8 * n)) - 1);
    return ~0ull;
  }
  fill_soft_tlb(va, hpa, false);
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

void Cpu::wr_slow(uint64_t va, unsigned n, uint64_t v) {
  if ((va & 0xFFF) + n > 4096) {
    const uint64_t first = 4096 - (va & 0xFFF);
    translate(va, kWrite);
    translate(va + first, kWrite);
    wr_slow(va, unsigned(first), v);
    wr_slow(va + first, unsigned(n - first), v >> (8 * first));
    return;
  }
  const uint64_t hpa = translate(va, kWrite);
  uint8_t* p = host_ptr(hpa, n);
  if (!p) {  // not RAM: a device register, or nothing (the write is dropped)
    if (mmio) mmio->mmio_write(hpa, n, n == 8 ? v : v & ((1ull << (8 * n)) - 1));
    return;
  }
  note_code_write(hpa);
  std::memcpy(p, &v, n);
  fill_soft_tlb(va, hpa, true);
}

// ---- soft-TLB banks: one per (ASID, user) context ----
// An entry caches a translation the ASID-tagged TLB holds plus the permission check made at
// the CPL it was filled at; it stays valid as long as that TLB entry does, so the bank is
// flushed exactly when the TLB entries of its ASID are (TLB_CONTROL, INVLPG(A), MOV CR3/CR0/CR4).

void Cpu::clear_bank(SoftTlbBank& b) {
  if (b.last_use != 0)  // never selected: its entries were never filled
    for (auto& e : b.e) e = SoftTlb{};
  b.gen = ++gen_counter_;
}

void Cpu::regen_all_banks() {
  for (unsigned i = 0; i < kBanks; ++i) banks_[i].gen = ++gen_counter_;
  jc_gen_ = bank_->gen;
}

void Cpu::select_context() {
  const bool user = cpl == 3;
  SoftTlbBank* b = bank_;
  if (!b || b->asid != asid || b->user != user) {
    b = nullptr;
    SoftTlbBank* victim = &banks_[0];
    for (unsigned i = 0; i < kBanks; ++i) {
      SoftTlbBank& k = banks_[i];
      if (k.asid == asid && k.user == user) {
        b = &k;
        break;
      }
      if (k.last_use < victim->last_use) victim = &k;
    }
    if (!b) {  // least recently used context gives its bank up
      b = victim;
      clear_bank(*b);
      b->asid = asid;
      b->user = user;
    }
  }
  b->last_use = ++bank_clock_;
  bank_ = b;
  stlb_ = b->e;
  jc_gen_ = b->gen;
}

void Cpu::flush_soft_tlb() {
  for (unsigned i = 0; i < kBanks; ++i) clear_bank(banks_[i]);
  select_context();
}

void Cpu::flush_soft_tlb_asid(uint32_t a) {
  for (unsigned i = 0; i < kBanks; ++i)
    if (banks_[i].asid == a) clear_bank(banks_[i]);
  select_context();
}

void Cpu::flush_tlb_nonglobal() { tlb_flush_asid(asid, true); }

void Cpu::flush_tlb_all_current() { tlb_flush_asid(asid, false); }

void Cpu::invlpg(uint64_t va) { tlb_flush_va(asid, va); }

void Cpu::set_cpl(uint8_t c) {
  if (c != cpl) {
    cpl = c;
    select_context();
  }
}

Segment Cpu::read_descriptor(uint16_t sel) {
  if (sel & 4) gp(sel & 0xFFFC);  // LDT descriptors are not modelled
  const uint32_t idx = sel & 0xFFF8u;
  if (idx + 7 > gdtr.limit) gp(sel & 0xFFFC);
  const bool saved = implicit_sup;
  implicit_sup = true;
  uint64_t d;
  const NoJump nj(*this);  // the catch below restores implicit_sup: this scope throws
  try {
    d = rd<uint64_t>(gdtr.base + idx);
  } catch (...) {
    implicit_sup = saved;
    throw;
  }
  implicit_sup = saved;
  Segment s;
  s.selector = sel;
  s.attrib = x86::desc_attrib(d);
  s.base = x86::desc_base(d);
  s.limit = x86::desc_limit(d);
  return s;
}

void Cpu::set_descriptor_accessed(uint16_t sel) {
  // Loading a segment register sets the descriptor's accessed bit (APM vol. 2 §4.7.2); the
  // selector was checked by read_descriptor. Byte 5 holds the type.
  const uint64_t a = gdtr.base + (sel & 0xFFF8u) + 5;
  const bool saved = implicit_sup;
  implicit_sup = true;
  const NoJump nj(*this);  // the catch below restores implicit_sup: this scope throws
  try {
    const uint8_t type = rd<uint8_t>(a);
    if (!(type & 1)) wr<uint8_t>(a, uint8_t(type | 1));
  } catch (...) {
    implicit_sup = saved;
    throw;
  }
  implicit_sup = saved;
}

}  // namespace redoubt::sim::cpu
