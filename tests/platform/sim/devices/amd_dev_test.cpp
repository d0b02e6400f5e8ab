// PCI configuration mechanism #1 and the simulated DEV registers: the DEV
// follows the in-memory table once DEV_EN is set.
#define BOOST_TEST_MODULE sim_amd_dev
#include <boost/test/unit_test.hpp>

#include "arch/amd/dev.hpp"
#include "arch/x86/pci.hpp"
#include "platform/sim/devices/amd_dev.hpp"

using namespace redoubt;
namespace d = redoubt::arch::amd_dev;

namespace {
struct Fixture {
  sim::PhysicalMemory mem{16 << 20};
  sim::DeviceExclusionVector dev{mem.size()};
  sim::DmaPort dma{mem, dev};
  sim::PciConfigPorts pci;
  sim::AmdDevBridge bridge{dev, mem};
  Fixture() { bridge.plug_into(pci); }
  uint32_t cfg(uint8_t b, uint8_t dv, uint8_t f, uint8_t reg) {
    pci.out(0xCF8, 4, arch::pci::config_address(b, dv, f, reg));
    return pci.in(0xCFC, 4);
  }
  void cfg_w(uint8_t reg, uint32_t v) {
    pci.out(0xCF8, 4, arch::pci::config_address(0, 0x18, 3, reg));
    pci.out(0xCFC, 4, v);
  }
  uint32_t dev_r(uint32_t fn, uint32_t idx) {
    cfg_w(0xF4, fn << 8 | idx);
    return cfg(0, 0x18, 3, 0xF8);
  }
  void dev_w(uint32_t fn, uint32_t idx, uint32_t v) {
    cfg_w(0xF4, fn << 8 | idx);
    cfg_w(0xF8, v);
  }
  bool dma_ok(uint64_t pa) {
    const uint8_t b = 0xAB;
    return dma.write("nic", pa, {&b, 1});
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(mechanism_1_and_the_host_bridge_header, Fixture) {
  BOOST_TEST(cfg(0, 0x18, 3, 0x00) == 0x12031022u);   // AMD, family 10h F3
  BOOST_TEST(cfg(0, 0x18, 2, 0x00) == 0xFFFFFFFFu);   // no such function: master abort
  BOOST_TEST(cfg(1, 0x18, 3, 0x00) == 0xFFFFFFFFu);
  BOOST_TEST(pci.in(0xCF8, 4) == 0x8001C300u);  // the last address latched (bus 1)
  pci.out(0xCF8, 4, 0x0000C000u);                       // enable bit clear: not a config cycle
  BOOST_TEST(pci.in(0xCFC, 4) == 0xFFFFFFFFu);
  pci.out(0xCF8, 4, arch::pci::config_address(0, 0x18, 3, 0x00));
  BOOST_TEST(pci.in(0xCFE, 2) == 0x1203u);              // byte lanes of CONFIG_DATA
  BOOST_TEST(pci.in(0xCFD, 1) == 0x10u);
  BOOST_TEST(((cfg(0, 0x18, 3, 0x04) >> 16) & arch::pci::kStatusCapList) != 0u);
  BOOST_TEST(cfg(0, 0x18, 3, 0x34) == 0xF0u);
  BOOST_TEST((cfg(0, 0x18, 3, 0xF0) & 0x0700FFu) == 0x0Fu);  // DEV capability, no next, type 0
}

BOOST_FIXTURE_TEST_CASE(dev_registers_through_op_and_data, Fixture) {
  BOOST_TEST(dev_r(d::kDevCap, 0) == (1u | 2u << 8 | 4u << 16));
  dev_w(d::kDevBaseLo, 0, 0x00200000u | d::base_lo::kValid | 0x800u /* reserved bit */);
  BOOST_TEST(dev_r(d::kDevBaseLo, 0) == (0x00200000u | d::base_lo::kValid));
  dev_w(d::kDevMap, 3, 0x12345678u);
  BOOST_TEST(dev_r(d::kDevMap, 3) == 0x12345678u);
  BOOST_TEST(dev_r(d::kDevMap, 4) == 0u);  // beyond DEV_CAP's map count
  BOOST_TEST(dev_r(d::kDevCr, 0) == 0u);
  dev.protect(0x100000, 0x10000);          // what SKINIT does to the SLB
  BOOST_TEST(dev_r(d::kDevCr, 0) == d::cr::kSlDevEn);
}

BOOST_FIXTURE_TEST_CASE(dev_en_attaches_the_table_in_memory, Fixture) {
  const uint64_t table = 0x200000;
  uint8_t* t = mem.map(table, d::kMinTableBytes);
  t[0x800000 / 4096 / 8] = 0x01;              // page 0x800000
  t[table / 4096 / 8] = 0xFF;                 // the table's first 8 pages...
  for (int i = 1; i < 4; ++i) t[table / 4096 / 8 + i] = 0xFF;  // ...all 32 (128 KiB)
  BOOST_TEST(dma_ok(0x800000));                // not enabled yet
  dev_w(d::kDevBaseHi, 0, 0);
  dev_w(d::kDevBaseLo, 0, uint32_t(table) | d::base_lo::kValid);
  BOOST_TEST(dma_ok(0x800000));                // valid base, DEV_EN still clear
  dev_w(d::kDevCr, 0, d::cr::kDevEn | d::cr::kInvalidate);
  BOOST_TEST(dev_r(d::kDevCr, 0) == d::cr::kDevEn);  // INV self-clears
  BOOST_TEST(!dma_ok(0x800000));
  BOOST_TEST(dma_ok(0x801000));
  BOOST_TEST(dma_ok(0x7FF000));
  BOOST_TEST(!dma_ok(table + 0x1F000));        // the table protects itself
  BOOST_TEST(dma_ok(table + 0x20000));
  t[0x900000 / 4096 / 8] |= 0x01;              // a CPU write to the table counts at once (no DEV cache)
  BOOST_TEST(!dma_ok(0x900000));
  dev_w(d::kDevCr, 0, 0);                      // DEV off: the table no longer applies
  BOOST_TEST(dma_ok(0x800000));
  BOOST_TEST(dma.faults().size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(protect_bit_and_a_table_outside_ram_fail_closed, Fixture) {
  sim::DeviceExclusionVector big(1ull << 33);  // a DEV for 8 GiB of address space, table covering 4 GiB
  big.attach_table(mem, 0x200000, d::coverage(0), true);
  BOOST_TEST(big.page_protected((1ull << 32) + 0x1000));   // above coverage with P
  big.attach_table(mem, 0x200000, d::coverage(0), false);
  BOOST_TEST(!big.page_protected((1ull << 32) + 0x1000));
  big.attach_table(mem, mem.size() - 16, d::coverage(0), false);  // most of the table beyond RAM
  BOOST_TEST(big.page_protected(0x10000000));
  BOOST_TEST(!big.page_protected(0x0));
}
