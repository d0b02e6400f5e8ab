// The Intel full-system machine's DMA path (FullSystemOptions::dma_remapping = vtd):
// a VT-d unit at 0xFED90000 on the CPU's bus between every DMA engine and memory,
// no DEV and no AMD-Vi; PMRs programmed through the bus as TXT's SINIT writes them
// (PLMBASE/PLMLIMIT/PHMBASE/PHMLIMIT, then PMEN) block an engine before anything
// else runs; the real VT-d driver, driving the unit through the same bus, takes
// over from the PMRs and blocks every requester.
#define BOOST_TEST_MODULE full_system_vtd
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "abi/dma_engine.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/x86/drivers/vtd.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
namespace e = redoubt::abi::dma_engine;
namespace v = redoubt::arch::vtd;

namespace {
constexpr uint64_t kVtd = 0xFED90000;
constexpr uint64_t kMle = 0x1000000, kMleSize = 0x200000;  // what SINIT protects: [16 MiB, 18 MiB)
constexpr uint64_t kGuest = 0x3000000;

uint32_t config_read(sim::Bus& bus, uint8_t b, uint8_t d, uint8_t f, uint8_t reg) {
  bus.out(0xCF8, 4, 0x80000000u | (uint32_t(b) << 16) | (uint32_t(d) << 11) | (uint32_t(f) << 8) | reg);
  return bus.in(0xCFC, 4);
}

// The unit's registers through the CPU's bus, as code in the machine reaches them.
struct BusMmio final : x86::Mmio {
  sim::Bus& bus;
  explicit BusMmio(sim::Bus& b) : bus(b) {}
  uint8_t read8(uint64_t off) override { return uint8_t(read32(off & ~3ull) >> (8 * (off & 3))); }
  uint32_t read32(uint64_t off) override {
    uint64_t val = 0;
    return bus.mmio_read(kVtd + off, 4, val) ? uint32_t(val) : ~0u;
  }
  void write8(uint64_t, uint8_t) override {}
  void write32(uint64_t off, uint32_t val) override { bus.mmio_write(kVtd + off, 4, val); }
};

struct MachineMem final : hal::PhysMem {
  sim::PhysicalMemory& m;
  explicit MachineMem(sim::PhysicalMemory& mem) : m(mem) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return m.map(pa, n); }
};

struct Rig {
  TempDir dir;
  std::unique_ptr<tpm::TpmDevice> tpm = fresh_inproc_tpm(dir / "tpm");
  sim::Machine m;
  std::unique_ptr<sim::FullSystem> sys = std::make_unique<sim::FullSystem>(
      m, *tpm, [](std::string_view) {},
      sim::FullSystemOptions{.max_instructions = 1'000'000, .dma_remapping = sim::FullSystemOptions::DmaRemapping::vtd});
  Rig() {
    std::memset(m.mem().map(kMle, kMleSize), 0xC3, kMleSize);
    std::memset(m.mem().map(kGuest, 4096), 0x5E, 4096);
  }
  bool all(uint64_t pa, uint8_t b, size_t n) {
    const uint8_t* p = m.mem().map(pa, n);
    for (size_t i = 0; i < n; ++i)
      if (p[i] != b) return false;
    return true;
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(an_intel_machine_has_vtd_and_neither_the_dev_nor_amd_vi, Rig) {
  sim::Bus& bus = sys->bus();
  BOOST_TEST(config_read(bus, 0, 2, 0, 0x00) == 0xFFFFFFFFu);     // no AMD-Vi function
  BOOST_TEST(config_read(bus, 0, 0x18, 3, 0x00) == 0xFFFFFFFFu);  // no DEV host bridge
  BOOST_TEST(config_read(bus, 0, 4, 0, 0x00) == 0x52441234u);     // the engines are there
  BOOST_TEST_REQUIRE(sys->vtd() != nullptr);
  BOOST_TEST(m.dma().remapper() == sys->vtd());
  BOOST_CHECK_THROW(sys->iommu(), std::logic_error);
  uint64_t cap = 0;
  BOOST_TEST(bus.mmio_read(kVtd + v::reg::kCap, 8, cap));
  BOOST_TEST(cap == sim::vtd_defaults::kCap);
  // Reset: no translation, no PMR: an engine reaches anything.
  BOOST_TEST(sys->dma_engine(0).run(e::kOpRead, kMle, 0, 8) == e::kDone);
  sys.reset();
  BOOST_TEST(m.dma().remapper() == nullptr);
}

BOOST_FIXTURE_TEST_CASE(pmrs_written_through_the_bus_as_sinit_does_then_the_driver_takes_over, Rig) {
  sim::Bus& bus = sys->bus();
  sim::DmaEngine& eng = sys->dma_engine(2);  // 01:00.0
  // SINIT (Intel TXT MLE Developer's Guide: the PMRs cover the MLE), dword writes at 0xFED90000.
  BOOST_TEST(bus.mmio_write(kVtd + v::reg::kPlmbase, 4, kMle));
  BOOST_TEST(bus.mmio_write(kVtd + v::reg::kPlmlimit, 4, kMle + kMleSize - (2u << 20)));
  BOOST_TEST(bus.mmio_write(kVtd + v::reg::kPhmbase, 4, 0));
  BOOST_TEST(bus.mmio_write(kVtd + v::reg::kPhmlimit, 4, 0));
  BOOST_TEST(bus.mmio_write(kVtd + v::reg::kPmen, 4, v::pmen::kEpm));
  uint64_t pmen = 0;
  BOOST_TEST(bus.mmio_read(kVtd + v::reg::kPmen, 4, pmen));
  BOOST_TEST(pmen == (v::pmen::kEpm | v::pmen::kPrs));
  BOOST_TEST(eng.run(e::kOpFill, 0, kMle + 0x1000, 64, 0x41) == e::kFault);
  BOOST_TEST(eng.run(e::kOpRead, kMle + kMleSize - 8, 0, 8) == e::kFault);
  BOOST_TEST(eng.run(e::kOpRead, kMle + kMleSize, 0, 8) == e::kDone);  // just above the region
  BOOST_TEST(eng.run(e::kOpRead, kGuest, 0, 8) == e::kDone);            // translation is still off
  BOOST_TEST(all(kMle, 0xC3, kMleSize));
  // The hypervisor's driver, over the bus, with its root table and pool inside the PMR.
  BusMmio regs(bus);
  MachineMem mem(m.mem());
  x86::Vtd drv(mem, &regs);
  const x86::PhysRange hv[] = {{kMle, 0x100000}};
  BOOST_TEST_REQUIRE(drv.set_page_table_pool(kMle + 0x110000, 0x20000).is_ok());
  const Status st = drv.enable(kMle + 0x100000, hv, 1);
  BOOST_TEST_REQUIRE(st.is_ok(), st.message());
  BOOST_TEST(sys->vtd()->translation_enabled());
  BOOST_TEST(!sys->vtd()->pmr_enabled());
  BOOST_TEST(eng.run(e::kOpRead, kGuest, 0, 8) == e::kFault);
  BOOST_TEST(eng.run(e::kOpFill, 0, kMle, 8, 0) == e::kFault);
  x86::VtdFault f[4];
  BOOST_TEST_REQUIRE(drv.read_faults(f, 4) == 2u);
  BOOST_TEST(f[0].sid == 0x0100u);
  BOOST_TEST(f[0].reason == v::kFrRootNotPresent);
  BOOST_TEST(f[0].page == kGuest);
  BOOST_TEST(f[1].write);
  // A grant for the engine: a guest page at IOVA 0, through the machine's DMA path.
  BOOST_TEST_REQUIRE(drv.grant(0x0100, 0, kGuest, 4096, true, true).is_ok());
  BOOST_TEST(eng.run(e::kOpRead, 0x10, 0, 8) == e::kDone);
  BOOST_TEST(eng.buffer()[0] == 0x5E);
  BOOST_TEST(all(kMle, 0xC3, 0x100000));  // the hypervisor's part (its tables follow)
}
