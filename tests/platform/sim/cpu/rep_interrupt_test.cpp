// Two findings of fuzz_x86_decode (issue 16). (1) One REP string instruction with a huge RCX
// ran to the end inside a single step of the simulated CPU, so neither the
// instruction budget, nor the host timer, nor an interrupt could stop it: the
// simulator hung. A REP instruction is interruptible between iterations (APM
// vol. 3, "REP"): it now yields every Cpu::kDefaultRepChunk iterations with RCX, RSI/RDI
// updated and RIP at the instruction, and continues when executed again.
// (2) REX.W on IN/INS made a 64-bit port access (and shifted 1u by 64). (3) REP INS/OUTS did
// not yield like the other string instructions: ECX = 2^32 - 1 hung the fuzzer for minutes.
#define BOOST_TEST_MODULE cpu_rep_interrupt
#include <boost/test/unit_test.hpp>

#include "platform/sim/cpu/exec_decl.hpp"
#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using redoubt::test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {
// rep lodsb (F3 AC); hlt
const std::vector<uint8_t> kRepLods = {0xF3, 0xAC, 0xF4};
// rep movsb (F3 A4); hlt
const std::vector<uint8_t> kRepMovs = {0xF3, 0xA4, 0xF4};
}  // namespace

BOOST_AUTO_TEST_CASE(a_huge_rep_lods_stops_at_the_instruction_budget) {
  BareCpu b;
  b.load(kRepLods, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  const uint64_t count = 1ull << 62;
  b.c.gpr[cpu::RCX] = count;
  b.c.gpr[cpu::RSI] = 0x200000;
  const cpu::Stop s = b.c.run(10);  // hung before the fix (2^62 iterations in one step)
  BOOST_TEST(int(s) == int(cpu::Stop::budget));
  BOOST_TEST(b.c.rip() == BareCpu::kCode);  // still at the REP instruction
  BOOST_TEST(b.c.gpr[cpu::RCX] == count - 10 * cpu::Cpu::kDefaultRepChunk);
  BOOST_TEST(b.c.gpr[cpu::RSI] == 0x200000 + 10 * cpu::Cpu::kDefaultRepChunk);
}

BOOST_AUTO_TEST_CASE(an_interrupted_rep_movs_completes_exactly) {
  BareCpu b;
  b.load(kRepMovs, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  const uint64_t n = 3 * cpu::Cpu::kDefaultRepChunk + 5;  // the slow path (source and destination misaligned)
  std::vector<uint8_t> src(n);
  for (uint64_t i = 0; i < n; ++i) src[i] = uint8_t(i * 7 + 1);
  b.mem.write(0x400001, src);
  b.c.gpr[cpu::RCX] = n;
  b.c.gpr[cpu::RSI] = 0x400001;
  b.c.gpr[cpu::RDI] = 0x800003;
  b.c.run(100);
  BOOST_TEST(b.c.gpr[cpu::RCX] == 0u);
  BOOST_TEST(b.c.gpr[cpu::RSI] == 0x400001 + n);
  BOOST_TEST(b.c.gpr[cpu::RDI] == 0x800003 + n);
  BOOST_TEST(b.mem.read(0x800003, n) == src);
  BOOST_TEST(b.c.halted);
}

// Issue 16 (found by fuzz_x86_decode, UBSan: shift exponent 64): REX.W on IN/INS
// gave a 64-bit port access; I/O is at most 32 bits and REX.W does not change that.
BOOST_AUTO_TEST_CASE(rex_w_io_is_32_bit) {
  BareCpu b;
  b.load({0x48, 0x6D, 0x48, 0xED, 0xF4}, BareCpu::kCode);  // rex.w insd; rex.w in eax, dx; hlt
  b.long_mode_state(BareCpu::kCode);
  b.wr64(0x300000, 0x1111111111111111ull);
  b.c.gpr[cpu::RDI] = 0x300000;
  b.c.gpr[cpu::RDX] = 0x80;
  b.c.gpr[cpu::RAX] = 0x2222222222222222ull;
  b.c.run(10);
  BOOST_TEST(b.rd64(0x300000) == 0x11111111FFFFFFFFull);  // 4 bytes of the floating bus, no more
  BOOST_TEST(b.c.gpr[cpu::RDI] == 0x300004u);
  BOOST_TEST(b.c.gpr[cpu::RAX] == 0xFFFFFFFFull);  // a 32-bit result zero-extends
}

// REP MOVSB copies byte by byte forward (APM vol. 3 "MOVS"): where the destination starts inside
// the source, bytes it wrote are read again and the first bytes repeat; elsewhere the bulk path
// may use memmove. Expected bytes computed here by the definition, for the three placements,
// within one page (the bulk path) and across pages.
BOOST_AUTO_TEST_CASE(rep_movsb_overlap_copies_forward_byte_by_byte) {
  struct Case {
    const char* name;
    uint64_t src, dst, n;
  };
  const Case cases[] = {{"destination inside the source", 0x400100, 0x400103, 200},
                        {"destination before the source", 0x400103, 0x400100, 200},
                        {"apart", 0x400100, 0x402100, 300},
                        {"inside, across a page", 0x400F80, 0x400F81, 0x180}};
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT(k.name) {
      BareCpu b;
      b.load(kRepMovs, BareCpu::kCode);
      b.long_mode_state(BareCpu::kCode);
      std::vector<uint8_t> mem(0x4000);
      for (size_t i = 0; i < mem.size(); ++i) mem[i] = uint8_t(i * 13 + 5);
      b.mem.write(0x400000, mem);
      for (uint64_t i = 0; i < k.n; ++i) mem[k.dst - 0x400000 + i] = mem[k.src - 0x400000 + i];  // the definition
      b.c.gpr[cpu::RCX] = k.n;
      b.c.gpr[cpu::RSI] = k.src;
      b.c.gpr[cpu::RDI] = k.dst;
      b.c.run(100);
      BOOST_TEST(b.c.halted);
      BOOST_TEST(b.c.gpr[cpu::RCX] == 0u);
      BOOST_TEST(b.mem.read(0x400000, mem.size()) == mem);
    }
  }
}

namespace {
// Counts the port reads and writes the CPU makes (the devices behind IN/OUT).
struct CountingPorts final : sim::cpu::PortIo {
  uint64_t outs = 0, ins = 0;
  uint32_t in(uint16_t, unsigned) override { ++ins; return 0xA5A5A5A5u; }
  void out(uint16_t, unsigned, uint32_t) override { ++outs; }
};
}  // namespace

// (3) found by fuzz_x86_decode (a timeout after 211 339 executions, REP OUTSD with ECX = 2^32 - 1): REP OUTSD and REP INSB
// with a huge count stop at the instruction budget with RCX, RSI/RDI updated and RIP at the
// instruction, and an interrupted one completes with exactly RCX port accesses.
BOOST_AUTO_TEST_CASE(a_huge_rep_outs_or_ins_stops_at_the_instruction_budget) {
  for (const bool in : {false, true}) {
    BOOST_TEST_CONTEXT((in ? "rep insb" : "rep outsd")) {
      BareCpu b;
      CountingPorts ports;
      b.c.ports = &ports;
      b.load({0xF3, uint8_t(in ? 0x6C : 0x6F), 0xF4}, BareCpu::kCode);  // rep insb | rep outsd; hlt
      b.long_mode_state(BareCpu::kCode);
      const uint64_t count = 1ull << 62;
      const unsigned w = in ? 1 : 4;
      b.c.gpr[cpu::RCX] = count;
      b.c.gpr[cpu::RSI] = 0x200000;
      b.c.gpr[cpu::RDI] = 0x200000;
      b.c.gpr[cpu::RDX] = 0x80;
      const cpu::Stop s = b.c.run(10);  // before the fix: one step ran until the count (or a fault) ended it
      BOOST_TEST(int(s) == int(cpu::Stop::budget));
      BOOST_TEST(b.c.rip() == BareCpu::kCode);
      BOOST_TEST(b.c.gpr[cpu::RCX] == count - 10 * cpu::Cpu::kDefaultRepChunk);
      BOOST_TEST((in ? ports.ins : ports.outs) == 10 * cpu::Cpu::kDefaultRepChunk);
      BOOST_TEST(b.c.gpr[in ? cpu::RDI : cpu::RSI] == 0x200000 + w * 10 * cpu::Cpu::kDefaultRepChunk);

      const uint64_t n = 2 * cpu::Cpu::kDefaultRepChunk + 3;  // an interrupted one completes exactly
      b.c.gpr[cpu::RCX] = n;
      ports.ins = ports.outs = 0;
      b.c.run(100);
      BOOST_TEST(b.c.halted);
      BOOST_TEST(b.c.gpr[cpu::RCX] == 0u);
      BOOST_TEST((in ? ports.ins : ports.outs) == n);
    }
  }
}
