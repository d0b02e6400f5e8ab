// The simulated VT-d unit (platform/sim/devices/intel_vtd*) by its registers and
// in-memory structures, as the VT-d spec lays them out: GCMD/GSTS (§10.4.4-5),
// the PMR registers (§10.4.16-20), root/context entries (§9.1, §9.3), 3- and
// 4-level second-level tables with 2 MiB / 1 GiB pages (§9.8), the fault reasons
// of Appendix A, FPD, and register-based invalidation by granularity (§10.4.7-8).
#define BOOST_TEST_MODULE sim_intel_vtd
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "platform/sim/devices/intel_vtd.hpp"

using namespace redoubt;
namespace v = arch::vtd;

namespace {
constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kRoot = 0x100000, kCtx = 0x101000, kTables = 0x200000;  // tables from here, 4 KiB each
constexpr uint64_t kPage = 0x1000000;
constexpr uint16_t kSid = 0x0123;  // 01:04.3

struct Rig {
  sim::PhysicalMemory mem{kRam};
  sim::IntelVtd vtd;
  uint64_t next = kTables;
  explicit Rig(sim::IntelVtdConfig cfg = {}) : vtd(mem, cfg) {}
  void w64(uint64_t pa, uint64_t x) { std::memcpy(mem.map(pa, 8), &x, 8); }
  uint64_t reg(uint32_t off) { return vtd.mmio_read(off, 8); }
  uint32_t reg32(uint32_t off) { return uint32_t(vtd.mmio_read(off, 4)); }
  // Root entry for kSid's bus, a context entry of the given lo/hi, the root pointer, TE on.
  void context(uint64_t lo, uint64_t hi) {
    w64(kRoot + 16 * (kSid >> 8), kCtx | v::root::kP);
    w64(kCtx + 16 * (kSid & 0xFF), lo);
    w64(kCtx + 16 * (kSid & 0xFF) + 8, hi);
    vtd.mmio_write(v::reg::kRtaddr, 8, kRoot);
    vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp);
    vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kTe);
  }
  uint64_t table() {
    const uint64_t t = next;
    next += 0x1000;
    return t;
  }
  // A chain of tables from `levels` down to `leaf_level`, ending in `leaf` for address `a`.
  uint64_t chain(uint32_t levels, uint32_t leaf_level, uint64_t a, uint64_t leaf) {
    const uint64_t top = table();
    uint64_t t = top;
    for (uint32_t l = levels; l > leaf_level; --l) {
      const uint64_t n = table();
      w64(t + 8 * v::sl_index(a, l), n | v::sl::kR | v::sl::kW);
      t = n;
    }
    w64(t + 8 * v::sl_index(a, leaf_level), leaf);
    return top;
  }
  uint8_t last_reason() {
    const uint32_t fri = (reg32(v::reg::kFsts) >> v::fsts::kFriShift) & 0xFF;
    return v::frcd::reason(reg(v::reg::kFrcdQemu + 16 * fri + 8));
  }
  void clear_faults() {
    for (uint32_t i = 0; i < 8; ++i) vtd.mmio_write(v::reg::kFrcdQemu + 16 * i + 12, 4, 0x80000000u);
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(registers_read_back_as_the_spec_defines) {
  Rig r;
  BOOST_TEST(r.reg32(v::reg::kVer) == 0x10u);
  BOOST_TEST(r.reg(v::reg::kCap) == sim::vtd_defaults::kCap);
  BOOST_TEST(r.reg32(v::reg::kFectl) == v::fectl::kIm);  // IM set at reset
  r.vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp | v::gcmd::kQie | v::gcmd::kWbf);
  BOOST_TEST(r.reg32(v::reg::kGcmd) == 0u);                 // write-only
  BOOST_TEST(r.reg32(v::reg::kGsts) == v::gcmd::kSrtp);     // RTPS; QI and WBF are not supported
  // PMR registers keep [31:21] / [47:21]; a 64-bit register written as two dwords.
  r.vtd.mmio_write(v::reg::kPlmbase, 4, 0xFFFFFFFF);
  r.vtd.mmio_write(v::reg::kPlmlimit, 4, 0xFFFFFFFF);
  BOOST_TEST(r.reg32(v::reg::kPlmbase) == 0xFFE00000u);
  BOOST_TEST(r.reg32(v::reg::kPlmlimit) == 0xFFE00000u);
  r.vtd.mmio_write(v::reg::kPhmbase, 4, 0xFFFFFFFF);
  r.vtd.mmio_write(v::reg::kPhmbase + 4, 4, 0xFFFFFFFF);
  BOOST_TEST(r.reg(v::reg::kPhmbase) == 0x0000FFFFFFE00000ull);
  r.vtd.mmio_write(v::reg::kPmen, 4, 0xFFFFFFFF);
  BOOST_TEST(r.reg32(v::reg::kPmen) == (v::pmen::kEpm | v::pmen::kPrs));
  r.vtd.mmio_write(v::reg::kPmen, 2, 0);  // narrow writes are dropped
  BOOST_TEST(r.vtd.pmr_enabled());
  BOOST_TEST(r.reg32(v::reg::kFsts) == 0u);
}

BOOST_AUTO_TEST_CASE(pmr_regions_run_from_base_to_limit_plus_a_granule_and_block_untranslated_dma) {
  Rig r;
  r.vtd.mmio_write(v::reg::kPlmbase, 4, 0x00400000);
  r.vtd.mmio_write(v::reg::kPlmlimit, 4, 0x00600000);  // [4 MiB, 8 MiB)
  r.vtd.mmio_write(v::reg::kPhmbase, 8, 0x100000000ull);
  r.vtd.mmio_write(v::reg::kPhmlimit, 8, 0x0FFE00000ull);  // limit below base: high region off
  BOOST_TEST(!r.vtd.in_pmr(0x400000));  // EPM clear
  r.vtd.mmio_write(v::reg::kPmen, 4, v::pmen::kEpm);
  BOOST_TEST(!r.vtd.in_pmr(0x3FFFFF));
  BOOST_TEST(r.vtd.in_pmr(0x400000));
  BOOST_TEST(r.vtd.in_pmr(0x7FFFFF));
  BOOST_TEST(!r.vtd.in_pmr(0x800000));
  BOOST_TEST(!r.vtd.in_pmr(0x100000000ull));
  BOOST_TEST(!r.vtd.translate(kSid, 0x500000, false).has_value());
  BOOST_TEST(r.vtd.translate(kSid, 0x900000, true).value() == 0x900000u);
  r.vtd.mmio_write(v::reg::kPhmlimit, 8, 0x100000000ull);
  BOOST_TEST(r.vtd.in_pmr(0x1001FFFFFull));
  BOOST_TEST(!r.vtd.in_pmr(0x100200000ull));
  // Pass-through requests are blocked too (§10.4.16), and the unit reads its tables inside a PMR.
  r.vtd.mmio_write(v::reg::kPlmbase, 4, 0);  // [0, 8 MiB): the root and context tables are in it
  r.context((v::ctx::kTtPassThrough << v::ctx::kTtShift) | v::ctx::kP, v::ctx::kAw48 | (5 << 8));
  BOOST_TEST(!r.vtd.translate(kSid, 0x500000, false).has_value());
  BOOST_TEST(r.vtd.translate(kSid, 0x900000, false).value() == 0x900000u);
  BOOST_TEST(r.vtd.stats().pmr_blocked == 2u);
  BOOST_TEST(r.vtd.stats().faults == 0u);
}

BOOST_AUTO_TEST_CASE(three_and_four_level_tables_with_large_pages_translate) {
  for (const uint64_t aw : {v::ctx::kAw39, v::ctx::kAw48}) {
    Rig r;
    const uint32_t levels = v::ctx::levels(aw);
    const uint64_t iova = 0x40201000ull;  // 1 GiB + 2 MiB + 4 KiB
    const uint64_t top = r.chain(levels, 1, iova, kPage | v::sl::kR | v::sl::kW);
    r.context(top | v::ctx::kP, aw | (1 << 8));
    BOOST_TEST(r.vtd.translate(kSid, iova + 0x123, true).value() == kPage + 0x123, "levels " << levels);
    BOOST_TEST(!r.vtd.translate(kSid, iova + 0x1000, false).has_value());
    BOOST_TEST(r.last_reason() == v::kFrReadDenied);
  }
  // A 2 MiB page (PS in a PDE) and a 1 GiB page (PS in a PDPE).
  Rig r;
  const uint64_t top = r.chain(4, 2, 0x200000, 0x1200000 | v::sl::kPs | v::sl::kR);
  r.w64(r.next - 0x2000 + 8 * 1, 0x40000000 | v::sl::kPs | v::sl::kR | v::sl::kW);  // PDPT[1]: 1 GiB at 1 GiB
  r.context(top | v::ctx::kP, v::ctx::kAw48 | (1 << 8));
  BOOST_TEST(r.vtd.translate(kSid, 0x2ABCDE, false).value() == 0x12ABCDEu);
  BOOST_TEST(!r.vtd.translate(kSid, 0x2ABCDE, true).has_value());
  BOOST_TEST(r.last_reason() == v::kFrWriteDenied);
  BOOST_TEST(r.vtd.translate(kSid, 0x40000000 + 0x3456789, true).value() == 0x43456789u);
}

BOOST_AUTO_TEST_CASE(bad_entries_fault_with_their_appendix_a_reasons) {
  struct Case {
    const char* what;
    uint64_t ctx_lo_extra, ctx_hi, leaf;
    uint8_t reason;
  };
  const Case cases[] = {
      {"TT 11b", v::ctx::kTtReserved << v::ctx::kTtShift, v::ctx::kAw48, 0, v::kFrContextInvalid},
      {"AW 57-bit", 0, v::ctx::kAw57, 0, v::kFrContextInvalid},
      {"context reserved", 0x10, v::ctx::kAw48, 0, v::kFrContextReserved},
      {"leaf above HAW", 0, v::ctx::kAw48, (1ull << 50) | v::sl::kR, v::kFrSlReserved},
      {"SNP without ECAP.SC", 0, v::ctx::kAw48, 0x5000 | v::sl::kSnp | v::sl::kR, v::kFrSlReserved},
  };
  for (const Case& c : cases) {
    Rig r;
    const uint64_t top = r.chain(4, 1, 0, c.leaf);
    r.context(top | v::ctx::kP | c.ctx_lo_extra, c.ctx_hi);
    BOOST_TEST(!r.vtd.translate(kSid, 0, false).has_value(), c.what);
    BOOST_TEST(r.last_reason() == c.reason, c.what);
    BOOST_TEST(v::frcd::sid(r.reg(v::reg::kFrcdQemu + 8)) == kSid, c.what);
    BOOST_TEST(v::frcd::is_read(r.reg(v::reg::kFrcdQemu + 8)), c.what);
  }
  // A large page the unit does not support (no SLLPS 2M) is a reserved bit.
  Rig r(sim::IntelVtdConfig{.cap = sim::vtd_defaults::kCap & ~v::cap::kSllps2M});
  r.context(r.chain(4, 2, 0, v::sl::kPs | v::sl::kR) | v::ctx::kP, v::ctx::kAw48);
  BOOST_TEST(!r.vtd.translate(kSid, 0, false).has_value());
  BOOST_TEST(r.last_reason() == v::kFrSlReserved);
  // A 2 MiB page whose address has bit 12 set (reserved below the page size).
  Rig l;
  l.context(l.chain(4, 2, 0, 0x201000 | v::sl::kPs | v::sl::kR) | v::ctx::kP, v::ctx::kAw48);
  BOOST_TEST(!l.vtd.translate(kSid, 0, false).has_value());
  BOOST_TEST(l.last_reason() == v::kFrSlReserved);
  // Root entry reserved bits, and a root table outside RAM.
  Rig q;
  q.context(v::ctx::kP, v::ctx::kAw48);
  q.w64(kRoot + 16 + 8, 1);
  BOOST_TEST(!q.vtd.translate(kSid, 0, true).has_value());
  BOOST_TEST(q.last_reason() == v::kFrRootReserved);
  q.clear_faults();
  q.vtd.mmio_write(v::reg::kRtaddr, 8, kRam + 0x1000);
  q.vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp | v::gcmd::kTe);
  BOOST_TEST(!q.vtd.translate(kSid, 0, true).has_value());
  BOOST_TEST(q.last_reason() == v::kFrRootAccess);
  BOOST_TEST(!v::frcd::is_read(q.reg(v::reg::kFrcdQemu + 16 + 8)));
}

BOOST_AUTO_TEST_CASE(fpd_blocks_without_recording) {
  Rig r;
  r.context(r.chain(4, 1, 0, 0) | v::ctx::kP | v::ctx::kFpd, v::ctx::kAw48 | (3 << 8));
  BOOST_TEST(!r.vtd.translate(kSid, 0, true).has_value());
  BOOST_TEST(r.vtd.stats().faults_suppressed == 1u);
  BOOST_TEST((r.reg32(v::reg::kFsts) & v::fsts::kPpf) == 0u);
}

BOOST_AUTO_TEST_CASE(invalidations_act_by_granularity_and_nothing_else_empties_the_caches) {
  Rig r;
  const uint64_t iova = 0x5000;
  r.context(r.chain(4, 1, iova, kPage | v::sl::kR | v::sl::kW) | v::ctx::kP, v::ctx::kAw48 | (9 << 8));
  BOOST_TEST(r.vtd.translate(kSid, iova, true).value() == kPage);
  BOOST_TEST(r.vtd.context_cache_entries() == 1u);
  BOOST_TEST(r.vtd.iotlb_entries() == 1u);
  // TE off and on, a new SRTP: the caches stay.
  r.vtd.mmio_write(v::reg::kGcmd, 4, 0);
  r.vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp | v::gcmd::kTe);
  BOOST_TEST(r.vtd.iotlb_entries() == 1u);
  // Device-selective for another function (FM 00b): kept; with FM 11b (function bits masked): gone.
  r.vtd.mmio_write(v::reg::kCcmd, 8, v::ccmd::device(kSid ^ 1, 9));
  BOOST_TEST(r.vtd.context_cache_entries() == 1u);
  BOOST_TEST(((r.reg(v::reg::kCcmd) >> v::ccmd::kCaigShift) & 3) == v::ccmd::kDevice);
  BOOST_TEST((r.reg(v::reg::kCcmd) & v::ccmd::kIcc) == 0u);
  r.vtd.mmio_write(v::reg::kCcmd, 8, v::ccmd::device(kSid ^ 1, 9) | (3ull << v::ccmd::kFmShift));
  BOOST_TEST(r.vtd.context_cache_entries() == 0u);
  // Granularity 00b is rejected (CAIG 00b).
  r.vtd.mmio_write(v::reg::kCcmd, 8, v::ccmd::kIcc);
  BOOST_TEST(((r.reg(v::reg::kCcmd) >> v::ccmd::kCaigShift) & 3) == 0u);
  // IOTLB: page-selective elsewhere (AM 0) keeps it; AM 3 around it (8 pages) drops it.
  r.vtd.mmio_write(v::reg::kIvaQemu, 8, 0x8000);
  r.vtd.mmio_write(v::reg::kIvaQemu + 8, 8, v::iotlb::page(9));
  BOOST_TEST(r.vtd.iotlb_entries() == 1u);
  r.vtd.mmio_write(v::reg::kIvaQemu, 8, 0x7000 | 3);
  r.vtd.mmio_write(v::reg::kIvaQemu + 4, 4, 0);  // (a dword write to IVA's upper half is harmless)
  r.vtd.mmio_write(v::reg::kIvaQemu + 8, 4, 0);  // IOTLB_REG as two dwords: acts on the upper one
  r.vtd.mmio_write(v::reg::kIvaQemu + 12, 4, uint32_t(v::iotlb::page(9) >> 32));
  BOOST_TEST(r.vtd.iotlb_entries() == 0u);
  BOOST_TEST(((r.reg(v::reg::kIvaQemu + 8) >> v::iotlb::kIaigShift) & 3) == v::iotlb::kPage);
  // Domain-selective for another domain keeps; for domain 9 drops. Without CAP.PSI page-selective is rejected.
  BOOST_TEST(r.vtd.translate(kSid, iova, false).value() == kPage);
  r.vtd.mmio_write(v::reg::kIvaQemu + 8, 8, v::iotlb::domain(8));
  BOOST_TEST(r.vtd.iotlb_entries() == 1u);
  r.vtd.mmio_write(v::reg::kIvaQemu + 8, 8, v::iotlb::domain(9));
  BOOST_TEST(r.vtd.iotlb_entries() == 0u);
  Rig n(sim::IntelVtdConfig{.cap = sim::vtd_defaults::kCap & ~v::cap::kPsi});
  n.vtd.mmio_write(v::reg::kIvaQemu + 8, 8, v::iotlb::page(1));
  BOOST_TEST(((n.reg(v::reg::kIvaQemu + 8) >> v::iotlb::kIaigShift) & 3) == 0u);
  BOOST_TEST(n.vtd.stats().rejected_invalidations == 1u);
}
