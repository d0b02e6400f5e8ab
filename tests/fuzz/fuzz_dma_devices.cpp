// libFuzzer: the DMA-capable devices of the simulator, driven by what an attacker
// controls: register writes to the DMA engines (a guest with an assigned device, or
// the untrusted loader) and everything software can put in front of the AMD-Vi model
// (MMIO registers, device table entries, I/O page tables, command buffer entries),
// with DMA requests from arbitrary requester IDs in between
// (platform/sim/devices/dma_engine.cpp, amd_iommu.cpp, amd_iommu_walk.cpp,
// platform/sim/dev.cpp). The machine starts with the IOMMU on (device table at
// 1 MiB, rings after it). Records (op = low 3 bits of the first byte):
//   0 engine MMIO write: engine, offset u16, size, value u64
//   1 IOMMU MMIO write: offset u16, size (4/8), value u64
//   2 memory write: pa u32, value u64 (tables, entries, anything)
//   3 command: two u64, placed at the command tail, the tail moved
//   4 DTE: DeviceID u16 (folded onto a few), four u64
//   5 DMA through the port: DeviceID u16, address u64, length u16, write bit
//   6 engine operation: engine, op, src u64, dst u64, length u16, pattern u64
//   7 PCI config write: function, register, value u32
// Invariants: no crash or sanitizer report; a page the DEV protects is never written
// by a bus master (only the IOMMU's own event-log / COMPLETION_WAIT writes may land
// there, and those are reported through on_own_write); an engine's STATUS after a
// doorbell is exactly one of DONE / FAULT / ERROR, and BYTES is 0 unless DONE.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "abi/dma_engine.hpp"
#include "arch/amd/iommu.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/amd_iommu.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/memory.hpp"
#include "tests/fuzz/fuzz_dma_records.hpp"

using namespace redoubt;
namespace v = arch::amd_iommu;
namespace e = redoubt::abi::dma_engine;
using fuzz::fail;
using fuzz::Reader;

namespace {

constexpr uint64_t kRam = 4ull << 20;
constexpr uint64_t kDevTable = 0x100000, kCmd = 0x300000, kEvt = 0x301000;
constexpr uint64_t kCanary = kRam - 0x1000;  // DEV-protected
constexpr uint16_t kIds[] = {0x0020, 0x0100, 0x0000, 0xFFFF};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  sim::PhysicalMemory mem(kRam);
  sim::DeviceExclusionVector dev(kRam);
  sim::DmaPort port(mem, dev);
  sim::AmdIommuConfig cfg;
  if (data[0] & 0x80) cfg.ext_features = 0;  // no INVALIDATE_IOMMU_ALL
  cfg.iotlb_capacity = 64;
  sim::AmdIommu iommu(mem, cfg);
  port.set_remapper(&iommu);
  bool own_canary_write = false;
  iommu.on_own_write = [&](uint64_t pa, uint64_t n) { own_canary_write |= pa < kCanary + 0x1000 && pa + n > kCanary; };
  sim::DmaEngine engines[2] = {{port, "e0", kIds[0], 0xFEB00000}, {port, "e1", kIds[1], 0xFEB02000}};
  std::memset(mem.map(kCanary, 0x1000), 0xCA, 0x1000);
  dev.protect(kCanary, 0x1000);
  iommu.mmio_write(v::mmio::kDevTableBase, 8, kDevTable | 0x1FF);
  iommu.mmio_write(v::mmio::kCmdBufBase, 8, kCmd | (8ull << 56));
  iommu.mmio_write(v::mmio::kEventLogBase, 8, kEvt | (8ull << 56));
  iommu.mmio_write(v::mmio::kControl, 8, v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn);

  const auto direct = [](auto&& op) { op(); };  // the DEV invariant is checked once, at the end
  Reader in{data + 1, size - 1};
  for (int rec = 0; rec < 256 && in.n > 0; ++rec) {
    const uint8_t op = in.get<uint8_t>();
    switch (op & 7) {
      case 0:
        fuzz::engine_mmio_record(in, op, engines, direct);
        break;
      case 1: {
        const uint16_t off = in.get<uint16_t>() % sim::AmdIommu::kMmioSize;
        const unsigned sz = (op & 8) ? 8 : 4;
        const uint64_t val = in.get<uint64_t>();
        iommu.mmio_write(off, sz, val);
        (void)iommu.mmio_read(off, sz);
        break;
      }
      case 2: {
        const uint64_t pa = in.get<uint32_t>() % (kCanary - 8);  // software: never into the canary page
        const uint64_t val = in.get<uint64_t>();
        std::memcpy(mem.map(pa, 8), &val, 8);
        break;
      }
      case 3: {
        const uint64_t base = iommu.mmio_read(v::mmio::kCmdBufBase, 8) & v::ring_base::kAddrMask;
        const uint32_t bytes = v::ring_bytes(iommu.mmio_read(v::mmio::kCmdBufBase, 8));
        const uint64_t tail = iommu.mmio_read(v::mmio::kCmdBufTail, 8) % bytes;
        uint64_t q[2] = {in.get<uint64_t>(), in.get<uint64_t>()};
        if (base + tail + 16 <= kCanary) std::memcpy(mem.map(base + tail, 16), q, 16);
        iommu.mmio_write(v::mmio::kCmdBufTail, 4, uint32_t((tail + 16) % bytes));
        break;
      }
      case 4: {
        const uint16_t id = kIds[in.get<uint16_t>() & 3];
        const uint64_t at = (iommu.mmio_read(v::mmio::kDevTableBase, 8) & v::dev_table_base::kAddrMask) + uint64_t(id) * 32;
        uint64_t q[4] = {in.get<uint64_t>(), in.get<uint64_t>(), in.get<uint64_t>(), in.get<uint64_t>()};
        if (at + 32 <= kCanary) std::memcpy(mem.map(at, 32), q, 32);
        break;
      }
      case 5:
        fuzz::port_dma_record(in, op, port, kIds, direct);
        break;
      case 6:
        fuzz::engine_op_record(in, op, engines, direct);
        break;
      case 7: {
        const uint8_t which = in.get<uint8_t>() % 3;
        const uint8_t reg = in.get<uint8_t>() & 0xFC;
        const uint32_t val = in.get<uint32_t>();
        sim::PciFunction& f = which == 2 ? static_cast<sim::PciFunction&>(iommu) : engines[which];
        f.config_write(reg, val, 0xF);
        (void)f.config_read(reg);
        break;
      }
    }
  }
  // One memcmp, not a byte loop: the instrumented loop (a coverage callback per byte)
  // was a third of the time per input.
  static const std::vector<uint8_t> kCanaryBytes(0x1000, 0xCA);
  if (!own_canary_write && std::memcmp(mem.map(kCanary, 0x1000), kCanaryBytes.data(), 0x1000) != 0)
    fail("a bus master wrote a DEV-protected page");
  return 0;
}
