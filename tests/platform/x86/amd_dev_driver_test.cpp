// The DEV driver (platform/x86/drivers/amd_dev) against the simulated host bridge
// and DEV: after protect(), the simulated bus master is blocked exactly on those
// pages; the enable protocol detects a DMA write to the table before the enable.
#define BOOST_TEST_MODULE x86_amd_dev_driver
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "arch/amd/dev.hpp"
#include "platform/sim/devices/amd_dev.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kTable = 0x200000;
constexpr uint64_t kSlb = 0x100000;

struct Fixture {
  sim::PhysicalMemory mem{32 << 20};
  sim::DeviceExclusionVector dev{mem.size()};
  sim::DmaPort dma{mem, dev};
  sim::PciConfigPorts pci;
  sim::AmdDevBridge bridge{dev, mem};
  devtest::FnPortBus io;
  devtest::SimPhysMem phys{mem};
  x86::AmdDev drv{io, phys};
  std::function<void(uint16_t, uint32_t)> before_out;  // attack hook
  Fixture() {
    bridge.plug_into(pci);
    io.in = [this](uint16_t p, unsigned s) { return pci.claims(p) ? pci.in(p, s) : (s == 4 ? ~0u : (1u << (8 * s)) - 1); };
    io.out = [this](uint16_t p, unsigned s, uint32_t v) {
      if (before_out) before_out(p, v);
      if (pci.claims(p)) pci.out(p, s, v);
    };
    dev.protect(kSlb, 0x10000);  // SKINIT's SLB protection (SL_DEV_EN)
  }
  bool dma_ok(uint64_t pa) {
    const uint8_t b = 0x5A;
    return dma.write("disk", pa, {&b, 1});
  }
};

std::set<uint64_t> pages_of(uint64_t pa, uint64_t n) {
  std::set<uint64_t> s;
  for (uint64_t p = pa / kPage; p <= (pa + n - 1) / kPage; ++p) s.insert(p);
  return s;
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(find_reads_the_capability, Fixture) {
  BOOST_TEST_REQUIRE(drv.find().is_ok());
  BOOST_TEST(drv.cap_offset() == 0xF0);
  BOOST_TEST(drv.domains() == 2u);
  BOOST_TEST(drv.maps() == 4u);
}

BOOST_FIXTURE_TEST_CASE(protect_blocks_exactly_those_pages, Fixture) {
  const x86::PhysRange initial[] = {{kSlb, 0x10000}};
  Status st = drv.enable(kTable, 128 * 1024, initial, 1);
  BOOST_TEST_REQUIRE(st.is_ok(), st.message());
  BOOST_TEST(drv.covered() == (1ull << 32));
  BOOST_TEST(bridge.dev_enabled());
  BOOST_TEST((bridge.dev_read(arch::amd_dev::kDevCr, 0) & arch::amd_dev::cr::kSlDevEn) != 0u);

  hal::DmaProtection& dma_prot = drv;
  BOOST_TEST_REQUIRE(dma_prot.protect(0x800800, 3 * kPage + 1).is_ok());  // touches 0x800000..0x803FFF: 4 pages
  BOOST_TEST_REQUIRE(dma_prot.protect(0x1FFF000, kPage).is_ok());         // the last page of RAM
  BOOST_TEST(dma_prot.is_protected(0x800000, 4 * kPage));
  BOOST_TEST(!dma_prot.is_protected(0x800000, 5 * kPage));

  std::set<uint64_t> want;
  const std::pair<uint64_t, uint64_t> ranges[] = {{kSlb, 0x10000}, {kTable, 0x20000}, {0x800800, 3 * kPage + 1}, {0x1FFF000, kPage}};
  for (auto [pa, n] : ranges) {
    const auto s = pages_of(pa, n);
    want.insert(s.begin(), s.end());
  }
  BOOST_TEST(want.size() == 16u + 32u + 4u + 1u);
  uint64_t blocked = 0;
  for (uint64_t p = 0; p < mem.size() / kPage; ++p) {
    const bool ok = dma_ok(p * kPage + 0x7FF);
    BOOST_TEST(ok == !want.count(p), "page 0x" << std::hex << p * kPage);
    blocked += !ok;
  }
  BOOST_TEST(blocked == want.size());
  BOOST_TEST(dma.faults().size() == want.size());
}

BOOST_FIXTURE_TEST_CASE(a_dma_write_to_the_table_before_the_enable_is_detected, Fixture) {
  bool attacked = false;
  before_out = [&](uint16_t port, uint32_t v) {
    // The moment the driver selects DEV_CR (function 4), the table is written but DEV is off:
    // a bus master clears the bits of the page at 0x100000 (the SLB) in the table.
    if (port == 0xCFC && v == (arch::amd_dev::kDevCr << 8) && !attacked) {
      const uint8_t zero = 0;
      attacked = dma.write("evil", kTable + kSlb / kPage / 8, {&zero, 1});
    }
  };
  const x86::PhysRange initial[] = {{kSlb, 0x10000}};
  const Status st = drv.enable(kTable, 128 * 1024, initial, 1);
  BOOST_TEST(attacked);
  BOOST_TEST(st.code() == Err::fault);
  BOOST_TEST(std::string(st.message()).find("changed by DMA before the enable") != std::string::npos, st.message());
}

BOOST_FIXTURE_TEST_CASE(bad_table_regions_are_refused, Fixture) {
  Status st = drv.enable(kTable + 0x800, 128 * 1024, nullptr, 0);
  BOOST_TEST(std::string(st.message()).find("aligned") != std::string::npos, st.message());
  st = drv.enable(kTable, 64 * 1024, nullptr, 0);
  BOOST_TEST(std::string(st.message()).find("128 KiB") != std::string::npos, st.message());
  st = drv.enable(mem.size() - 0x10000, 128 * 1024, nullptr, 0);
  BOOST_TEST(st.code() == Err::fault, st.message());
  BOOST_TEST(drv.protect(0x800000, kPage).code() == Err::internal);  // never enabled
}
