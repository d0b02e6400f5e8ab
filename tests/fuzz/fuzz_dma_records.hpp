// The records fuzz_dma_devices (AMD-Vi + DEV) and fuzz_vtd (VT-d) share: an input reader,
// the invariant failure, and the bus-master records — a DMA engine's MMIO write (record 0),
// a raw DMA through the port from a chosen requester ID (5) and an engine operation (6).
// `guard` runs each operation that can move data, so a fuzzer can check its canary around it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "abi/dma_engine.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/dma_engine.hpp"

namespace redoubt::fuzz {

struct Reader {
  const uint8_t* p;
  size_t n;
  template <class T>
  T get() {
    T x{};
    const size_t k = n < sizeof x ? n : sizeof x;
    std::memcpy(&x, p, k);
    p += k;
    n -= k;
    return x;
  }
};

[[noreturn]] inline void fail(const char* why) {
  __builtin_printf("invariant: %s\n", why);
  std::abort();
}

// Record 0: engine MMIO write (engine = op bit 3, size = 1 << op bits 4-5): offset u16, value u64.
template <class Guard>
void engine_mmio_record(Reader& in, uint8_t op, sim::DmaEngine (&engines)[2], Guard&& guard) {
  namespace e = redoubt::abi::dma_engine;
  sim::DmaEngine& eng = engines[(op >> 3) & 1];
  const uint16_t off = in.get<uint16_t>() % e::kBarSize;
  const unsigned sz = 1u << ((op >> 4) & 3);
  const uint64_t val = in.get<uint64_t>();
  guard([&] { eng.mmio_write(off, sz, val); });  // a DOORBELL write moves data
  (void)eng.mmio_read(off, sz);
}

// Record 5: a DMA through the port: requester ID (u16 if op bit 3, else ids[op bits 4-5]),
// address u64, length u16 (< 8 KiB); a write if op bit 7.
template <class Guard>
void port_dma_record(Reader& in, uint8_t op, sim::DmaPort& port, const uint16_t (&ids)[4], Guard&& guard) {
  const uint16_t id = (op & 8) ? in.get<uint16_t>() : ids[(op >> 4) & 3];
  const uint64_t addr = in.get<uint64_t>();
  const uint16_t len = in.get<uint16_t>() % 8192;
  std::vector<uint8_t> buf(len, 0xEE);
  const sim::BusMaster who{"fuzz", id};
  guard([&] {
    if (op & 0x80) (void)port.write(who, addr, buf);
    else (void)port.read(who, addr, buf);
  });
}

// Record 6: an engine operation (engine = op bit 3): op u8, src u64, dst u64, length u16,
// pattern u64. STATUS is exactly one of DONE / FAULT / ERROR, and BYTES is 0 unless DONE.
template <class Guard>
void engine_op_record(Reader& in, uint8_t op, sim::DmaEngine (&engines)[2], Guard&& guard) {
  namespace e = redoubt::abi::dma_engine;
  sim::DmaEngine& eng = engines[(op >> 3) & 1];
  const auto kind = e::Op(in.get<uint8_t>() % 5);
  const uint64_t src = in.get<uint64_t>(), dst = in.get<uint64_t>();
  const uint32_t len = in.get<uint16_t>();
  const uint64_t pattern = in.get<uint64_t>();
  uint32_t st = 0;
  guard([&] { st = eng.run(kind, src, dst, len, pattern); });
  if (st != e::kDone && st != e::kFault && st != e::kError) fail("engine status");
  if (st != e::kDone && eng.mmio_read(e::kBytes, 4) != 0) fail("bytes after a refused operation");
}

}  // namespace redoubt::fuzz
