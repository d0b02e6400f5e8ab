// libFuzzer: the simulated VT-d unit (platform/sim/devices/intel_vtd*.cpp) driven by
// what an attacker controls: register writes (the untrusted loader before the launch,
// or a bug), root / context / second-level entries in memory, and DMA requests from
// arbitrary source-ids, directly or through DMA engines a guest programs
// (platform/sim/devices/dma_engine.cpp). The machine starts with a root table at
// 1 MiB, translation on or off (first byte), and a PMR over [2 MiB, 4 MiB) whose
// last page is a canary. Records (op = low 3 bits of the first byte):
//   0 engine MMIO write: engine, offset u16, size, value u64
//   1 VT-d MMIO write: offset u16, size (4/8), value u64 (then read back)
//   2 memory write: pa u32 (below the canary), value u64
//   3 root or context entry: bus / devfn folded onto a few, lo u64, hi u64
//   4 second-level entry: one of 8 tables, index u16, value u64
//   5 DMA through the port: source-id u16, address u64, length u16, write bit
//   6 engine operation: engine, op, src u64, dst u64, length u16, pattern u64
//   7 the driver's fault handling: read FSTS and every fault record, clear F / PFO
// Invariants: no crash or sanitizer report; while PMEN.EPM covers the canary page no
// bus master changes it (§10.4.16: blocked whatever translation says); FSTS.PPF is
// set exactly when a record has F, FRI names such a record, and every record's reason
// is an Appendix A reason (1h..Dh); an engine's STATUS after a doorbell is exactly one
// of DONE / FAULT / ERROR, and BYTES is 0 unless DONE.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "abi/dma_engine.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "platform/sim/memory.hpp"
#include "tests/fuzz/fuzz_dma_records.hpp"

using namespace redoubt;
namespace v = arch::vtd;
namespace e = redoubt::abi::dma_engine;
using fuzz::fail;
using fuzz::Reader;

namespace {

constexpr uint64_t kRam = 4ull << 20;
constexpr uint64_t kRoot = 0x100000, kCtx = 0x101000, kTables = 0x110000;
constexpr uint64_t kPmr = 0x200000;          // [2 MiB, 4 MiB)
constexpr uint64_t kCanary = kRam - 0x1000;  // inside it
constexpr uint16_t kSids[] = {0x0020, 0x0100, 0x0000, 0xFFFF};

void check_faults(sim::IntelVtd& vtd) {
  const uint64_t cap = vtd.mmio_read(v::reg::kCap, 8);
  const uint32_t nfr = v::cap::nfr(cap), frcd = v::cap::fro_bytes(cap);
  const uint32_t fsts = uint32_t(vtd.mmio_read(v::reg::kFsts, 4));
  bool any = false;
  for (uint32_t i = 0; i < nfr; ++i) {
    const uint64_t hi = vtd.mmio_read(frcd + 16 * i + 8, 8);
    if (!(hi & v::frcd::kF)) continue;
    any = true;
    if (v::frcd::reason(hi) < v::kFrRootNotPresent || v::frcd::reason(hi) > v::kFrTranslationType) fail("fault reason");
  }
  if (any != bool(fsts & v::fsts::kPpf)) fail("PPF does not match the F bits");
  const uint32_t fri = (fsts >> v::fsts::kFriShift) & 0xFF;
  if (any && (fri >= nfr || !(vtd.mmio_read(frcd + 16 * fri + 8, 8) & v::frcd::kF))) fail("FRI names no pending record");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  sim::PhysicalMemory mem(kRam);
  sim::DeviceExclusionVector dev(kRam);  // no DEV on an Intel machine
  sim::DmaPort port(mem, dev);
  sim::IntelVtdConfig cfg;
  if (data[0] & 0x80) cfg.cap &= ~(v::cap::kPsi | v::cap::kSllps1G);
  if (data[0] & 0x40) cfg.ecap &= ~v::ecap::kPt;
  cfg.iotlb_capacity = 64;
  sim::IntelVtd vtd(mem, cfg);
  port.set_remapper(&vtd);
  sim::DmaEngine engines[2] = {{port, "e0", kSids[0], 0xFEB00000}, {port, "e1", kSids[1], 0xFEB02000}};
  static const std::vector<uint8_t> kCanaryBytes(0x1000, 0xCA);
  std::memcpy(mem.map(kCanary, 0x1000), kCanaryBytes.data(), 0x1000);
  vtd.mmio_write(v::reg::kPlmbase, 4, kPmr);
  vtd.mmio_write(v::reg::kPlmlimit, 4, kRam - v::kPmrGranularity);
  vtd.mmio_write(v::reg::kPmen, 4, v::pmen::kEpm);
  vtd.mmio_write(v::reg::kRtaddr, 8, kRoot);
  vtd.mmio_write(v::reg::kGcmd, 4, v::gcmd::kSrtp | ((data[0] & 1) ? v::gcmd::kTe : 0));

  // A DMA: the canary must survive it whenever the PMR covered it; if it did not, put it back.
  auto dma = [&](auto&& op) {
    const bool guarded = vtd.in_pmr(kCanary) && vtd.in_pmr(kCanary + 0xFFF);
    op();
    if (std::memcmp(mem.map(kCanary, 0x1000), kCanaryBytes.data(), 0x1000) != 0) {
      if (guarded) fail("a bus master wrote a page inside an enabled PMR");
      std::memcpy(mem.map(kCanary, 0x1000), kCanaryBytes.data(), 0x1000);
    }
  };

  Reader in{data + 1, size - 1};
  for (int rec = 0; rec < 256 && in.n > 0; ++rec) {
    const uint8_t op = in.get<uint8_t>();
    switch (op & 7) {
      case 0:
        fuzz::engine_mmio_record(in, op, engines, dma);
        break;
      case 1: {
        const uint16_t off = in.get<uint16_t>() % (sim::IntelVtd::kMmioSize + 8);
        const unsigned sz = (op & 8) ? 8 : 4;
        const uint64_t val = in.get<uint64_t>();
        vtd.mmio_write(off, sz, val);
        (void)vtd.mmio_read(off, sz);
        break;
      }
      case 2: {
        const uint64_t pa = in.get<uint32_t>() % (kCanary - 8);  // software: never into the canary page
        const uint64_t val = in.get<uint64_t>();
        std::memcpy(mem.map(pa, 8), &val, 8);
        break;
      }
      case 3: {
        const uint16_t sid = kSids[(op >> 3) & 3];
        const uint64_t lo = in.get<uint64_t>(), hi = in.get<uint64_t>();
        const uint64_t at = (op & 0x20) ? kRoot + 16ull * (sid >> 8) : kCtx + 16ull * (sid & 0xFF);
        std::memcpy(mem.map(at, 8), &lo, 8);
        std::memcpy(mem.map(at + 8, 8), &hi, 8);
        break;
      }
      case 4: {
        const uint64_t table = kTables + 0x1000ull * ((op >> 3) & 7);
        const uint16_t idx = in.get<uint16_t>() % 512;
        const uint64_t val = in.get<uint64_t>();
        std::memcpy(mem.map(table + 8ull * idx, 8), &val, 8);
        break;
      }
      case 5:
        fuzz::port_dma_record(in, op, port, kSids, dma);
        break;
      case 6:
        fuzz::engine_op_record(in, op, engines, dma);
        break;
      case 7: {
        check_faults(vtd);
        const uint64_t cap = vtd.mmio_read(v::reg::kCap, 8);
        for (uint32_t i = 0; i < v::cap::nfr(cap); ++i) vtd.mmio_write(v::cap::fro_bytes(cap) + 16 * i + 12, 4, 0x80000000u);
        if (op & 8) vtd.mmio_write(v::reg::kFsts, 4, v::fsts::kPfo);
        break;
      }
    }
  }
  check_faults(vtd);
  return 0;
}
