// libFuzzer: the simulated CPU's decoder and the handlers it selects
// (platform/sim/cpu decode.cpp, decode_mode.cpp, decode_sse.cpp and the exec_*
// files): arbitrary machine code, the bytes a measured image or a guest presents.
// Byte 0 selects the mode (64-bit, compatibility, 32-bit protected; APM vol. 2
// §1.2), the rest is placed at the entry point of a fresh CPU (flat GDT, 4 GiB
// identity map, every exception vector to a HLT) and run for at most 64
// instructions. The contract (docs/simulator-cpu.md): run() returns a Stop or
// throws CpuError for what the model does not cover; a crash, a sanitizer report
// or any other exception is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

using namespace redoubt;
using namespace redoubt::x86;

namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kPml4 = 0x3000, kPdpt = 0x4000, kHandler = 0x5000;
constexpr uint64_t kCode = 0x100000, kStack = 0x1F0000;
constexpr uint16_t kCode32 = 0x08, kData = 0x10, kCode64 = 0x18;

void wr64(sim::PhysicalMemory& m, uint64_t pa, uint64_t v) { std::memcpy(m.map(pa, 8), &v, 8); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 4096) return 0;
  sim::PhysicalMemory mem(4ull << 20);
  const uint64_t gdt[] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00AF9A000000FFFFull};
  std::memcpy(mem.map(kGdt, sizeof gdt), gdt, sizeof gdt);
  mem.map(kHandler, 1)[0] = 0xF4;  // HLT (IF = 0: the run stops)
  const unsigned mode = data[0] % 3;
  const bool lm = mode < 2;
  for (unsigned v = 0; v < 32; ++v) {
    if (lm) {  // 64-bit interrupt gates (16 bytes)
      wr64(mem, kIdt + 16 * v, (kHandler & 0xFFFF) | (uint64_t(kCode64) << 16) | (0x8Eull << 40));
      wr64(mem, kIdt + 16 * v + 8, 0);
    } else {  // 32-bit interrupt gates (8 bytes)
      wr64(mem, kIdt + 8 * v, (kHandler & 0xFFFF) | (uint64_t(kCode32) << 16) | (0x8Eull << 40));
    }
  }
  wr64(mem, kPml4, kPdpt | kPtePresent | kPteWrite);
  for (uint64_t i = 0; i < 4; ++i) wr64(mem, kPdpt + 8 * i, (i << 30) | kPtePresent | kPteWrite | kPteLarge);
  std::memcpy(mem.map(kCode, size - 1), data + 1, size - 1);

  sim::cpu::Cpu c(mem);
  c.gdtr.base = kGdt;
  c.gdtr.limit = sizeof gdt - 1;
  c.idtr.base = kIdt;
  c.idtr.limit = lm ? 32 * 16 - 1 : 32 * 8 - 1;
  const uint16_t data_attr = uint16_t(0x3 | kSegS | kSegPresent | kSegDb | kSegG);
  if (lm) {
    c.cr4 = kCr4Pae;
    c.cr3 = kPml4;
    c.efer = kEferLme | kEferLma | kEferNxe | kEferSce;
    c.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
    const uint16_t code_attr = mode == 0 ? uint16_t(0xB | kSegS | kSegPresent | kSegL | kSegG)    // CS.L = 1: 64-bit
                                         : uint16_t(0xB | kSegS | kSegPresent | kSegDb | kSegG);  // CS.L = 0, D = 1: compat
    c.cs = sim::Segment{mode == 0 ? kCode64 : kCode32, 0, 0xFFFFFFFF, code_attr};
  } else {
    c.cr0 = kCr0Pe | kCr0Et;  // paging off, as SKINIT leaves it (APM vol. 2 §15.27.5)
    c.cs = sim::Segment{kCode32, 0, 0xFFFFFFFF, uint16_t(0xB | kSegS | kSegPresent | kSegDb | kSegG)};
  }
  c.ss = c.ds = c.es = c.fs = c.gs = sim::Segment{kData, 0, 0xFFFFFFFF, data_attr};
  c.set_rflags(2);
  c.cpl = 0;
  c.gpr[sim::cpu::RSP] = kStack;
  c.rip() = kCode;
  // REP yields every 64 iterations (an interruptible REP, APM vol. 3 "REP"), so 64 instructions
  // are at most ~4 096 string iterations, not 64 x 16 384 slow-path ones (issue 16: 10 M runs).
  c.rep_chunk = 64;
  c.flush_tlb_all_current();
  c.update_mode();
  try {
    (void)c.run(64);  // short: random code rewrites its own page, and each write re-decodes the block
  } catch (const sim::cpu::CpuError&) {
  }
  return 0;
}
