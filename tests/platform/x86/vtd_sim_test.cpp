// The real VT-d driver (platform/x86/drivers/vtd) against the simulated VT-d
// unit (platform/sim/devices/intel_vtd) with DMA engines as attackers
// (platform/sim/devices/dma_engine): PMRs that block DMA before translation is
// on, enable() blocking every requester with faults that name the source-id and
// reason, grants through second-level tables, a context entry cached before the
// launch that stays usable until the global invalidation, stale IOTLB entries
// after a mapping change, and the PMR -> translation hand-off with a DMA engine
// hammering the hypervisor's range after every register write the driver makes
// (and the window when the test-only switch releases the PMRs first).
#define BOOST_TEST_MODULE x86_vtd_sim
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <vector>

#include "abi/dma_engine.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "platform/sim/devices/pci_config.hpp"
#include "platform/x86/drivers/vtd.hpp"
#include "platform/x86/drivers/vtd_handoff.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;
namespace v = arch::vtd;
namespace e = redoubt::abi::dma_engine;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kPmrBase = 0x200000, kPmrSize = 8ull << 20;  // what "SINIT" protects: [2 MiB, 10 MiB)
constexpr uint64_t kHv = 0x400000, kHvSize = 0x100000;          // the hypervisor, inside it
constexpr uint64_t kRoot = 0x800000;                             // the driver's root table, inside it
constexpr uint64_t kPool = 0x810000, kPoolSize = 64 * kPage;     // its context / second-level tables
constexpr uint64_t kSecret = 0x1000000;                          // a guest's page (outside the PMR)
constexpr uint64_t kWindow = 0x1100000;                          // pages granted to a device
constexpr uint64_t kEvilRoot = 0x2000000;                        // the pre-launch environment's tables
constexpr uint16_t kNic = 0x0020, kGpu = 0x0028, kDisk = 0x0100;  // 00:04.0, 00:05.0, 01:00.0

struct Fixture {
  sim::PhysicalMemory mem{kRam};
  sim::DeviceExclusionVector dev{mem.size()};  // no DEV on an Intel machine: never set
  sim::DmaPort dma{mem, dev};
  sim::IntelVtd vtd{mem};
  sim::DmaEngine nic{dma, "nic", kNic, 0xFEB00000}, gpu{dma, "gpu", kGpu, 0xFEB02000}, disk{dma, "disk", kDisk, 0xFEB04000};
  devtest::SimPhysMem phys{mem};
  devtest::HookedMmio<sim::IntelVtd, true> regs{vtd};
  sim::PciConfigPorts pci;
  devtest::FnPortBus io;
  x86::Vtd drv{phys, &regs, v::kDefaultBase, &io};
  const x86::PhysRange hv[1] = {{kHv, kHvSize}};

  Fixture() {
    dma.set_remapper(&vtd);
    nic.plug_into(pci);
    gpu.plug_into(pci);
    disk.plug_into(pci);
    io.in = [this](uint16_t p, unsigned n) { return pci.claims(p) ? pci.in(p, n) : (n == 4 ? ~0u : (1u << (8 * n)) - 1); };
    io.out = [this](uint16_t p, unsigned n, uint32_t val) {
      if (pci.claims(p)) pci.out(p, n, val);
    };
    std::memset(mem.map(kSecret, kPage), 0x5E, kPage);
    std::memset(mem.map(kHv, kHvSize), 0xC3, kHvSize);
  }
  Status sinit() { return drv.set_pmrs(kPmrBase, kPmrSize, 0, 0); }
  Status enable(uint32_t flags = 0) {
    REDOUBT_TRY(drv.set_page_table_pool(kPool, kPoolSize));
    return drv.enable(kRoot, hv, 1, flags);
  }
  uint64_t r64(uint64_t pa) {
    uint64_t x;
    std::memcpy(&x, mem.map(pa, 8), 8);
    return x;
  }
  void w64(uint64_t pa, uint64_t val) { std::memcpy(mem.map(pa, 8), &val, 8); }
  bool all(uint64_t pa, uint8_t b, size_t n) {
    const uint8_t* p = mem.map(pa, n);
    for (size_t i = 0; i < n; ++i)
      if (p[i] != b) return false;
    return true;
  }
  std::vector<x86::VtdFault> faults() {
    x86::VtdFault f[16];
    return std::vector<x86::VtdFault>(f, f + drv.read_faults(f, 16));
  }
  // The leaf second-level entry of `iova` in `sid`'s domain, walked as §9 lays the tables out.
  uint64_t leaf_of(uint16_t sid, uint64_t iova) {
    const uint64_t ct = r64(kRoot + 16 * (sid >> 8)) & v::root::kCtpMask;
    uint64_t table = r64(ct + 16 * (sid & 0xFF)) & v::ctx::kSlptMask;
    for (uint32_t level = 4; level > 1; --level) table = r64(table + 8 * v::sl_index(iova, level)) & v::sl::kAddrMask;
    return table + 8 * v::sl_index(iova, 1);
  }
};

const char* msg(const Status& s) { return s.message(); }
}  // namespace

BOOST_FIXTURE_TEST_CASE(probe_reads_the_units_capabilities, Fixture) {
  const Status st = drv.probe();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(drv.cap() == sim::vtd_defaults::kCap);
  BOOST_TEST(drv.ecap() == sim::vtd_defaults::kEcap);
  BOOST_TEST(v::cap::nfr(drv.cap()) == 8u);
  BOOST_TEST(v::cap::fro_bytes(drv.cap()) == 0x220u);
  BOOST_TEST(v::ecap::iro_bytes(drv.ecap()) == 0x200u);
  BOOST_TEST(drv.mmio_base() == 0xFED90000u);
  // A unit without 4-level tables is refused by name.
  sim::IntelVtd old(mem, sim::IntelVtdConfig{.cap = sim::vtd_defaults::kCap & ~v::cap::kSagaw48});
  devtest::DeviceMmio<sim::IntelVtd> old_regs(old);
  x86::Vtd old_drv(phys, &old_regs);
  BOOST_TEST(old_drv.probe().code() == Err::unsupported);
}

BOOST_FIXTURE_TEST_CASE(a_pmr_blocks_dma_before_translation_is_on, Fixture) {
  // Before SINIT: nothing protects the hypervisor's range.
  BOOST_TEST(nic.run(e::kOpRead, kHv, 0, 64) == e::kDone);
  BOOST_TEST(nic.buffer()[0] == 0xC3);
  const Status st = sinit();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(vtd.mmio_read(v::reg::kPmen, 4) == (v::pmen::kEpm | v::pmen::kPrs));
  BOOST_TEST(vtd.mmio_read(v::reg::kPlmbase, 4) == kPmrBase);
  BOOST_TEST(vtd.mmio_read(v::reg::kPlmlimit, 4) == kPmrBase + kPmrSize - (2u << 20));
  BOOST_TEST(!vtd.translation_enabled());
  nic.buffer().fill(0);
  BOOST_TEST(nic.run(e::kOpRead, kHv + 0x40, 0, 64) == e::kFault);
  BOOST_TEST(nic.fault_info() == (e::kBlockerIommu << 8));
  BOOST_TEST(nic.buffer()[0] == 0);
  BOOST_TEST(disk.run(e::kOpFill, 0, kHv, 4096, 0x4141414141414141ull) == e::kFault);
  BOOST_TEST(gpu.run(e::kOpCopy, kSecret, kPmrBase + kPmrSize - 8, 16) == e::kFault);  // the last bytes of the region
  BOOST_TEST(all(kHv, 0xC3, kHvSize));
  // Outside the PMR, untranslated DMA still works (translation is off), and nothing is recorded:
  // Appendix A has no reason for a PMR block.
  BOOST_TEST(gpu.run(e::kOpCopy, kSecret, kPmrBase + kPmrSize, 16) == e::kDone);
  BOOST_TEST(vtd.stats().pmr_blocked == 3u);
  BOOST_TEST((vtd.mmio_read(v::reg::kFsts, 4) & v::fsts::kPpf) == 0u);
  BOOST_TEST(drv.covered(kHv, kHvSize));
  BOOST_TEST(!drv.covered(kSecret, kPage));
}

BOOST_FIXTURE_TEST_CASE(enable_blocks_every_requester_and_the_faults_name_them, Fixture) {
  BOOST_TEST_REQUIRE(sinit().is_ok());
  const Status st = enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  const uint32_t gsts = uint32_t(vtd.mmio_read(v::reg::kGsts, 4));
  BOOST_TEST(gsts == (v::gcmd::kTe | v::gcmd::kSrtp));  // TES, RTPS
  BOOST_TEST(vtd.mmio_read(v::reg::kRtaddr, 8) == kRoot);
  BOOST_TEST(vtd.mmio_read(v::reg::kPmen, 4) == 0u);  // released: translation holds everything now
  BOOST_TEST(vtd.stats().context_invalidations == 1u);
  BOOST_TEST(vtd.stats().iotlb_invalidations == 1u);
  BOOST_TEST(nic.run(e::kOpRead, kSecret + 0x40, 0, 256) == e::kFault);
  BOOST_TEST(disk.run(e::kOpFill, 0, kSecret, 4096, 0) == e::kFault);
  BOOST_TEST(gpu.run(e::kOpCopy, kRoot, kSecret, 64) == e::kFault);
  BOOST_TEST(nic.run(e::kOpFill, 0, kHv + 0x1000, 8, 0) == e::kFault);
  BOOST_TEST(all(kSecret, 0x5E, kPage));
  BOOST_TEST(all(kHv, 0xC3, kHvSize));
  const auto f = faults();
  BOOST_TEST_REQUIRE(f.size() == 4u);
  BOOST_TEST(f[0].sid == kNic);
  BOOST_TEST(f[0].reason == v::kFrRootNotPresent);
  BOOST_TEST(!f[0].write);
  BOOST_TEST(f[0].page == kSecret);
  BOOST_TEST(f[1].sid == kDisk);
  BOOST_TEST(f[1].write);
  BOOST_TEST(f[2].sid == kGpu);
  BOOST_TEST(f[2].page == kRoot);
  BOOST_TEST(f[3].page == kHv + 0x1000);
  BOOST_TEST(faults().empty());
  BOOST_TEST((vtd.mmio_read(v::reg::kFsts, 4) & v::fsts::kPpf) == 0u);
  // Every one of the 65 536 source-ids, reading and writing the hypervisor and a guest page.
  uint32_t got_through = 0;
  std::vector<uint8_t> buf(64, 0xEE);
  for (uint32_t sid = 0; sid < 65536; ++sid) {
    const sim::BusMaster who{"any", uint16_t(sid)};
    got_through += bool(dma.read(who, kHv + 0x100, buf)) + bool(dma.write(who, kSecret + 0x100, buf));
  }
  BOOST_TEST(got_through == 0u);
  BOOST_TEST(all(kSecret, 0x5E, kPage));
  BOOST_TEST(drv.fault_overflow());  // 131 072 faults, 8 records
  drv.clear_overflow();
  faults();
  BOOST_TEST(drv.covered(0, kRam));
  BOOST_TEST(drv.protect(kSecret, kPage).is_ok());
}

BOOST_FIXTURE_TEST_CASE(enable_refuses_when_the_pmrs_do_not_cover_the_hypervisor, Fixture) {
  BOOST_TEST(enable().code() == Err::fault);  // no PMR at all
  BOOST_TEST_REQUIRE(drv.set_pmrs(kPmrBase, 2ull << 20, 0, 0).is_ok());  // [2, 4) MiB: not the hypervisor
  const Status st = enable();
  BOOST_TEST(st.code() == Err::fault);
  BOOST_TEST(std::string(st.message()).find("root table") != std::string::npos, st.message());
  BOOST_TEST(!vtd.translation_enabled());
}

BOOST_FIXTURE_TEST_CASE(a_grant_opens_exactly_its_pages_and_each_fault_has_its_reason, Fixture) {
  BOOST_TEST_REQUIRE(sinit().is_ok());
  BOOST_TEST_REQUIRE(enable().is_ok());
  Status st = drv.grant(kNic, 0x10000, kWindow, 2 * kPage, true, true, 7);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  st = drv.grant(kNic, 0x40000, kSecret, kPage, true, false);  // read-only
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(nic.run(e::kOpCopy, 0x40000, 0x10000 + 0x800, 0x1000) == e::kDone);
  BOOST_TEST(all(kWindow + 0x800, 0x5E, 0x1000));
  BOOST_TEST(all(kWindow, 0, 0x800));
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x40000, 8, 0) == e::kFault);            // 5h: read-only page
  BOOST_TEST(nic.run(e::kOpRead, 0x12000, 0, 8) == e::kFault);               // 6h: not mapped
  BOOST_TEST(nic.run(e::kOpFill, 0, kHv, 8, 0) == e::kFault);                // 5h: hv's address is no IOVA
  BOOST_TEST(nic.run(e::kOpRead, 1ull << 48, 0, 8) == e::kFault);            // 4h: beyond the 48-bit AGAW
  BOOST_TEST(gpu.run(e::kOpFill, 0, 0x10000, 8, 0) == e::kFault);            // 2h: same bus, no context
  BOOST_TEST(disk.run(e::kOpFill, 0, 0x10000, 8, 0) == e::kFault);           // 1h: bus 1 has no root entry
  BOOST_TEST(all(kSecret, 0x5E, kPage));
  BOOST_TEST(all(kHv, 0xC3, kHvSize));
  const auto f = faults();
  BOOST_TEST_REQUIRE(f.size() == 6u);
  const uint8_t want[] = {v::kFrWriteDenied, v::kFrReadDenied, v::kFrWriteDenied, v::kFrAddressBeyondAgaw,
                          v::kFrContextNotPresent, v::kFrRootNotPresent};
  const uint16_t who[] = {kNic, kNic, kNic, kNic, kGpu, kDisk};
  for (size_t i = 0; i < 6; ++i) {
    BOOST_TEST(f[i].reason == want[i], "fault " << i);
    BOOST_TEST(f[i].sid == who[i], "fault " << i);
  }
  BOOST_TEST(f[0].page == 0x40000u);
  BOOST_TEST(f[3].page == (1ull << 48));
  // The context entry as §9.3 lays it out: present, TT 00b, AW 48-bit, the domain asked for.
  const uint64_t ct = r64(kRoot) & v::root::kCtpMask;
  BOOST_TEST((r64(ct + 16 * 0x20) & (v::ctx::kP | v::ctx::kTtMask)) == v::ctx::kP);
  BOOST_TEST(r64(ct + 16 * 0x20 + 8) == (v::ctx::kAw48 | (7ull << v::ctx::kDidShift)));
  BOOST_TEST(!drv.is_protected(kWindow, 1));
  BOOST_TEST(drv.is_protected(kWindow + 2 * kPage, kPage));
  BOOST_TEST(drv.grant(kGpu, 0, kPool, kPage, true, true).code() == Err::malformed);  // its own tables
  BOOST_TEST(drv.grant(kGpu, 0, kWindow, kPage, true, true, 300).code() == Err::unsupported);  // ND = 2: 256 domains
}

// A context entry cached from the pre-launch environment's tables stays in force for the device
// after the root pointer changes, until a context-cache invalidation (§6.5.1.1).
BOOST_FIXTURE_TEST_CASE(a_cached_context_entry_lets_a_device_in_until_invalidated, Fixture) {
  // The untrusted environment: a root table whose bus 0 context table gives the NIC pass-through.
  w64(kEvilRoot, (kEvilRoot + kPage) | v::root::kP);
  w64(kEvilRoot + kPage + 16 * 0x20, (v::ctx::kTtPassThrough << v::ctx::kTtShift) | v::ctx::kP);
  w64(kEvilRoot + kPage + 16 * 0x20 + 8, v::ctx::kAw48 | (1ull << v::ctx::kDidShift));
  vtd.mmio_write(v::reg::kRtaddr, 8, kEvilRoot);
  vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp);
  vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kTe);
  BOOST_TEST(nic.run(e::kOpRead, kSecret, 0, 8) == e::kDone);
  BOOST_TEST(vtd.context_cache_entries() == 1u);
  // A naive owner points the unit at an empty root table with translation on, and stops there.
  std::memset(mem.map(kRoot, kPage), 0, kPage);
  vtd.mmio_write(v::reg::kRtaddr, 8, kRoot);
  vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kTe | v::gcmd::kSrtp);
  BOOST_TEST(nic.run(e::kOpFill, 0, kSecret, 8, 0x4141414141414141ull) == e::kDone);  // stale: still in
  BOOST_TEST(r64(kSecret) == 0x4141414141414141ull);
  BOOST_TEST(gpu.run(e::kOpFill, 0, kSecret, 8, 0) == e::kFault);  // a device with nothing cached is out
  // The driver's global invalidation (enable() step 3) ends it.
  BOOST_TEST_REQUIRE(drv.probe().is_ok());
  BOOST_TEST_REQUIRE(drv.invalidate_all().is_ok());
  BOOST_TEST(vtd.context_cache_entries() == 0u);
  BOOST_TEST(nic.run(e::kOpFill, 0, kSecret, 8, 0) == e::kFault);
  BOOST_TEST(r64(kSecret) == 0x4141414141414141ull);
  // And enable() over the same leftovers leaves nothing cached and the NIC out.
  BOOST_TEST_REQUIRE(sinit().is_ok());
  vtd.mmio_write(v::reg::kRtaddr, 8, kEvilRoot);
  vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kTe | v::gcmd::kSrtp);
  BOOST_TEST(nic.run(e::kOpRead, kSecret, 0, 8) == e::kDone);
  const Status st = enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(vtd.context_cache_entries() == 0u);
  BOOST_TEST(nic.run(e::kOpFill, 0, kSecret, 8, 0) == e::kFault);
  BOOST_TEST(r64(kSecret) == 0x4141414141414141ull);
}

// IOTLB invalidation when a mapping changes (§6.5.1.2).
BOOST_FIXTURE_TEST_CASE(a_changed_mapping_is_stale_until_the_iotlb_is_invalidated, Fixture) {
  BOOST_TEST_REQUIRE(sinit().is_ok());
  BOOST_TEST_REQUIRE(enable().is_ok());
  BOOST_TEST_REQUIRE(drv.grant(kNic, 0x10000, kWindow, kPage, true, true).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x11) == e::kDone);
  BOOST_TEST(r64(kWindow) == 0x11u);
  // The leaf moves to the next page behind the unit's back: the IOTLB keeps the old one.
  const uint64_t leaf = leaf_of(kNic, 0x10000);
  BOOST_TEST((r64(leaf) & v::sl::kAddrMask) == kWindow);
  w64(leaf, (kWindow + kPage) | v::sl::kR | v::sl::kW);
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x22) == e::kDone);
  BOOST_TEST(r64(kWindow) == 0x22u);
  BOOST_TEST(r64(kWindow + kPage) == 0u);
  // The driver's remap (a grant over the same IOVA) invalidates the domain: the new page is used.
  BOOST_TEST_REQUIRE(drv.grant(kNic, 0x10000, kWindow + 2 * kPage, kPage, true, true).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x33) == e::kDone);
  BOOST_TEST(r64(kWindow + 2 * kPage) == 0x33u);
  BOOST_TEST(r64(kWindow) == 0x22u);
  // unmap: leaf cleared and a page-selective invalidation (IVA, AM = 0).
  const uint64_t before = vtd.stats().iotlb_invalidations;
  BOOST_TEST_REQUIRE(drv.unmap(kNic, 0x10000, kPage).is_ok());
  BOOST_TEST(vtd.stats().iotlb_invalidations == before + 1);
  BOOST_TEST((vtd.mmio_read(v::reg::kIvaQemu + 8, 8) >> v::iotlb::kIaigShift & 3) == v::iotlb::kPage);
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x44) == e::kFault);
  BOOST_TEST(r64(kWindow + 2 * kPage) == 0x33u);
  // Revoked without invalidation (the test-only path): the cached context entry and IOTLB keep
  // the device in; the invalidation the real path does ends it.
  BOOST_TEST_REQUIRE(drv.grant(kNic, 0x20000, kWindow + 3 * kPage, kPage, true, true).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x20000, 8, 0x55) == e::kDone);
  BOOST_TEST_REQUIRE(drv.revoke(kNic, false).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x20000, 8, 0x66) == e::kDone);
  BOOST_TEST(r64(kWindow + 3 * kPage) == 0x66u);
  BOOST_TEST_REQUIRE(drv.invalidate_all().is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x20000, 8, 0x77) == e::kFault);
  BOOST_TEST(r64(kWindow + 3 * kPage) == 0x66u);
  BOOST_TEST(faults().back().reason == v::kFrContextNotPresent);
}

BOOST_FIXTURE_TEST_CASE(revoke_blocks_and_invalidates_at_once, Fixture) {
  BOOST_TEST_REQUIRE(sinit().is_ok());
  BOOST_TEST_REQUIRE(enable().is_ok());
  BOOST_TEST_REQUIRE(drv.grant(kDisk, 0, kWindow, kPage, true, true).is_ok());
  BOOST_TEST(disk.run(e::kOpFill, 0, 0, 8, 0x12) == e::kDone);
  BOOST_TEST_REQUIRE(drv.revoke(kDisk).is_ok());
  BOOST_TEST(disk.run(e::kOpFill, 0, 0, 8, 0x34) == e::kFault);
  BOOST_TEST(r64(kWindow) == 0x12u);
  BOOST_TEST(vtd.iotlb_entries() == 0u);
  BOOST_TEST(drv.is_protected(kWindow, kPage));
}

// The hand-off: after every register write of enable() the NIC tries to overwrite the
// hypervisor and the disk to copy it out. With the PMRs released last nothing lands; with
// them released first (the test-only switch) the window is there.
BOOST_AUTO_TEST_CASE(the_pmr_to_translation_hand_off_has_no_window) {
  for (const bool wrong_order : {false, true}) {
    Fixture f;
    BOOST_TEST_REQUIRE(f.sinit().is_ok());
    int tries = 0, landed = 0;
    f.regs.after_write = [&](uint32_t, uint32_t) {
      ++tries;
      landed += f.nic.run(e::kOpFill, 0, kHv + 0x2000, 64, 0x4141414141414141ull) == e::kDone;
      landed += f.disk.run(e::kOpCopy, kHv, kSecret, 64) == e::kDone;
      landed += f.nic.run(e::kOpFill, 0, kRoot, 16, 0x0000000001000001ull) == e::kDone;  // a root entry
    };
    const Status st = f.enable(wrong_order ? uint32_t{x86::VtdHw::kTestPmrOffFirst} : 0u);
    f.regs.after_write = nullptr;
    BOOST_TEST_MESSAGE((wrong_order ? "PMR released first: " : "PMR released last: ") << tries << " register writes, "
                                                                                     << landed << " DMAs landed");
    BOOST_TEST(tries == 9);  // RTADDR (2), SRTP, CCMD (2), IOTLB_REG (2), TE, PMEN
    if (!wrong_order) {
      BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
      BOOST_TEST(landed == 0);
      BOOST_TEST(f.all(kHv, 0xC3, kHvSize));
      BOOST_TEST(f.all(kSecret, 0x5E, kPage));
      BOOST_TEST(f.vtd.translation_enabled());
      BOOST_TEST(!f.vtd.pmr_enabled());
    } else {
      BOOST_TEST(landed > 0);
      BOOST_TEST(!f.all(kHv, 0xC3, kHvSize));
      BOOST_TEST(f.r64(kHv + 0x2000) == 0x4141414141414141ull);
      BOOST_TEST(f.all(kSecret, 0xC3, 64));  // the hypervisor's bytes copied out
      BOOST_TEST(st.code() == Err::fault);    // the root table was written by DMA: enable() notices
    }
  }
}

BOOST_FIXTURE_TEST_CASE(fault_records_overflow_and_resume_once_read, Fixture) {
  BOOST_TEST_REQUIRE(sinit().is_ok());
  BOOST_TEST_REQUIRE(enable().is_ok());
  for (uint64_t i = 0; i < 10; ++i) BOOST_TEST(nic.run(e::kOpRead, kSecret + i * kPage, 0, 8) == e::kFault);
  BOOST_TEST(drv.fault_overflow());  // 8 records, 2 lost (§7.2.1)
  BOOST_TEST(vtd.stats().faults_lost == 2u);
  auto f = faults();
  BOOST_TEST_REQUIRE(f.size() == 8u);
  BOOST_TEST(f[0].page == kSecret);
  BOOST_TEST(f[7].page == kSecret + 7 * kPage);
  drv.clear_overflow();
  BOOST_TEST(!drv.fault_overflow());
  BOOST_TEST(disk.run(e::kOpRead, kSecret, 0, 8) == e::kFault);
  f = faults();
  BOOST_TEST_REQUIRE(f.size() == 1u);
  BOOST_TEST(f[0].sid == kDisk);
  BOOST_TEST((vtd.mmio_read(v::reg::kFsts, 4) & v::fsts::kPpf) == 0u);
}

// The hypervisor's take-over on an Intel machine (vtd_take_over) from a hand-off, then the
// hypervisor's own use of hal::DmaProtection: its domain pool, a guest's device assigned
// (BAR found by PCI configuration cycles, IOVA = GPA), released with invalidation.
BOOST_FIXTURE_TEST_CASE(the_hypervisor_takes_over_from_the_pmrs_and_assigns_a_device, Fixture) {
  hal::HypervisorHandoff h{};
  h.hv_image_pa = kHv;
  h.hv_image_size = 0x80000;
  h.hv_memory_pa = kHv + 0x80000;
  h.hv_memory_size = 0x80000;
  h.event_log_pa = 0x500000;
  h.event_log_cap = 0x10000;
  h.dma_region_pa = kRoot;
  h.dma_region_size = kPoolSize + kPage;
  h.guest_count = 1;
  h.guests[0].ram_pa = 0x600000;
  h.guests[0].ram_size = 0x100000;
  h.guests[0].image_pa = 0x700000;
  h.guests[0].image_size = 0x1000;
  BOOST_TEST_REQUIRE(sinit().is_ok());
  // A guest's RAM outside the PMRs: refused (DMA could have written it before the launch).
  h.guests[0].ram_pa = kSecret;
  const Status bad = x86::vtd_take_over(drv, h);
  BOOST_TEST(bad.code() == Err::fault);
  BOOST_TEST(std::string(bad.message()).find("0x1000000") != std::string::npos, bad.message());
  BOOST_TEST(!vtd.translation_enabled());
  h.guests[0].ram_pa = 0x600000;
  std::memset(mem.map(0x600000, 0x100000), 0x6A, 0x100000);
  const Status st = x86::vtd_take_over(drv, h);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(vtd.translation_enabled());
  BOOST_TEST(!vtd.pmr_enabled());
  hal::DmaProtection& dmap = drv;
  BOOST_TEST(dmap.is_protected(h.hv_memory_pa, h.hv_memory_size));
  BOOST_TEST(dmap.is_protected(0x600000, 0x100000));
  // The hypervisor's pool in its memory, the NIC assigned to guest 0 (domain 1).
  BOOST_TEST_REQUIRE(dmap.set_domain_pool(h.hv_memory_pa + 0x40000, 0x40000).is_ok());
  uint64_t bar = 0, bar_size = 0;
  BOOST_TEST_REQUIRE(dmap.device_window(kNic, bar, bar_size).is_ok());
  BOOST_TEST(bar == 0xFEB00000u);
  BOOST_TEST(bar_size == e::kBarSize);
  BOOST_TEST(dmap.device_window(0x0030, bar, bar_size).code() == Err::unsupported);  // nothing at 00:06.0
  BOOST_TEST_REQUIRE(dmap.assign(kNic, 1, 0, 0x600000, 0x100000).is_ok());
  BOOST_TEST(!dmap.is_protected(0x600000, 0x100000));
  BOOST_TEST(nic.run(e::kOpCopy, 0x1000, 0x2000, 64) == e::kDone);  // GPA 0x1000 -> 0x2000
  BOOST_TEST(r64(0x602000) == 0x6A6A6A6A6A6A6A6Aull);
  BOOST_TEST(nic.run(e::kOpRead, 0x100000, 0, 8) == e::kFault);  // past its guest's RAM
  BOOST_TEST(gpu.run(e::kOpRead, 0x1000, 0, 8) == e::kFault);    // another device
  BOOST_TEST(all(kHv, 0xC3, 0x80000));
  BOOST_TEST(dmap.set_domain_pool(kPool, kPoolSize).code() == Err::internal);  // tables live in the first
  BOOST_TEST_REQUIRE(dmap.unassign(kNic, true).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x2000, 8, 0) == e::kFault);
  BOOST_TEST(r64(0x602000) == 0x6A6A6A6A6A6A6A6Aull);
  BOOST_TEST(dmap.is_protected(0x600000, 0x100000));
}
