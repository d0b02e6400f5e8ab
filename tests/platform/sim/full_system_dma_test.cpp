// The DMA-capable devices in the full-system machine: the AMD-Vi IOMMU and the DMA
// engines answer on the CPU's buses (PCI configuration cycles, MMIO), machine code
// the simulated CPU executes can program an engine, and after a real launch (the
// measured sl.bin and hv.bin, which still choose the DEV here) an engine programmed
// by the untrusted side of the harness is blocked by the SL's DEV on the measured
// pages (and, since the DEV → AMD-Vi hand-off, by AMD-Vi in front of it) with the PCRs those of a machine without them.
#define BOOST_TEST_MODULE full_system_dma
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "abi/dma_engine.hpp"
#include "arch/amd/iommu.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "platform/sim/full_system.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
namespace e = redoubt::abi::dma_engine;

namespace {

uint32_t config_read(sim::Bus& bus, uint8_t b, uint8_t d, uint8_t f, uint8_t reg) {
  bus.out(0xCF8, 4, 0x80000000u | (uint32_t(b) << 16) | (uint32_t(d) << 11) | (uint32_t(f) << 8) | reg);
  return bus.in(0xCFC, 4);
}

uint64_t mmio(sim::Bus& bus, uint64_t pa, unsigned size) {
  uint64_t val = 0;
  BOOST_TEST_REQUIRE(bus.mmio_read(pa, size, val));
  return val;
}

struct Rig {
  TempDir dir;
  std::unique_ptr<tpm::TpmDevice> tpm = fresh_inproc_tpm(dir / "tpm");
  sim::Machine m;
  std::vector<std::string> console;
  std::unique_ptr<sim::FullSystem> sys = std::make_unique<sim::FullSystem>(
      m, *tpm, [this](std::string_view l) { console.emplace_back(l); }, sim::FullSystemOptions{2'000'000'000ull});
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_iommu_and_three_dma_engines_are_on_the_cpus_buses, Rig) {
  sim::Bus& bus = sys->bus();
  BOOST_TEST(config_read(bus, 0, 2, 0, 0x00) == 0x14191022u);   // AMD-Vi, 00:02.0
  BOOST_TEST(config_read(bus, 0, 2, 0, 0x44) == 0xFED80001u);
  BOOST_TEST(config_read(bus, 0, 0x18, 3, 0x00) == 0x12031022u);  // the DEV's host bridge, unchanged
  BOOST_TEST(config_read(bus, 0, 4, 0, 0x00) == 0x52441234u);   // engine 0, 00:04.0
  BOOST_TEST(config_read(bus, 0, 5, 0, 0x10) == 0xFEB02000u);   // engine 1's BAR0
  BOOST_TEST(config_read(bus, 1, 0, 0, 0x10) == 0xFEB04000u);   // engine 2, 01:00.0
  BOOST_TEST(config_read(bus, 0, 6, 0, 0x00) == 0xFFFFFFFFu);   // nothing at 00:06.0
  BOOST_TEST(sys->dma_engine_count() == 3u);
  BOOST_TEST(sys->dma_engine(2).device_id() == 0x0100u);
  BOOST_TEST(sys->dma_engine(2).name() == "dma2@01:00.0");
  BOOST_TEST(mmio(bus, 0xFED80030, 8) == sys->iommu().mmio_read(0x30, 8));
  BOOST_TEST(mmio(bus, 0xFEB00000, 4) == e::kIdValue);
  BOOST_TEST(mmio(bus, 0xFEB04008, 4) == 0x0100u);
  BOOST_TEST(mmio(bus, 0xFEB06000, 4) == 0xFFFFFFFFu);  // in the window, no BAR there
  // Present, unassigned, and the IOMMU off (pass-through): the machine is as the demo knows it.
  BOOST_TEST(!sys->iommu().enabled());
  BOOST_TEST(m.dma().remapper() == &sys->iommu());
  sys.reset();
  BOOST_TEST(m.dma().remapper() == nullptr);
}

// Machine code on the simulated CPU (32-bit flat protected mode, paging off, as SKINIT
// leaves it) programs engine 1 through its BAR, reads STATUS and a PCI ID, and powers off.
BOOST_FIXTURE_TEST_CASE(code_on_the_simulated_cpu_programs_an_engine, Rig) {
  constexpr uint32_t kCode = 0x100000, kSrc = 0x200000, kDst = 0x300000, kOut = 0x400000, kBar = 0xFEB02000;
  std::memset(m.mem().map(kSrc, 64), 0xC3, 64);
  std::vector<uint8_t> code;
  auto u32 = [&](uint32_t x) { for (int i = 0; i < 4; ++i) code.push_back(uint8_t(x >> (8 * i))); };
  auto store = [&](uint32_t addr, uint32_t imm) { code.push_back(0xC7); code.push_back(0x05); u32(addr); u32(imm); };
  store(kBar + e::kSrc, kSrc);
  store(kBar + e::kSrc + 4, 0);
  store(kBar + e::kDst, kDst);
  store(kBar + e::kDst + 4, 0);
  store(kBar + e::kLen, 48);
  store(kBar + e::kOp, e::kOpCopy);
  store(kBar + e::kDoorbell, e::kGo);
  code.push_back(0xA1); u32(kBar + e::kStatus);                 // mov eax, [STATUS]
  code.push_back(0xA3); u32(kOut);                              // mov [kOut], eax
  code.push_back(0xB8); u32(0x80002800u);                       // mov eax, 00:05.0 reg 0
  code.insert(code.end(), {0x66, 0xBA, 0xF8, 0x0C, 0xEF});      // mov dx, 0xCF8; out dx, eax
  code.insert(code.end(), {0x66, 0xBA, 0xFC, 0x0C, 0xED});      // mov dx, 0xCFC; in eax, dx
  code.push_back(0xA3); u32(kOut + 4);                          // mov [kOut + 4], eax
  code.insert(code.end(), {0xB0, 0x00, 0xE6, 0xF4, 0xF4});      // mov al, 0; out 0xF4, al; hlt
  m.mem().write(kCode, code);

  sim::cpu::Cpu& c = sys->cpu();
  c.cr0 = x86::kCr0Pe | x86::kCr0Et;
  const uint16_t code_attr = uint16_t(0xB | x86::kSegS | x86::kSegPresent | x86::kSegDb | x86::kSegG);
  const uint16_t data_attr = uint16_t(0x3 | x86::kSegS | x86::kSegPresent | x86::kSegDb | x86::kSegG);
  c.cs = sim::Segment{0x08, 0, 0xFFFFFFFF, code_attr};
  c.ss = c.ds = c.es = c.fs = c.gs = sim::Segment{0x10, 0, 0xFFFFFFFF, data_attr};
  c.set_rflags(2);
  c.cpl = 0;
  c.gpr[sim::cpu::RSP] = 0x1F0000;
  c.rip() = kCode;
  c.flush_tlb_all_current();
  c.update_mode();
  BOOST_TEST(int(sys->run()) == int(sim::cpu::Stop::poweroff));
  BOOST_TEST(sys->exit_status() == 1);
  uint32_t out[2];
  std::memcpy(out, m.mem().map(kOut, 8), 8);
  BOOST_TEST(out[0] == e::kDone);
  BOOST_TEST(out[1] == 0x52441234u);
  const uint8_t* dst = m.mem().map(kDst, 64);
  BOOST_TEST(std::vector<uint8_t>(dst, dst + 48) == std::vector<uint8_t>(48, 0xC3));
  BOOST_TEST(dst[48] == 0);
  BOOST_TEST(sys->dma_engine(1).status() == e::kDone);
}

// The demo launch on a machine with the new devices: the SL chooses the DEV, the hypervisor
// enables AMD-Vi under it (docs/dma.md "The DEV → AMD-Vi hand-off"); PCR17 from first principles
// (nothing measured depends on it); afterwards the attacker's engines are blocked everywhere,
// first by AMD-Vi (every DeviceID blocked), and on the measured pages by the DEV behind it.
BOOST_AUTO_TEST_CASE(after_a_real_launch_amdvi_and_the_dev_block_the_attackers_engines) {
  LaunchKit kit;
  auto tpm = fresh_inproc_tpm(kit.dir / "tpm");
  sim::Machine m;
  std::vector<std::string> console;
  sim::FullSystem sys(m, *tpm, [&](std::string_view l) { console.emplace_back(l); }, sim::FullSystemOptions{2'000'000'000ull});
  const sim::LaunchInputs in = kit.inputs();
  const sim::LaunchReport r = sys.launch(in);
  auto has = [&](const std::string& s) {
    for (const std::string& l : console)
      if (l.find(s) != std::string::npos) return true;
    return false;
  };
  BOOST_TEST_REQUIRE(r.launched, r.stage << ": " << r.reason);
  BOOST_TEST(has("[sl] DMA protection: AMD DEV enabled"));
  BOOST_TEST(has("[hv] DMA protection: AMD DEV attached"));
  BOOST_TEST(has("[hv] AMD-Vi enabled under the DEV: all 65536 DeviceIDs blocked, device table at 0x1c20000; the DEV stays on"));
  BOOST_TEST(sys.iommu().enabled());
  uint16_t length;
  std::memcpy(&length, kit.sl_sealed.data() + 2, 2);
  Bytes p17 = extend("SHA256", zeros(32), sha("SHA256", Bytes(kit.sl_sealed.begin(), kit.sl_sealed.begin() + length)));
  p17 = extend("SHA256", p17, sha("SHA256", kit.payload));
  p17 = extend("SHA256", p17, sha("SHA256", kit.hv_image));
  p17 = extend("SHA256", p17, sha("SHA256", Bytes{0, 0, 0, 0}));
  BOOST_TEST(hex(read_pcr(*tpm, HashAlg::sha256, 17)) == hex(p17));

  const uint64_t slb = in.layout.slb_base, hv = in.layout.hv_image;
  const Bytes slb_before = m.mem().read(slb, 0x10000), hv_before = m.mem().read(hv, 0x1000);
  sim::DmaEngine& nic = sys.dma_engine(0);
  sim::DmaEngine& disk = sys.dma_engine(2);
  BOOST_TEST(nic.run(e::kOpRead, slb + 0x100, 0, 4096) == e::kFault);
  BOOST_TEST(nic.fault_info() == (e::kBlockerIommu << 8));
  BOOST_TEST(nic.fault_addr() == slb + 0x100);
  BOOST_TEST(nic.buffer()[0] == 0);
  BOOST_TEST(disk.run(e::kOpFill, 0, hv, 4096, 0x9090909090909090ull) == e::kFault);
  BOOST_TEST(disk.fault_info() == ((e::kBlockerIommu << 8) | e::kInfoWrite));
  BOOST_TEST(m.mem().read(slb, 0x10000) == slb_before);
  BOOST_TEST(m.mem().read(hv, 0x1000) == hv_before);
  // Memory nobody protected (at 128 MiB, far above every launch region): AMD-Vi blocks it too.
  const uint64_t free_page = 0x8000000;
  BOOST_TEST(disk.run(e::kOpFill, 0, free_page, 64, 0x0102030405060708ull) == e::kFault);
  BOOST_TEST(m.mem().read(free_page, 8) == Bytes(8, 0));
  // The DEV is the second layer: with AMD-Vi turned off under the images' feet, the measured
  // pages stay blocked (by the DEV) and the free page becomes reachable (the control).
  sys.iommu().mmio_write(arch::amd_iommu::mmio::kControl, 8, 0);
  BOOST_TEST(nic.run(e::kOpRead, slb + 0x100, 0, 4096) == e::kFault);
  BOOST_TEST(nic.fault_info() == (e::kBlockerDev << 8));
  BOOST_TEST(disk.run(e::kOpFill, 0, hv, 4096, 0x9090909090909090ull) == e::kFault);
  BOOST_TEST(disk.fault_info() == ((e::kBlockerDev << 8) | e::kInfoWrite));
  BOOST_TEST(m.mem().read(hv, 0x1000) == hv_before);
  BOOST_TEST(disk.run(e::kOpFill, 0, free_page, 64, 0x0102030405060708ull) == e::kDone);
  BOOST_TEST(m.mem().read(free_page, 8) == (Bytes{8, 7, 6, 5, 4, 3, 2, 1}));
  const auto& faults = m.dma().faults();
  BOOST_TEST_REQUIRE(faults.size() == 5u);
  BOOST_TEST(faults[0].device_id == 0x0020u);
  BOOST_TEST(faults[1].device_id == 0x0100u);
  BOOST_TEST(faults[1].by == sim::DmaBlocker::iommu);
  BOOST_TEST(faults[4].by == sim::DmaBlocker::dev);
}
