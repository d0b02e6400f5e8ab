// The CPUID table: values the interpreter returns to code, checked against the
// bit definitions of GCC's <cpuid.h> (an oracle this project did not write).
#define BOOST_TEST_MODULE cpu_cpuid
#include <cpuid.h>

#include <boost/test/unit_test.hpp>

#include "arch/x86/cpuid.hpp"
#include "platform/sim/cpu/cpuid_table.hpp"
#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using sim::cpu::CpuidResult;
using test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {

// Executes CPUID in the interpreter (64-bit mode) for `leaf`.
CpuidResult guest_cpuid(uint32_t leaf) {
  BareCpu b;
  const uint8_t code[] = {0x0F, 0xA2, 0xF4};  // cpuid; hlt
  b.mem.write(BareCpu::kCode, code);
  b.long_mode_state(BareCpu::kCode);
  b.c.gpr[cpu::RAX] = leaf;
  b.c.gpr[cpu::RCX] = 0;
  b.c.run(10);
  return {uint32_t(b.c.gpr[cpu::RAX]), uint32_t(b.c.gpr[cpu::RBX]), uint32_t(b.c.gpr[cpu::RCX]),
          uint32_t(b.c.gpr[cpu::RDX])};
}

bool zero(const CpuidResult& r) { return r == CpuidResult{}; }

std::string vendor(const CpuidResult& r) {
  char s[13] = {};
  std::memcpy(s, &r.ebx, 4);
  std::memcpy(s + 4, &r.edx, 4);
  std::memcpy(s + 8, &r.ecx, 4);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_instruction_returns_the_table) {
  for (uint32_t leaf : {0u, 1u, 2u, 0x80000000u, 0x80000001u, 0x80000008u, 0x8000000Au, 0x8000000Bu, 0x40000000u}) {
    BOOST_TEST_CONTEXT("leaf " << std::hex << leaf) {
      const CpuidResult g = guest_cpuid(leaf), t = cpu::cpuid_leaf(leaf);
      BOOST_TEST(g.eax == t.eax);
      BOOST_TEST(g.ebx == t.ebx);
      BOOST_TEST(g.ecx == t.ecx);
      BOOST_TEST(g.edx == t.edx);
    }
  }
}

BOOST_AUTO_TEST_CASE(vendor_and_ranges) {
  BOOST_TEST(vendor(cpu::cpuid_leaf(0)) == "AuthenticAMD");
  BOOST_TEST(vendor(cpu::cpuid_leaf(0x80000000)) == "AuthenticAMD");
  BOOST_TEST(cpu::cpuid_leaf(0).eax == 1u);
  BOOST_TEST(cpu::cpuid_leaf(0x80000000).eax == 0x8000000Au);
  BOOST_TEST(zero(cpu::cpuid_leaf(2)));           // beyond the maximum standard leaf
  BOOST_TEST(zero(cpu::cpuid_leaf(0x80000002)));  // no brand string
  BOOST_TEST(cpu::cpuid_leaf(1).eax == 0x00A00F11u);
  BOOST_TEST(cpu::cpuid_leaf(0x80000008).eax == (48u | 48u << 8));
}

BOOST_AUTO_TEST_CASE(advertised_features_are_the_implemented_ones) {
  namespace id = redoubt::x86::cpuid;
  const CpuidResult f1 = cpu::cpuid_leaf(1), ext = cpu::cpuid_leaf(0x80000001), svm = cpu::cpuid_leaf(0x8000000A);
  // Implemented: exactly TSC, MSR, PAE, PGE, CMOV, PAT, CLFSH, FXSR, SSE, SSE2 in Fn1 EDX (APM vol. 3 E.3.2).
  BOOST_TEST((f1.edx & bit_CMOV) != 0u);  // <cpuid.h>
  BOOST_TEST((f1.edx & bit_SSE2) != 0u);  // <cpuid.h>
  BOOST_TEST(f1.edx == ((1u << 4) | (1u << 5) | (1u << 6) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19) |
                        (1u << 24) | (1u << 25) | (1u << 26)));
  BOOST_TEST(f1.edx == uint32_t(id::kTsc | id::kMsr | id::kPae | id::kPge | id::kCmov | id::kPat | id::kClflush |
                                id::kFxsr | id::kSse | id::kSse2));
  BOOST_TEST((ext.edx & bit_LM) != 0u);      // <cpuid.h>
  BOOST_TEST((ext.ecx & bit_LAHF_LM) != 0u);  // <cpuid.h>
  BOOST_TEST((ext.edx & (1u << 27)) != 0u);  // RDTSCP
  BOOST_TEST((ext.edx & (1u << 20)) != 0u);  // NX
  BOOST_TEST((ext.edx & (1u << 26)) != 0u);  // Page1GB
  BOOST_TEST((ext.ecx & (1u << 2)) != 0u);   // SVM
  BOOST_TEST(ext.ecx == ((1u << 0) | (1u << 2) | (1u << 12)));  // LahfSahf, SVM, SKINIT
  BOOST_TEST(svm.edx == ((1u << 0) | (1u << 3)));                // NP, NRIPS only
  BOOST_TEST(svm.ebx == 0x8000u);
  // Not implemented (GCC's <cpuid.h> names): no x87/MMX, no CMPXCHG8B/16B, no SSE3 and later, no POPCNT/ABM, no SSE4a, no MMXEXT.
  for (uint32_t bit : {unsigned(bit_MMX), unsigned(bit_CMPXCHG8B)})
    BOOST_TEST((f1.edx & bit) == 0u, "Fn1 EDX bit " << std::hex << bit);
  for (uint32_t bit : {unsigned(bit_SSE3), unsigned(bit_SSSE3), unsigned(bit_SSE4_1), unsigned(bit_SSE4_2),
                       unsigned(bit_CMPXCHG16B), unsigned(bit_POPCNT), unsigned(bit_MOVBE), unsigned(bit_XSAVE),
                       unsigned(bit_AVX), unsigned(bit_AES), unsigned(bit_RDRND)})
    BOOST_TEST((f1.ecx & bit) == 0u, "Fn1 ECX bit " << std::hex << bit);
  BOOST_TEST(f1.ecx == 0u);
  BOOST_TEST((ext.edx & (1u << 11)) == 0u);  // SYSCALL/SYSRET
  BOOST_TEST((ext.edx & bit_MMXEXT) == 0u);
  BOOST_TEST((ext.ecx & bit_ABM) == 0u);
  BOOST_TEST((ext.ecx & bit_SSE4a) == 0u);
  // AMD mirrors Fn1 EDX bits 0-9, 12-17, 23, 24 in Fn8000_0001 EDX.
  BOOST_TEST((ext.edx & 0x0183F3FFu) == (f1.edx & 0x0183F3FFu));
}
