// The real AMD-Vi driver (platform/x86/drivers/amd_iommu) against the simulated
// AMD-Vi (platform/sim/devices/amd_iommu) and DMA engines as attackers
// (platform/sim/devices/dma_engine): discovery through PCI configuration cycles,
// enable() blocking every requester ID, IO_PAGE_FAULT events the driver reads back
// with the engines' DeviceIDs and addresses, COMPLETION_WAIT, grants translated by
// the I/O page tables, the stale-DTE window that enable()'s invalidation closes,
// and an IOTLB that stays stale after a mapping change until INVALIDATE_IOMMU_PAGES.
// Also: with a DEV present the DEV is chosen and blocks the same engine.
#define BOOST_TEST_MODULE x86_amd_iommu_sim
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "abi/dma_engine.hpp"
#include "arch/amd/iommu.hpp"
#include "platform/sim/devices/amd_dev.hpp"
#include "platform/sim/devices/amd_iommu.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/dma_protection.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;
namespace v = arch::amd_iommu;
namespace e = redoubt::abi::dma_engine;
using L = x86::AmdIommuLayout;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kRegion = 0x400000;   // device table + rings (2 MiB + 12 KiB)
constexpr uint64_t kPool = 0x800000;     // grants' page tables
constexpr uint64_t kSecret = 0x1000000;  // a page an attacker wants
constexpr uint64_t kWindow = 0x1100000;  // the granted pages
constexpr uint16_t kNic = 0x0020, kDisk = 0x0100;  // 00:04.0, 01:00.0

struct Fixture {
  sim::PhysicalMemory mem{kRam};
  sim::DeviceExclusionVector dev{mem.size()};
  sim::DmaPort dma{mem, dev};
  sim::PciConfigPorts pci;
  sim::AmdIommu iommu;
  sim::DmaEngine nic{dma, "nic", kNic, 0xFEB00000}, disk{dma, "disk", kDisk, 0xFEB02000};
  devtest::FnPortBus io;
  devtest::SimPhysMem phys{mem};
  devtest::HookedMmio<sim::AmdIommu> regs{iommu};
  x86::AmdIommu drv{io, phys, &regs};

  explicit Fixture(sim::AmdIommuConfig cfg = {}) : iommu(mem, cfg) {
    iommu.plug_into(pci);
    nic.plug_into(pci);
    disk.plug_into(pci);
    dma.set_remapper(&iommu);
    io.in = [this](uint16_t p, unsigned s) { return pci.claims(p) ? pci.in(p, s) : (s == 4 ? ~0u : (1u << (8 * s)) - 1); };
    io.out = [this](uint16_t p, unsigned s, uint32_t val) {
      if (pci.claims(p)) pci.out(p, s, val);
    };
    std::memset(mem.map(kSecret, kPage), 0x5E, kPage);
  }
  Status enable() { return drv.enable(kRegion, L::kBytes, nullptr, 0); }
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
  // The leaf PTE of `iova` in the 4-level table of `id`'s DTE, as the spec lays it out.
  uint64_t leaf_of(uint16_t id, uint64_t iova) {
    uint64_t table = r64(kRegion + uint64_t(id) * 32) & v::dte::kRootMask;
    for (uint32_t level = 4; level > 1; --level) table = r64(table + 8 * v::table_index(iova, level)) & v::pte::kAddrMask;
    return table + 8 * v::table_index(iova, 1);
  }
};

const char* msg(const Status& s) { return s.message(); }
}  // namespace

BOOST_FIXTURE_TEST_CASE(the_driver_finds_the_simulated_iommu_as_it_finds_qemus, Fixture) {
  const Status st = drv.find();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(drv.pci().bus == 0);
  BOOST_TEST(drv.pci().device == 2);
  BOOST_TEST(drv.pci().function == 0);
  BOOST_TEST(drv.cap_offset() == 0x40);
  BOOST_TEST(drv.mmio_base() == 0xFED80000u);
  BOOST_TEST(drv.ext_features() == (v::ext_feature::kIaSup | v::ext_feature::kHats6Levels));
}

BOOST_FIXTURE_TEST_CASE(enable_blocks_every_requester_and_the_event_log_names_them, Fixture) {
  const Status st = enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(iommu.enabled());
  BOOST_TEST(iommu.mmio_read(v::mmio::kControl, 8) ==
             (v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn | v::control::kCoherent));
  // INVALIDATE_IOMMU_ALL, then the COMPLETION_WAIT whose store the driver polled for (sequence 1).
  BOOST_TEST(iommu.executed() == (std::vector<uint32_t>{v::kInvalidateIommuAll, v::kCompletionWait}));
  BOOST_TEST(r64(kRegion + L::kWaitWord) == 1u);
  BOOST_TEST(iommu.mmio_read(v::mmio::kCmdBufHead, 4) == 32u);
  // The attackers: the NIC reads the secret, the disk overwrites it, the NIC reads the device table.
  BOOST_TEST(nic.run(e::kOpRead, kSecret + 0x40, 0, 256) == e::kFault);
  BOOST_TEST(nic.fault_info() == (e::kBlockerIommu << 8));
  BOOST_TEST(nic.buffer()[0] == 0);
  BOOST_TEST(disk.run(e::kOpFill, 0, kSecret, 4096, 0) == e::kFault);
  BOOST_TEST(nic.run(e::kOpCopy, kRegion, kSecret, 64) == e::kFault);
  BOOST_TEST(all(kSecret, 0x5E, kPage));
  v::Event ev[8];
  BOOST_TEST_REQUIRE(drv.read_events(ev, 8) == 3u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIoPageFault);
  BOOST_TEST(v::event::device_id(ev[0]) == kNic);
  BOOST_TEST(v::event::address(ev[0]) == kSecret + 0x40);
  BOOST_TEST(v::event::flags(ev[0]) == (v::event::kFlagPr | v::event::kFlagPe));
  BOOST_TEST(v::event::domain_id(ev[0]) == 0u);
  BOOST_TEST(v::event::device_id(ev[1]) == kDisk);
  BOOST_TEST(v::event::address(ev[1]) == kSecret);
  BOOST_TEST(v::event::flags(ev[1]) == (v::event::kFlagPr | v::event::kFlagPe | v::event::kFlagRw));
  BOOST_TEST(v::event::device_id(ev[2]) == kNic);
  BOOST_TEST(v::event::address(ev[2]) == kRegion);
  BOOST_TEST(drv.read_events(ev, 8) == 0u);
  BOOST_TEST(iommu.mmio_read(v::mmio::kEventLogHead, 4) == 48u);
  BOOST_TEST(!drv.event_overflow());
  BOOST_TEST(drv.is_protected(0, kRam));
  BOOST_TEST(drv.protect(kSecret, kPage).is_ok());
}

BOOST_FIXTURE_TEST_CASE(a_dte_cached_before_the_launch_stays_until_enable_invalidates_it, Fixture) {
  // The untrusted pre-launch environment turned the IOMMU on over an all-zero table (V = 0:
  // no translation) at the very region the loader names, and let the NIC do DMA: its DTE is cached.
  iommu.mmio_write(v::mmio::kDevTableBase, 8, kRegion | 0x1FF);
  iommu.mmio_write(v::mmio::kControl, 8, v::control::kIommuEn);
  BOOST_TEST(nic.run(e::kOpRead, kSecret, 0, 8) == e::kDone);
  BOOST_TEST(iommu.dte_cache_entries() == 1u);
  // While enable() runs: right after the write that sets IommuEn (table written, nothing
  // invalidated yet) the cached V = 0 entry still lets the NIC in ...
  int landed = -1;
  regs.after_write = [&](uint32_t off, uint32_t val) {
    if (off == v::mmio::kControl && (val & v::control::kIommuEn) && landed < 0)
      landed = nic.run(e::kOpFill, 0, kSecret, 8, 0x4141414141414141ull) == e::kDone;
  };
  const Status st = enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(landed == 1);
  BOOST_TEST(r64(kSecret) == 0x4141414141414141ull);
  // ... and INVALIDATE_IOMMU_ALL (step 5 of the protocol) ends it.
  BOOST_TEST(iommu.dte_cache_entries() == 0u);
  BOOST_TEST(nic.run(e::kOpFill, 0, kSecret, 8, 0) == e::kFault);
  BOOST_TEST(r64(kSecret) == 0x4141414141414141ull);
}

BOOST_AUTO_TEST_CASE(without_iasup_every_dte_is_invalidated_one_by_one) {
  Fixture f(sim::AmdIommuConfig{.ext_features = v::ext_feature::kHats6Levels});
  f.iommu.mmio_write(v::mmio::kDevTableBase, 8, kRegion | 0x1FF);
  f.iommu.mmio_write(v::mmio::kControl, 8, v::control::kIommuEn);
  BOOST_TEST(f.disk.run(e::kOpRead, kSecret, 0, 8) == e::kDone);  // a stale V = 0 entry for 01:00.0
  const Status st = f.enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(f.iommu.stats().commands == 65536u + 4096u);  // 16 INVALIDATE_DEVTAB_ENTRY per COMPLETION_WAIT
  BOOST_TEST(f.iommu.stats().illegal_commands == 0u);
  BOOST_TEST(f.disk.run(e::kOpRead, kSecret, 0, 8) == e::kFault);
}

BOOST_FIXTURE_TEST_CASE(a_grant_opens_exactly_its_pages_to_exactly_that_device, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  BOOST_TEST_REQUIRE(drv.set_page_table_pool(kPool, 16 * kPage).is_ok());
  Status st = drv.grant(kNic, 0x10000, kWindow, 2 * kPage, true, true);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  st = drv.grant(kNic, 0x40000, kSecret, kPage, true, false);  // read-only
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  // The NIC copies the read-only page into its window, through I/O virtual addresses.
  BOOST_TEST(nic.run(e::kOpCopy, 0x40000, 0x10000 + 0x800, 0x1000) == e::kDone);
  BOOST_TEST(all(kWindow + 0x800, 0x5E, 0x1000));
  BOOST_TEST(all(kWindow, 0, 0x800));
  BOOST_TEST(r64(0x10800) == 0u);  // nothing at the physical address equal to the iova
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x40000, 8, 0) == e::kFault);  // read-only
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x12000, 8, 0) == e::kFault);  // past the window
  BOOST_TEST(nic.run(e::kOpFill, 0, kWindow, 8, 0) == e::kFault);  // the window's physical address: not mapped
  BOOST_TEST(disk.run(e::kOpFill, 0, 0x10000, 8, 0) == e::kFault);  // another device
  BOOST_TEST(all(kSecret, 0x5E, kPage));
  v::Event ev[8];
  BOOST_TEST_REQUIRE(drv.read_events(ev, 8) == 4u);
  BOOST_TEST(v::event::address(ev[0]) == 0x40000u);
  BOOST_TEST(v::event::flags(ev[0]) == (v::event::kFlagPr | v::event::kFlagPe | v::event::kFlagRw));
  BOOST_TEST(v::event::domain_id(ev[0]) == kNic + 1u);  // the driver's domain: DeviceID + 1
  BOOST_TEST(v::event::flags(ev[1]) == v::event::kFlagRw);  // not present
  BOOST_TEST(v::event::address(ev[2]) == kWindow);
  BOOST_TEST(v::event::device_id(ev[3]) == kDisk);
  BOOST_TEST(!drv.is_protected(kWindow, 1));
  BOOST_TEST(drv.is_protected(kWindow + 2 * kPage, kPage));
}

// IOTLB invalidation when a mapping changes: the driver's tables changed behind the
// IOMMU's back stay in force for the device until INVALIDATE_IOMMU_PAGES.
BOOST_FIXTURE_TEST_CASE(a_changed_mapping_is_stale_until_invalidate_iommu_pages, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  BOOST_TEST_REQUIRE(drv.set_page_table_pool(kPool, 16 * kPage).is_ok());
  BOOST_TEST_REQUIRE(drv.grant(kNic, 0x10000, kWindow, kPage, true, true).is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x11) == e::kDone);
  BOOST_TEST(r64(kWindow) == 0x11u);
  // The mapping moves to the next page (say, the hypervisor rebalanced a guest), no invalidation.
  const uint64_t leaf = leaf_of(kNic, 0x10000);
  BOOST_TEST((r64(leaf) & v::pte::kAddrMask) == kWindow);
  w64(leaf, (kWindow + kPage) | v::pte::kIr | v::pte::kIw | v::pte::kPr);
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x22) == e::kDone);
  BOOST_TEST(r64(kWindow) == 0x22u);  // stale: the old page
  BOOST_TEST(r64(kWindow + kPage) == 0u);
  // The next grant of the driver invalidates the domain's pages (S = 1, PDE = 1) and waits.
  const size_t before = iommu.executed().size();
  BOOST_TEST_REQUIRE(drv.grant(kNic, 0x20000, kWindow + 4 * kPage, kPage, true, true).is_ok());
  BOOST_TEST(std::vector<uint32_t>(iommu.executed().begin() + before, iommu.executed().end()) ==
             (std::vector<uint32_t>{v::kInvalidateDevTabEntry, v::kInvalidateIommuPages, v::kCompletionWait}));
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x33) == e::kDone);
  BOOST_TEST(r64(kWindow + kPage) == 0x33u);
  BOOST_TEST(r64(kWindow) == 0x22u);
  // Revoked (PR = 0) without invalidation: the device keeps writing; INVALIDATE_IOMMU_ALL ends it.
  w64(leaf, 0);
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x44) == e::kDone);
  BOOST_TEST(r64(kWindow + kPage) == 0x44u);
  BOOST_TEST_REQUIRE(drv.invalidate_all().is_ok());
  BOOST_TEST(nic.run(e::kOpFill, 0, 0x10000, 8, 0x55) == e::kFault);
  BOOST_TEST(r64(kWindow + kPage) == 0x44u);
}

BOOST_FIXTURE_TEST_CASE(a_later_stage_attaches_and_continues_the_command_ring, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  x86::AmdDev dev_drv{io, phys};
  x86::AmdIommu later{io, phys, &regs};
  x86::DmaProtectionSelector sel{dev_drv, later};
  const Status st = sel.attach();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(std::string(sel.name()) == "AMD-Vi");
  BOOST_TEST_REQUIRE(later.invalidate_all().is_ok());
  BOOST_TEST(iommu.mmio_read(v::mmio::kCmdBufHead, 4) == 64u);
  BOOST_TEST(iommu.mmio_read(v::mmio::kCmdBufTail, 4) == 64u);
  BOOST_TEST(r64(kRegion + L::kWaitWord) == 1u);  // the later driver's own sequence starts at 1 again
  // A device wrote a DTE after the enable? Impossible (the table protects itself): the NIC tries.
  BOOST_TEST(nic.run(e::kOpFill, 0, kRegion + uint64_t(kNic) * 32, 8, 0) == e::kFault);
  x86::AmdIommu third{io, phys, &regs};
  BOOST_TEST(third.attach().is_ok());
}

BOOST_FIXTURE_TEST_CASE(the_event_log_overflow_is_reported, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  for (int i = 0; i < 300; ++i) nic.run(e::kOpRead, kSecret, 0, 8);
  BOOST_TEST(drv.event_overflow());
  v::Event ev[300];
  BOOST_TEST(drv.read_events(ev, 300) == 255u);
  BOOST_TEST(iommu.stats().events_dropped == 45u);
}

// The simulator's machine has both: the DEV is chosen (as the SL and the hypervisor do on
// the full-system machine), AMD-Vi stays off, and the DEV blocks the engine on its pages.
BOOST_FIXTURE_TEST_CASE(with_a_dev_present_the_dev_is_chosen_and_blocks_the_engine, Fixture) {
  sim::AmdDevBridge bridge{dev, mem};
  bridge.plug_into(pci);
  x86::AmdDev dev_drv{io, phys};
  x86::AmdIommu iommu_drv{io, phys, &regs};
  x86::DmaProtectionSelector sel{dev_drv, iommu_drv};
  const x86::PhysRange initial[] = {{kSecret, kPage}};
  const Status st = sel.enable(kRegion, L::kBytes, initial, 1);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(std::string(sel.name()) == "AMD DEV");
  BOOST_TEST(!iommu.enabled());
  BOOST_TEST(nic.run(e::kOpRead, kSecret + 8, 0, 8) == e::kFault);
  BOOST_TEST(nic.fault_info() == (e::kBlockerDev << 8));
  BOOST_TEST(nic.fault_addr() == kSecret + 8);
  BOOST_TEST(disk.run(e::kOpFill, 0, kRegion + 0x100, 8, 0) == e::kFault);  // the DEV table protects itself
  BOOST_TEST(disk.run(e::kOpFill, 0, kWindow, 8, 0x77) == e::kDone);        // unprotected memory
  BOOST_TEST(r64(kWindow) == 0x77u);
  BOOST_TEST_REQUIRE(dma.faults().size() == 2u);
  BOOST_TEST(dma.faults()[1].device_id == kDisk);
  BOOST_TEST(dma.faults()[1].by == sim::DmaBlocker::dev);
}
