// The interpreter runs what gcc -O2 emits for ordinary x86-64 C (SSE moves for
// struct copies and memset, SSE2 scalar double arithmetic) and must return
// exactly what the same C returns natively.
#define BOOST_TEST_MODULE sse_gcc
#include <boost/test/unit_test.hpp>

#include <Zydis/Zydis.h>

#include "arch/x86/sse.hpp"
#include "bench/cpu_elf.hpp"
#include "tests/platform/sim/svm/guest_env.hpp"

extern "C" uint64_t sse_work(uint64_t seed);

using namespace redoubt;
using test::GuestEnv;

namespace {
// Instructions with an XMM operand in [va, va+n) of guest memory (linear sweep).
unsigned xmm_instructions(GuestEnv& g, uint64_t va, uint64_t n) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const uint8_t* p = g.gpa(va, n);
  unsigned count = 0;
  for (uint64_t off = 0; off < n;) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p + off, n - off, &in, ops))) { ++off; continue; }
    for (unsigned i = 0; i < in.operand_count_visible; ++i)
      if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[i].reg.value) == ZYDIS_REGCLASS_XMM) {
        ++count;
        break;
      }
    off += in.length;
  }
  return count;
}
}  // namespace

BOOST_AUTO_TEST_CASE(gcc_o2_struct_copies_memset_and_doubles_match_native) {
  for (uint64_t seed : {0ull, 1ull, 7ull, 0x123456789ull, ~0ull}) {
    BOOST_TEST_CONTEXT("seed=" << seed) {
      GuestEnv g("callc");
      const uint64_t entry = bench::load_elf(g, RD_SSE_WORK_ELF);
      g.wr64(0x5100, entry);
      g.wr64(0x5108, seed);
      g.vmcb().save.cr4 |= x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt;
      g.run();
      BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
      BOOST_TEST(g.vmcb().save.rax == sse_work(seed));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_guest_code_really_uses_sse) {
  GuestEnv g("callc");
  const uint64_t entry = bench::load_elf(g, RD_SSE_WORK_ELF);
  BOOST_TEST(xmm_instructions(g, entry, 0x400) >= 8u);
}

BOOST_AUTO_TEST_CASE(without_cr4_osfxsr_the_guest_takes_ud) {
  GuestEnv g("callc");
  const uint64_t entry = bench::load_elf(g, RD_SSE_WORK_ELF);
  g.wr64(0x5100, entry);
  g.wr64(0x5108, 3);
  g.vmcb().control.intercept_exc = 1u << 6;
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitExcp0 + 6);
}
