// REP STOS of zero over memory that already reads as zero skips the host stores
// (platform/sim/cpu/exec_misc.cpp, string_op): the simulated bytes are the same, and the
// host does not allocate pages no one has written (issue 9: simulated RAM costs nothing
// until touched). The hypervisor's clears and scrubs are such instructions.
#define BOOST_TEST_MODULE cpu_rep_stos_zero
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>

#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using redoubt::test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {
// rep stosq (F3 48 AB); hlt
const std::vector<uint8_t> kRepStosq = {0xF3, 0x48, 0xAB, 0xF4};
// rep stosb (F3 AA); hlt
const std::vector<uint8_t> kRepStosb = {0xF3, 0xAA, 0xF4};

uint64_t resident_bytes() {  // /proc/self/statm: size resident ... (in pages)
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * 4096;
}
}  // namespace

BOOST_AUTO_TEST_CASE(zeroing_untouched_ram_does_not_allocate_it) {
  BareCpu b;
  b.load(kRepStosq, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  constexpr uint64_t kBase = 0x1000000, kBytes = 8ull << 20;  // 8 MiB no one has written
  b.c.gpr[cpu::RAX] = 0;
  b.c.gpr[cpu::RCX] = kBytes / 8;
  b.c.gpr[cpu::RDI] = kBase;
  const uint64_t before = resident_bytes();
  b.c.run(1'000'000);
  const uint64_t grown = resident_bytes() - before;
  BOOST_TEST(b.c.halted);
  BOOST_TEST(b.c.gpr[cpu::RCX] == 0u);
  BOOST_TEST(b.c.gpr[cpu::RDI] == kBase + kBytes);
  BOOST_TEST(grown < (1ull << 20), "resident memory grew by " << grown << " bytes");  // 8 MiB before the change
  BOOST_TEST(b.rd64(kBase) == 0u);
  BOOST_TEST(b.rd64(kBase + kBytes - 8) == 0u);
}

BOOST_AUTO_TEST_CASE(zeroing_written_ram_clears_every_byte) {
  BareCpu b;
  b.load(kRepStosb, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  // Three pages, unaligned start and end; one non-zero byte at the very end of the middle page
  // and one in the first page, plus bytes just outside the range that must survive.
  constexpr uint64_t kStart = 0x400010, kLen = 3 * 4096 - 0x30;
  b.wr64(kStart - 8, 0x1111111111111111ull);
  b.wr64(kStart, 0x2222222222222222ull);
  b.wr64(0x401FF8, 0x3333333333333333ull);
  b.wr64(kStart + kLen, 0x4444444444444444ull);
  b.c.gpr[cpu::RAX] = 0x100;  // AL = 0: only the low byte is stored
  b.c.gpr[cpu::RCX] = kLen;
  b.c.gpr[cpu::RDI] = kStart;
  b.c.run(1'000'000);
  BOOST_TEST(b.c.halted);
  BOOST_TEST(b.c.gpr[cpu::RCX] == 0u);
  const std::vector<uint8_t> got = b.mem.read(kStart, kLen);
  BOOST_TEST(std::count(got.begin(), got.end(), 0) == std::ptrdiff_t(kLen));
  BOOST_TEST(b.rd64(kStart - 8) == 0x1111111111111111ull);
  BOOST_TEST(b.rd64(kStart + kLen) == 0x4444444444444444ull);
}

BOOST_AUTO_TEST_CASE(a_non_zero_pattern_is_still_stored) {
  BareCpu b;
  b.load(kRepStosq, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  b.c.gpr[cpu::RAX] = 0xA5A5A5A5DEADBEEFull;
  b.c.gpr[cpu::RCX] = 1024;  // two pages of untouched RAM
  b.c.gpr[cpu::RDI] = 0x1400000;
  b.c.run(1'000'000);
  BOOST_TEST(b.rd64(0x1400000) == 0xA5A5A5A5DEADBEEFull);
  BOOST_TEST(b.rd64(0x1400000 + 1023 * 8) == 0xA5A5A5A5DEADBEEFull);
  BOOST_TEST(b.rd64(0x1400000 + 1024 * 8) == 0u);
}
