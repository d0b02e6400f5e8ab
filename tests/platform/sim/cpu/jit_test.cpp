// The translator (platform/sim/cpu/jit.cpp, issue 14): a translated block must change the CPU's
// state exactly as the interpreter does, including when it is left early — a store into code
// (its own block or another translated one), a fault in the middle of the block, a fault or a
// C++ error raised by a handler it calls. Each program (programs/jit64.asm) runs at three
// translation thresholds: 0 (interpreter only), 1 (every block translated on its first run) and
// 8 (the default: blocks translated once hot, so a block changes from interpreted to
// translated mid-loop). Expected values are computed here, in C++, from the program's text.
#define BOOST_TEST_MODULE cpu_jit
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>

#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using redoubt::test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {
constexpr uint64_t kSmc = BareCpu::kCode, kGp = BareCpu::kCode + 0x100, kDe = BareCpu::kCode + 0x200,
                   kGate = BareCpu::kCode + 0x300, kHandler = BareCpu::kCode + 0x400, kFlags = BareCpu::kCode + 0x500;
constexpr unsigned kThresholds[] = {0, 1, 8};

struct Result {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0, icount = 0, translated = 0;
  cpu::Stop stop = cpu::Stop::none;
  uint64_t frame_rip = 0, frame_error = 0;  // the exception frame, when the handler ran
};

// Where `pattern` starts inside the 256-byte slot at `slot` of the program.
uint64_t find_in_slot(const std::vector<uint8_t>& bin, uint64_t slot, std::vector<uint8_t> pattern) {
  const auto from = bin.begin() + long(slot - BareCpu::kCode);
  const auto it = std::search(from, from + 0x100, pattern.begin(), pattern.end());
  if (it == from + 0x100) throw std::runtime_error("pattern not found in jit64.bin");
  return BareCpu::kCode + uint64_t(it - bin.begin());
}

Result run(uint64_t entry, unsigned threshold, uint64_t rsi_word = 0, bool error_code = true) {
  BareCpu b;
  const auto bin = test::read_program("jit64");
  b.load(bin, BareCpu::kCode);
  b.long_mode_state(entry);
  b.idt_gate(0, kHandler);   // #DE
  b.idt_gate(13, kHandler);  // #GP
  b.wr64(0x300000, rsi_word);
  b.wr64(BareCpu::kGdt + 0x30, 0x00008C0000000000ull);  // a 32/64-bit call gate, P = 1 (for kGate's far jump)
  b.c.jit_threshold = threshold;
  Result r;
  r.stop = b.c.run(100000);
  for (unsigned i = 0; i < 16; ++i) r.gpr[i] = b.c.gpr[i];
  r.rip = b.c.rip();
  r.icount = b.c.icount;
  r.translated = b.c.counters.blocks_translated;
  if (r.rip == kHandler + 1) {  // 64-bit frame (APM vol. 2 §8.9.3): [error code,] RIP, CS, RFLAGS, RSP, SS
    const uint64_t sp = r.gpr[cpu::RSP];
    r.frame_error = error_code ? b.rd64(sp) : 0;
    r.frame_rip = b.rd64(sp + (error_code ? 8 : 0));
  }
  return r;
}

void same_as_interpreter(const Result& r, const Result& interp, unsigned threshold) {
  BOOST_TEST_CONTEXT("threshold " << threshold) {
    for (unsigned i = 0; i < 16; ++i) BOOST_TEST(r.gpr[i] == interp.gpr[i], "gpr " << i);
    BOOST_TEST(r.rip == interp.rip);
    BOOST_TEST(r.icount == interp.icount);
    BOOST_TEST(r.frame_rip == interp.frame_rip);
    BOOST_TEST((threshold == 0 ? r.translated == 0 : r.translated > 0), "blocks translated: " << r.translated);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_store_into_translated_code_runs_the_new_instruction) {
  const Result interp = run(kSmc, 0);
  for (unsigned t : kThresholds) {
    const Result r = run(kSmc, t);
    BOOST_TEST_CONTEXT("threshold " << t) {
      BOOST_TEST(int(r.stop) == int(cpu::Stop::halted));
      BOOST_TEST(r.gpr[cpu::RAX] == 30 * 1 + 10 * 5u);  // ecx 40..11 add 1; 10..1 add the patched 5
    }
    same_as_interpreter(r, interp, t);
  }
}

BOOST_AUTO_TEST_CASE(a_fault_mid_block_leaves_the_state_at_the_faulting_instruction) {
  const auto bin = test::read_program("jit64");
  const uint64_t load = find_in_slot(bin, kGp, {0x48, 0x8B, 0x16});  // mov rdx, [rsi]
  const uint64_t word = 0x1111222233334444ull;
  const Result interp = run(kGp, 0, word);
  for (unsigned t : kThresholds) {
    const Result r = run(kGp, t, word);
    BOOST_TEST_CONTEXT("threshold " << t) {
      BOOST_TEST(r.rip == kHandler + 1);
      BOOST_TEST(r.frame_rip == load);  // a fault reports the instruction, not the block
      BOOST_TEST(r.frame_error == 0u);
      BOOST_TEST(r.gpr[cpu::RAX] == 16 * 3u);  // the ADD before the load happened 16 times
      BOOST_TEST(r.gpr[cpu::RDI] == 15 * word);  // the ADD after it only 15
      BOOST_TEST(r.gpr[cpu::RDX] == word);
      BOOST_TEST(r.gpr[cpu::RCX] == 5u);
      BOOST_TEST(r.gpr[cpu::RSI] == 0x8000000000000000ull);
    }
    same_as_interpreter(r, interp, t);
  }
}

BOOST_AUTO_TEST_CASE(a_fault_in_a_called_handler_is_delivered_precisely) {
  const auto bin = test::read_program("jit64");
  const uint64_t div = find_in_slot(bin, kDe, {0x48, 0xF7, 0xF3});  // div rbx
  uint64_t sum = 0;
  for (uint64_t k = 12; k >= 1; --k) sum += 1000 / k;
  const Result interp = run(kDe, 0, 0, false);  // #DE pushes no error code
  for (unsigned t : kThresholds) {
    const Result r = run(kDe, t, 0, false);
    BOOST_TEST_CONTEXT("threshold " << t) {
      BOOST_TEST(r.rip == kHandler + 1);
      BOOST_TEST(r.frame_rip == div);
      BOOST_TEST(r.gpr[cpu::RBX] == 0u);
      BOOST_TEST(r.gpr[cpu::RDI] == sum);
      BOOST_TEST(r.gpr[cpu::RAX] == 1000u);
    }
    same_as_interpreter(r, interp, t);
  }
}

BOOST_AUTO_TEST_CASE(a_cpu_error_in_a_called_handler_reaches_the_caller) {
  for (unsigned t : kThresholds) {
    BOOST_TEST_CONTEXT("threshold " << t) {
      bool thrown = false;
      try {
        run(kGate, t);
      } catch (const cpu::CpuError& e) {
        thrown = std::string(e.what()).find("call gate") != std::string::npos;
      }
      BOOST_TEST(thrown);
    }
  }
}

BOOST_AUTO_TEST_CASE(flags_kept_in_host_flags_match_the_program) {
  // flags_loop in C++.
  uint64_t rax = 0, rbx = 0, rdi = 0, rdx = 0x0123456789ABCDEFull;
  for (uint64_t rcx = 64; rcx >= 1; --rcx) {
    rax += rdx >> 63;
    rdx <<= 1;
    rdx = (rdx >> 7) | (rdx << 57);
    rbx = (rbx & ~0xFFull) | (rdx >> 63);  // ROR: CF = the result's top bit (APM vol. 3, ROR)
    rdi += rbx;
    rdx ^= rcx;
    rdx = uint32_t(uint32_t(rdx) - 0x5A5A5A5Au);  // a 32-bit result zero-extends
    if (rdx & 0x80000000u) rbx = rdx;
    rdi += rbx;
  }
  const Result interp = run(kFlags, 0);
  for (unsigned t : kThresholds) {
    const Result r = run(kFlags, t);
    BOOST_TEST_CONTEXT("threshold " << t) {
      BOOST_TEST(int(r.stop) == int(cpu::Stop::halted));
      BOOST_TEST(r.gpr[cpu::RAX] == rax);
      BOOST_TEST(r.gpr[cpu::RBX] == rbx);
      BOOST_TEST(r.gpr[cpu::RDX] == rdx);
      BOOST_TEST(r.gpr[cpu::RDI] == rdi);
    }
    same_as_interpreter(r, interp, t);
  }
}
