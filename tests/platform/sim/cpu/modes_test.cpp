// The interpreter in 32-bit protected mode, compatibility mode and 64-bit
// mode: the secure loader's entry path from the SKINIT state into long mode,
// with the 64-bit part checked against the host CPU running the same bytes.
#define BOOST_TEST_MODULE cpu_modes
#include <sys/mman.h>

#include <boost/test/unit_test.hpp>

#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using namespace redoubt::x86;
using sim::cpu::Mode;
using sim::cpu::Stop;
using test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {

constexpr uint64_t kSeed = 0x0123456789ABCDEFull;

// Runs the flat binary `name` natively as uint64_t f(uint64_t): the host CPU is the oracle.
uint64_t run_native(const std::string& name, uint64_t arg) {
  const std::vector<uint8_t> code = test::read_program(name);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_REQUIRE(p != MAP_FAILED);
  std::memcpy(p, code.data(), code.size());
  BOOST_REQUIRE(mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0);
  const uint64_t r = reinterpret_cast<uint64_t (*)(uint64_t)>(p)(arg);
  munmap(p, 4096);
  return r;
}

void run_sl_entry(BareCpu& b, const std::string& program, uint32_t slb) {
  const std::vector<uint8_t> bin = test::read_program(program);
  b.load(bin, slb);
  uint16_t entry;
  std::memcpy(&entry, bin.data(), 2);  // SLB word 0
  b.skinit_state(slb, entry);
  BOOST_TEST(int(b.c.mode()) == int(Mode::legacy32));
  BOOST_TEST(int(b.c.run(1'000'000)) == int(Stop::halted));
}

}  // namespace

BOOST_AUTO_TEST_CASE(skinit_state_to_long_mode_computes_what_the_host_computes) {
  const uint64_t want = run_native("work64", kSeed);
  for (const char* program : {"sl_entry", "sl_entry_direct"}) {
    BOOST_TEST_CONTEXT(program) {
      BareCpu b;
      constexpr uint32_t kSlb = 0x100000;  // 64 KiB aligned, as SKINIT requires
      run_sl_entry(b, program, kSlb);
      BOOST_TEST(b.c.gpr[cpu::RAX] == want);
      BOOST_TEST(int(b.c.mode()) == int(Mode::long64));
      BOOST_TEST(b.c.cs.selector == 0x18u);
      BOOST_TEST((b.c.efer & (kEferLme | kEferLma | kEferNxe)) == (kEferLme | kEferLma | kEferNxe));
      BOOST_TEST((b.c.cr0 & (kCr0Pg | kCr0Pe)) == (kCr0Pg | kCr0Pe));
      BOOST_TEST(b.c.cr3 == kSlb + 0x4000u);
      BOOST_TEST(b.c.ds.selector == 0x10u);
      BOOST_TEST(b.c.ss.selector == 0x10u);
      BOOST_TEST(b.c.gdtr.limit == 31u);
      // CALL/RET balanced: the stack is back where SKINIT put it.
      BOOST_TEST(b.c.gpr[cpu::RBX] == kSlb + 0x10000u);
      // The loads set the accessed bits of the SL's own GDT (type 0x9A -> 0x9B, 0x92 -> 0x93).
      const uint64_t gdt = b.c.gdtr.base;
      BOOST_TEST(((b.rd64(gdt + 0x18) >> 40) & 0xFF) == 0x9Bu);
      BOOST_TEST(((b.rd64(gdt + 0x10) >> 40) & 0xFF) == 0x93u);
      BOOST_TEST(((b.rd64(gdt + 0x08) >> 40) & 0xFF) == 0x9Au);  // never loaded
      // The page tables it built: 1 GiB identity pages; the walk set A (and D on the used leaf).
      BOOST_TEST(b.rd64(kSlb + 0x4000) == (kSlb + 0x5000 + 0x23));
      BOOST_TEST(b.rd64(kSlb + 0x5000) == 0xE3u);                    // P RW A D PS
      BOOST_TEST(b.rd64(kSlb + 0x5000 + 8) == ((1ull << 30) | 0x83));  // never used
    }
  }
}

BOOST_AUTO_TEST_CASE(stack_widths_in_32_bit_code) {
  BareCpu b;
  const std::vector<uint8_t> bin = test::read_program("stack32");
  b.load(bin, BareCpu::kCode);
  b.skinit_state(BareCpu::kCode, 0);
  b.c.gpr[cpu::RSP] = BareCpu::kStackTop;
  BOOST_TEST(int(b.c.run(10'000)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 0x600Du);
  const uint32_t esp0 = BareCpu::kStackTop, r = BareCpu::kResults;
  auto label = [&](unsigned off) { uint32_t v; std::memcpy(&v, bin.data() + off, 4); return v; };
  BOOST_TEST(b.rd32(r + 0) == esp0);
  BOOST_TEST(b.rd32(r + 4) == esp0 - 4);               // PUSH imm32: 4 bytes
  BOOST_TEST(b.rd32(r + 8) == esp0 - 6);               // 66h PUSH imm16: 2 bytes
  BOOST_TEST(b.rd32(r + 12) == 0xAABBCCDDu);
  BOOST_TEST(b.rd32(r + 16) == label(8));              // CALL pushed the 4-byte return EIP
  BOOST_TEST(b.rd32(r + 20) == esp0);
  BOOST_TEST(b.rd32(r + 24) == esp0);                  // LEAVE
  BOOST_TEST(b.rd32(r + 28) == 0x2u);                  // PUSHFD: IF = 0 after SKINIT, flags clean
  BOOST_TEST(b.rd32(r + 32) == 55u);                   // LOOP
  BOOST_TEST(b.rd32(r + 36) == 0u);
  BOOST_TEST(b.rd32(r + 48) == label(16));             // far CALL: return EIP ...
  BOOST_TEST(b.rd32(r + 52) == 0x08u);                 // ... and CS in 4-byte slots
  BOOST_TEST(b.rd32(r + 56) == esp0 - 8);
  BOOST_TEST(b.rd32(r + 40) == esp0);                  // RETF
  BOOST_TEST(b.rd32(r + 44) == esp0);                  // IRETD popped 12 bytes
  BOOST_TEST(int(b.c.mode()) == int(Mode::legacy32));
  BOOST_TEST(b.c.cs.selector == 0x08u);
}

BOOST_AUTO_TEST_CASE(far_returns_jumps_and_calls_in_long_mode) {
  BareCpu b;
  const std::vector<uint8_t> bin = test::read_program("far64");
  b.load(bin, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  BOOST_TEST(int(b.c.run(10'000)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 0x600Du);
  const uint64_t rsp0 = BareCpu::kStackTop, r = BareCpu::kResults;
  BOOST_TEST(b.rd64(r + 0) == rsp0);
  BOOST_TEST(b.rd64(r + 8) == rsp0);                   // RETFQ popped 16 bytes
  BOOST_TEST(b.rd64(r + 16) == 0x18u);
  BOOST_TEST(b.rd64(r + 24) == rsp0);                  // RETFQ 16 popped 16 + 16
  BOOST_TEST(b.rd32(r + 32) == rsp0);                  // RETF (no REX.W) popped 4 + 4, now compatibility mode
  BOOST_TEST(b.rd32(r + 40) == 0x08u);
  BOOST_TEST(b.rd64(r + 48) == rsp0);                  // far JMP m16:32 back to 64-bit mode
  BOOST_TEST(b.rd64(r + 56) == rsp0 - 16);             // far CALL m16:64 pushed 8 + 8
  uint32_t after_callf;
  std::memcpy(&after_callf, bin.data() + 20, 4);
  BOOST_TEST(b.rd64(r + 80) == after_callf);           // return RIP in an 8-byte slot
  BOOST_TEST(b.rd64(r + 88) == 0x18u);
  BOOST_TEST(b.rd64(r + 64) == rsp0);
  BOOST_TEST(b.rd64(r + 72) == rsp0);                  // IRETQ popped 40 bytes
  BOOST_TEST(b.c.cs.selector == 0x18u);
  BOOST_TEST(int(b.c.mode()) == int(Mode::long64));
}
