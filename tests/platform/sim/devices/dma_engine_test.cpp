// The DMA engine (platform/sim/devices/dma_engine, registers in abi/dma_engine.hpp)
// by its PCI header and BAR0 registers: the four operations, the refusals, and a
// transfer blocked by the DEV and by AMD-Vi — nothing moved, STATUS / FAULT_ADDR /
// FAULT_INFO saying what stopped it, the DmaPort and the IOMMU's event log naming
// the engine's requester ID.
#define BOOST_TEST_MODULE sim_dma_engine
#include <boost/test/unit_test.hpp>

#include "abi/dma_engine.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "tests/platform/sim/devices/iommu_rig.hpp"

using namespace iommutest;
namespace e = redoubt::abi::dma_engine;

namespace {
constexpr uint16_t kRid = 0x0128;  // 01:05.0
constexpr uint32_t kBar = 0xFEB02000;
constexpr uint64_t kSrc = 0x1000000, kDst = 0x1100000, kSecret = 0x1200000;

struct EngineRig : Rig {
  sim::DmaEngine eng{port, "nic", kRid, kBar};
  void fill(uint64_t pa, uint8_t b, size_t n) { std::memset(mem.map(pa, n), b, n); }
  bool all(uint64_t pa, uint8_t b, size_t n) {
    const uint8_t* p = mem.map(pa, n);
    for (size_t i = 0; i < n; ++i)
      if (p[i] != b) return false;
    return true;
  }
  uint32_t r32(uint32_t off) { return uint32_t(eng.mmio_read(off, 4)); }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(pci_header_and_bar0_sizing, EngineRig) {
  BOOST_TEST(eng.config_read(0x00) == 0x52441234u);
  BOOST_TEST(eng.config_read(0x08) == 0x08800000u);
  BOOST_TEST(eng.config_read(0x04) == uint32_t(e::kCmdMemory | e::kCmdBusMaster));  // firmware enabled both
  BOOST_TEST(eng.config_read(0x10) == kBar);
  eng.config_write(0x10, 0xFFFFFFFF, 0xF);  // PCI 3.0 §6.2.5.1 sizing
  BOOST_TEST(eng.config_read(0x10) == ~(e::kBarSize - 1));
  eng.config_write(0x10, kBar, 0xF);
  BOOST_TEST(eng.decodes(kBar + 0x1FFF));
  BOOST_TEST(!eng.decodes(kBar + 0x2000));
  eng.config_write(0x04, 0, 0x3);
  BOOST_TEST(!eng.decodes(kBar));
  BOOST_TEST(eng.config_read(0x04) == 0u);
}

BOOST_FIXTURE_TEST_CASE(registers_read_back, EngineRig) {
  BOOST_TEST(r32(e::kId) == e::kIdValue);
  BOOST_TEST(r32(e::kVersion) == 1u);
  BOOST_TEST(r32(e::kRequester) == kRid);
  eng.mmio_write(e::kSrc, 4, 0x89ABCDEF);
  eng.mmio_write(e::kSrc + 4, 4, 0x01234567);
  BOOST_TEST(eng.mmio_read(e::kSrc, 8) == 0x0123456789ABCDEFull);
  eng.mmio_write(e::kDst, 8, 0xFEDCBA9876543210ull);
  BOOST_TEST(r32(e::kDst + 4) == 0xFEDCBA98u);
  eng.mmio_write(e::kLen, 4, 77);
  eng.mmio_write(e::kOp, 4, e::kOpFill);
  BOOST_TEST(eng.mmio_read(e::kLen, 8) == ((uint64_t(e::kOpFill) << 32) | 77));
  eng.mmio_write(e::kId, 4, 0);  // read-only
  BOOST_TEST(r32(e::kId) == e::kIdValue);
  eng.mmio_write(e::kBuffer + 6, 2, 0xBEEF);
  BOOST_TEST(eng.mmio_read(e::kBuffer + 4, 4) == 0xBEEF0000u);
  BOOST_TEST(r32(e::kDoorbell) == 0u);
}

BOOST_FIXTURE_TEST_CASE(copy_read_write_and_fill_move_exactly_their_bytes, EngineRig) {
  fill(kSrc, 0x5C, 8192);
  BOOST_TEST(eng.run(e::kOpCopy, kSrc + 100, kDst + 4000, 5000) == e::kDone);
  BOOST_TEST(all(kDst + 4000, 0x5C, 5000));
  BOOST_TEST(all(kDst + 3999, 0, 1));
  BOOST_TEST(all(kDst + 9000, 0, 1));
  BOOST_TEST(r32(e::kBytes) == 5000u);
  BOOST_TEST(eng.run(e::kOpRead, kSrc, 0, 16) == e::kDone);
  BOOST_TEST(eng.mmio_read(e::kBuffer + 8, 8) == 0x5C5C5C5C5C5C5C5Cull);
  eng.mmio_write(e::kBuffer, 8, 0x0807060504030201ull);
  BOOST_TEST(eng.run(e::kOpWrite, 0, kDst, 8) == e::kDone);
  BOOST_TEST(r64(kDst) == 0x0807060504030201ull);
  BOOST_TEST(eng.run(e::kOpFill, 0, kDst + 0x10, 12, 0x1122334455667788ull) == e::kDone);
  BOOST_TEST(r64(kDst + 0x10) == 0x1122334455667788ull);
  BOOST_TEST(r64(kDst + 0x18) == 0x0000000055667788ull);
  BOOST_TEST(r32(e::kCompleted) == 4u);
  BOOST_TEST(r32(e::kFaults) == 0u);
  eng.mmio_write(e::kStatus, 4, e::kDone);  // RW1C
  BOOST_TEST(r32(e::kStatus) == 0u);
}

BOOST_FIXTURE_TEST_CASE(bad_parameters_and_a_disabled_bus_master_are_refused_before_any_access, EngineRig) {
  BOOST_TEST(eng.run(e::kOpCopy, kSrc, kDst, 0) == e::kError);
  BOOST_TEST(r32(e::kFaultInfo) == (e::kErrLength << 16));
  BOOST_TEST(eng.run(e::kOpCopy, kSrc, kDst, e::kMaxLength + 1) == e::kError);
  BOOST_TEST(eng.run(e::kOpRead, kSrc, 0, e::kBufferSize + 1) == e::kError);
  BOOST_TEST(eng.run(e::Op(9), kSrc, kDst, 8) == e::kError);
  BOOST_TEST(r32(e::kFaultInfo) == (e::kErrOp << 16));
  BOOST_TEST(eng.run(e::kOpFill, 0, ~0ull - 3, 8) == e::kError);
  BOOST_TEST(r32(e::kFaultInfo) == (e::kErrWrap << 16));
  eng.config_write(0x04, e::kCmdMemory, 0x3);  // Bus Master off
  BOOST_TEST(eng.run(e::kOpFill, 0, kDst, 8, ~0ull) == e::kError);
  BOOST_TEST(r32(e::kFaultInfo) == (e::kErrBusMaster << 16));
  BOOST_TEST(r64(kDst) == 0u);
  BOOST_TEST(port.faults().empty());
  BOOST_TEST(r32(e::kFaults) == 6u);
}

BOOST_FIXTURE_TEST_CASE(the_dev_blocks_the_engine_and_nothing_moves, EngineRig) {
  fill(kSecret, 0x5E, 4096);
  dev.protect(kSecret, 4096);
  // Read the secret page: refused on the page, the buffer unchanged.
  BOOST_TEST(eng.run(e::kOpRead, kSecret + 0x800, 0, 64) == e::kFault);
  BOOST_TEST(eng.fault_addr() == kSecret + 0x800);
  BOOST_TEST(eng.fault_info() == (e::kBlockerDev << 8));
  BOOST_TEST(eng.buffer()[0] == 0);
  // A copy starting below it and running into it: nothing written at all.
  BOOST_TEST(eng.run(e::kOpCopy, kSecret - 0x100, kDst, 0x200) == e::kFault);
  BOOST_TEST(eng.fault_addr() == kSecret);
  BOOST_TEST(all(kDst, 0, 0x200));
  // Writes into it.
  BOOST_TEST(eng.run(e::kOpFill, 0, kSecret + 8, 8, 0) == e::kFault);
  BOOST_TEST(eng.fault_info() == ((e::kBlockerDev << 8) | e::kInfoWrite));
  BOOST_TEST(all(kSecret, 0x5E, 4096));
  BOOST_TEST_REQUIRE(port.faults().size() == 3u);
  BOOST_TEST(port.faults()[2].device == "nic");
  BOOST_TEST(port.faults()[2].device_id == kRid);
  BOOST_TEST(port.faults()[2].by == sim::DmaBlocker::dev);
  BOOST_TEST(port.faults()[2].write);
  // Past the end of RAM: a master abort.
  BOOST_TEST(eng.run(e::kOpRead, kRam - 8, 0, 16) == e::kFault);
  BOOST_TEST(eng.fault_addr() == kRam);
  BOOST_TEST(eng.fault_info() == (e::kBlockerOutsideRam << 8));
}

BOOST_FIXTURE_TEST_CASE(amd_vi_blocks_the_engine_by_its_requester_id_and_logs_it, EngineRig) {
  fill(kSecret, 0x5E, 4096);
  enable();
  dte(kRid, v::kBlockingDte.q[0], 0x42);
  BOOST_TEST(eng.run(e::kOpRead, kSecret, 0, 256) == e::kFault);
  BOOST_TEST(eng.fault_info() == (e::kBlockerIommu << 8));
  BOOST_TEST(eng.buffer()[0] == 0);
  BOOST_TEST(eng.run(e::kOpFill, 0, kSecret + 0x1000 - 4, 8, 0) == e::kFault);
  BOOST_TEST(all(kSecret, 0x5E, 4096));
  const auto ev = events();
  BOOST_TEST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIoPageFault);
  BOOST_TEST(v::event::device_id(ev[0]) == kRid);
  BOOST_TEST(v::event::domain_id(ev[0]) == 0x42u);
  BOOST_TEST(v::event::address(ev[0]) == kSecret);
  BOOST_TEST(v::event::flags(ev[0]) == (v::event::kFlagPr | v::event::kFlagPe));
  BOOST_TEST(v::event::address(ev[1]) == kSecret + 0xFFC);
  BOOST_TEST(v::event::flags(ev[1]) == (v::event::kFlagPr | v::event::kFlagPe | v::event::kFlagRw));
  // Granted one page at I/O virtual address 0x10000 -> kDst: the engine's addresses are translated.
  const uint64_t root = new_table();
  map(root, 4, 0x10000, kDst, kRw);
  dte(kRid, Rig::dte_q0(4, root), 0x42);
  submit(v::cmd::invalidate_dte(kRid));
  BOOST_TEST(eng.run(e::kOpFill, 0, 0x10000, 16, 0xAB) == e::kDone);
  BOOST_TEST(r64(kDst) == 0xABu);
  BOOST_TEST(r64(0x10000) == 0u);
  BOOST_TEST(eng.run(e::kOpCopy, 0x10000, 0x11000, 8) == e::kFault);  // the destination is not granted
  BOOST_TEST(eng.fault_addr() == 0x11000u);
  BOOST_TEST(eng.fault_info() == ((e::kBlockerIommu << 8) | e::kInfoWrite));
}
