// The shadow pager on its own (hypervisor/core/shadow_paging.cpp), no CPU model: the guest's
// #PF reflected with the error code the guest's own tables call for (APM vol. 2 §8.4.2, §5.6),
// the guest's A/D bits, 4 KiB and 2 MiB shadow leaves through the p2m, violations, INVLPG and
// CR3 resync (and its test-only absence), and the fixed pool.
#define BOOST_TEST_MODULE shadow_pager
#include <boost/test/unit_test.hpp>
#include <vector>

#include "hypervisor/core/shadow_paging.hpp"
#include "hypervisor/core/vm.hpp"

using namespace redoubt;
using namespace redoubt::hv;
using namespace redoubt::x86;

namespace {

class TestMem final : public hal::PhysMem {
 public:
  explicit TestMem(uint64_t size) : b_(size, 0xCC) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return pa <= b_.size() && n <= b_.size() - pa ? b_.data() + pa : nullptr; }
  std::vector<uint8_t> b_;
};

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kRamHpa = 4 * kMiB, kRam = 4 * kMiB;  // guest-physical [0, 4 MiB) -> host [4 MiB, 8 MiB)
using Fill = ShadowPager::Fill;

struct Rig {
  TestMem m{16 * kMiB};
  PageAllocator alloc;
  PhysTables p2m_mem;
  PageTableBuilder p2m{p2m_mem};
  GuestMemory mem;
  ShadowPager sp;
  uint64_t cr3 = 0x1000;
  uint64_t next_table = 0x2000;

  Rig() {
    BOOST_REQUIRE(alloc.init(m, 8 * kMiB, 8 * kMiB));
    p2m_mem = PhysTables(m, &alloc);
    BOOST_REQUIRE(p2m.create());
    BOOST_REQUIRE(p2m.map(0, kRamHpa, kRam, kPteWrite | kPteUser));
    mem.init(m);
    BOOST_REQUIRE(mem.add(0, kRamHpa, kRam));
    std::memset(m.b_.data() + kRamHpa, 0, kRam);
    BOOST_REQUIRE(sp.create(alloc, p2m, mem, cr3));
  }
  uint64_t* g(uint64_t gpa) { return reinterpret_cast<uint64_t*>(mem.ptr(gpa, 4096)); }
  // The guest's entry for va at `level` (4..1, or 2 for a 2 MiB leaf), tables made on the way.
  uint64_t& gentry(uint64_t va, int level) {
    uint64_t t = cr3;
    for (int l = 4; l > level; --l) {
      uint64_t& e = g(t)[(va >> (12 + 9 * (l - 1))) & 0x1FF];
      if (!(e & kPtePresent)) {
        e = next_table | kPtePresent | kPteWrite | kPteUser;
        next_table += 4096;
      }
      t = e & kPteAddrMask;
    }
    return g(t)[(va >> (12 + 9 * (level - 1))) & 0x1FF];
  }
  // The shadow leaf for va (0 if none) and its size.
  uint64_t shadow(uint64_t va, bool* large = nullptr) {
    uint64_t t = sp.root();
    for (int l = 4; l >= 1; --l) {
      const uint64_t e = reinterpret_cast<uint64_t*>(m.map(t, 4096))[(va >> (12 + 9 * (l - 1))) & 0x1FF];
      if (!(e & kPtePresent)) return 0;
      if (l == 1 || (e & kPteLarge)) {
        if (large) *large = e & kPteLarge;
        return e;
      }
      t = e & kPteAddrMask;
    }
    return 0;
  }
  Fill fault(uint64_t va, bool write, bool user, bool fetch, uint32_t& err, uint64_t& gpa, bool wp = true) {
    return sp.fault(va, ShadowPager::Access{write, user, fetch, wp, true}, err, gpa);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(guest_faults_are_reflected_with_the_guest_error_code) {
  Rig r;
  r.gentry(0x400000, 1) = 0x100000 | kPtePresent | kPteWrite | kPteUser;  // user, writable
  r.gentry(0x401000, 1) = 0x101000 | kPtePresent;                         // supervisor, read-only
  r.gentry(0x402000, 1) = 0x102000 | kPtePresent | kPteWrite | kPteNx;    // no execute
  uint32_t err = 0;
  uint64_t gpa = 0;
  BOOST_TEST((r.fault(0x900000, false, false, false, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == 0u);  // not present, supervisor read
  BOOST_TEST((r.fault(0x900000, true, true, false, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == (kPfWrite | kPfUser));
  BOOST_TEST((r.fault(0x401000, false, true, false, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == (kPfPresent | kPfUser));  // user access to a supervisor page
  BOOST_TEST((r.fault(0x401000, true, false, false, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == (kPfPresent | kPfWrite));  // supervisor write, CR0.WP = 1
  BOOST_TEST((r.fault(0x402000, false, false, true, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == (kPfPresent | kPfFetch));  // NX
  // A 2 MiB leaf with bit 13 set: reserved (§5.3.3), P|RSVD.
  r.gentry(0xA00000, 2) = 0x200000 | kPtePresent | kPteLarge | (1ull << 13);
  BOOST_TEST((r.fault(0xA00000, false, false, false, err, gpa) == Fill::guest_fault));
  BOOST_TEST(err == (kPfPresent | kPfReserved));
  // CR0.WP = 0: the supervisor write to a read-only page is allowed and filled.
  BOOST_TEST((r.fault(0x401000, true, false, false, err, gpa, false) == Fill::filled));
  BOOST_TEST(r.sp.stats().guest_faults == 6u);
  BOOST_TEST(r.shadow(0x900000) == 0u);  // nothing installed for a reflected fault
}

BOOST_AUTO_TEST_CASE(fills_set_guest_accessed_and_dirty_and_map_through_the_p2m) {
  Rig r;
  uint64_t& pte = r.gentry(0x400000, 1);
  pte = 0x100000 | kPtePresent | kPteWrite;
  uint32_t err = 0;
  uint64_t gpa = 0;
  BOOST_TEST((r.fault(0x400123, false, false, false, err, gpa) == Fill::filled));
  BOOST_TEST(gpa == 0x100123u);
  BOOST_TEST((pte & kPteAccessed) != 0);
  BOOST_TEST((pte & kPteDirty) == 0);
  BOOST_TEST((r.g(r.cr3)[0] & kPteAccessed) != 0);  // every level
  uint64_t s = r.shadow(0x400000);
  BOOST_TEST((s & kPteAddrMask) == kRamHpa + 0x100000);
  BOOST_TEST((s & kPteWrite) == 0);  // clean: the first write must fault to set D
  BOOST_TEST((r.fault(0x400000, true, false, false, err, gpa) == Fill::filled));
  BOOST_TEST((pte & kPteDirty) != 0);
  BOOST_TEST((r.shadow(0x400000) & kPteWrite) != 0);
  BOOST_TEST(r.sp.stats().dirty_upgrades == 1u);
  // A 2 MiB guest leaf over RAM the p2m maps with 2 MiB: one 2 MiB shadow leaf.
  r.gentry(0x600000, 2) = 0x200000 | kPtePresent | kPteWrite | kPteLarge | kPteDirty;
  BOOST_TEST((r.fault(0x7FF000, true, false, false, err, gpa) == Fill::filled));
  bool large = false;
  s = r.shadow(0x600000, &large);
  BOOST_TEST(large);
  BOOST_TEST((s & kPteAddrMask) == kRamHpa + 0x200000);
  // Outside the guest's memory map: a violation, nothing installed.
  r.gentry(0x800000, 1) = 0x10000000 | kPtePresent | kPteWrite;
  BOOST_TEST((r.fault(0x800000, false, false, false, err, gpa) == Fill::violation));
  BOOST_TEST(gpa == 0x10000000u);
  BOOST_TEST(r.shadow(0x800000) == 0u);
  // A guest page table outside its memory map: table_outside, with the table's address.
  r.g(r.cr3)[1] = 0x20000000 | kPtePresent | kPteWrite;  // PML4[1]: 512 GiB up
  BOOST_TEST((r.fault(0x8000000000ull, false, false, false, err, gpa) == Fill::table_outside));
  BOOST_TEST(gpa == 0x20000000u);
}

BOOST_AUTO_TEST_CASE(invlpg_and_cr3_resync_and_the_test_switch_that_skips_it) {
  for (const bool skip : {false, true}) {
    Rig r;
    r.sp.set_no_resync(skip);
    uint64_t& pte = r.gentry(0x400000, 1);
    pte = 0x100000 | kPtePresent | kPteWrite | kPteDirty;
    uint32_t err = 0;
    uint64_t gpa = 0;
    BOOST_REQUIRE((r.fault(0x400000, false, false, false, err, gpa) == Fill::filled));
    pte = 0x180000 | kPtePresent | kPteWrite | kPteDirty;  // the guest rewrites its PTE
    BOOST_TEST((r.shadow(0x400000) & kPteAddrMask) == kRamHpa + 0x100000);  // stale until INVLPG: allowed
    r.sp.invlpg(0x400000);
    BOOST_TEST((r.shadow(0x400000) != 0) == skip, "INVLPG " << (skip ? "kept" : "dropped") << " the translation");
    // The CPU faults only where the shadow has no translation: with the resync, the refill
    // maps the new page; without it the old page stays mapped (what the guest then reads).
    if (!skip) BOOST_REQUIRE((r.fault(0x400000, false, false, false, err, gpa) == Fill::filled));
    BOOST_TEST((r.shadow(0x400000) & kPteAddrMask) == kRamHpa + (skip ? 0x100000 : 0x180000));
    r.sp.load_cr3(r.cr3);
    BOOST_TEST((r.shadow(0x400000) != 0) == skip);
    BOOST_TEST(r.sp.guest_cr3() == r.cr3);
  }
}

BOOST_AUTO_TEST_CASE(the_pool_is_fixed_and_recycled) {
  Rig r;
  // One guest page table behind 512 directory entries (1 GiB): each 2 MiB needs its own shadow table.
  const uint64_t pt = 0x300000;
  for (unsigned i = 0; i < 512; ++i) r.g(pt)[i] = 0x100000 | kPtePresent | kPteWrite | kPteDirty;
  r.gentry(0x40000000, 2);  // makes the PDPT entry and the PD
  for (unsigned i = 0; i < 512; ++i) r.gentry(0x40000000ull + (uint64_t(i) << 21), 2) = pt | kPtePresent | kPteWrite;
  const uint64_t free0 = r.alloc.free_pages();
  uint32_t err = 0;
  uint64_t gpa = 0;
  for (unsigned i = 0; i < 512; ++i)
    BOOST_REQUIRE((r.fault(0x40000000ull + (uint64_t(i) << 21), false, false, false, err, gpa) == Fill::filled));
  BOOST_TEST(r.alloc.free_pages() == free0);  // nothing beyond the pool
  BOOST_TEST(r.sp.stats().pages_peak == ShadowPager::kPoolPages);
  // 3 pages for the first region (PDPT, PD, PT), then one PT each: 125 regions per pool.
  BOOST_TEST(r.sp.stats().recycles == 4u);
  BOOST_TEST(r.sp.stats().fills == 512u);
  r.sp.scrub();
  const uint8_t* pool = r.m.map(r.sp.root(), ShadowPager::kPoolPages * 4096);
  bool zero = true;
  for (uint64_t i = 0; i < ShadowPager::kPoolPages * 4096; ++i) zero &= pool[i] == 0;
  BOOST_TEST(zero);
}
