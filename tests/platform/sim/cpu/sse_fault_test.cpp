// SSE enable/fault rules (APM vol. 2 §11.3, §11.5; APM vol. 4 instruction
// pages), FXSAVE/FXRSTOR (checked against the host's own FXSAVE image), and
// the CPUID bits that advertise exactly what is modelled.
#define BOOST_TEST_MODULE sse_faults
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/x86/sse.hpp"
#include "tests/platform/sim/cpu/sse_rig.hpp"

using namespace redoubt;
using namespace redoubt::test::sse;
using B = std::vector<uint8_t>;

namespace {
constexpr int kUD = 6, kNM = 7, kGP = 13, kXM = 19;
const B kPxor = {0x66, 0x0F, 0xEF, 0xC1};             // pxor xmm0, xmm1
const B kMovapsLoad = {0x0F, 0x28, 0x03};            // movaps xmm0, [rbx]
const B kMovupsLoad = {0x0F, 0x10, 0x03};            // movups xmm0, [rbx]
const B kPaddbMem = {0x66, 0x0F, 0xFC, 0x03};        // paddb xmm0, [rbx]
const B kMovsdLoad = {0xF2, 0x0F, 0x10, 0x03};       // movsd xmm0, [rbx]
const B kDivss = {0xF3, 0x0F, 0x5E, 0xC1};           // divss xmm0, xmm1
const B kLdmxcsr = {0x0F, 0xAE, 0x13};               // ldmxcsr [rbx]
const B kFxsave64 = {0x48, 0x0F, 0xAE, 0x03};        // fxsave64 [rbx]
const B kFxrstor64 = {0x48, 0x0F, 0xAE, 0x0B};       // fxrstor64 [rbx]
const B kMovnti = {0x48, 0x0F, 0xC3, 0x03};          // movnti [rbx], rax
const B kSfence = {0x0F, 0xAE, 0xF8};

struct Fixture {
  SimRig sim;
  sim::cpu::Cpu& c = sim.cpu();
  Fixture() { c.gpr[3] = kData + 0x100; }  // RBX
  void xmm(unsigned i, uint64_t lo, uint64_t hi) { c.sse.xmm[i] = sim::cpu::Xmm{{lo, hi}}; }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(enable_bits_give_ud_and_nm_in_the_specified_order, Fixture) {
  BOOST_TEST(sim.run_raw(kPxor) == -1);
  c.cr4 &= ~x86::kCr4Osfxsr;
  BOOST_TEST(sim.run_raw(kPxor) == kUD);
  c.cr4 |= x86::kCr4Osfxsr;
  c.cr0 |= x86::kCr0Em;
  BOOST_TEST(sim.run_raw(kPxor) == kUD);
  c.cr0 |= x86::kCr0Ts;
  BOOST_TEST(sim.run_raw(kPxor) == kUD);  // #UD takes priority over #NM
  c.cr0 &= ~x86::kCr0Em;
  BOOST_TEST(sim.run_raw(kPxor) == kNM);
  BOOST_TEST(sim.run_raw(kLdmxcsr) == kNM);
  BOOST_TEST(sim.run_raw(kFxsave64) == kNM);
  // MOVNTI and SFENCE are not 128-bit media instructions: CR0.TS does not apply.
  c.gpr[0] = 0x1122334455667788;
  BOOST_TEST(sim.run_raw(kMovnti) == -1);
  uint64_t v;
  std::memcpy(&v, sim.mem(kData + 0x100, 8), 8);
  BOOST_TEST(v == 0x1122334455667788u);
  BOOST_TEST(sim.run_raw(kSfence) == -1);
  c.cr0 &= ~x86::kCr0Ts;
  c.cr0 |= x86::kCr0Mp;  // MP only affects WAIT/FWAIT
  BOOST_TEST(sim.run_raw(kPxor) == -1);
}

BOOST_FIXTURE_TEST_CASE(em_gives_nm_for_fxsave, Fixture) {
  c.cr0 |= x86::kCr0Em;
  BOOST_TEST(sim.run_raw(kFxsave64) == kNM);
  BOOST_TEST(sim.run_raw(kFxrstor64) == kNM);
}

BOOST_FIXTURE_TEST_CASE(misaligned_128_bit_operands_gp_unless_unaligned_form, Fixture) {
  c.gpr[3] = kData + 0x108;
  BOOST_TEST(sim.run_raw(kMovapsLoad) == kGP);
  BOOST_TEST(c.exitinfo1 == 0u);  // #GP(0)
  BOOST_TEST(sim.run_raw(kPaddbMem) == kGP);
  BOOST_TEST(sim.run_raw(kFxsave64) == kGP);
  BOOST_TEST(sim.run_raw(kMovupsLoad) == -1);
  BOOST_TEST(sim.run_raw(kMovsdLoad) == -1);
  c.gpr[3] = kData + 0x110;
  BOOST_TEST(sim.run_raw(kMovapsLoad) == -1);
  BOOST_TEST(sim.run_raw(kPaddbMem) == -1);
}

BOOST_FIXTURE_TEST_CASE(unmasked_exception_gives_xm_or_ud_and_keeps_the_destination, Fixture) {
  xmm(0, 0x3F800000, 7);  // 1.0f
  xmm(1, 0, 0);           // 0.0f
  c.sse.mxcsr = x86::kMxcsrReset & ~(x86::kMxcsrZE << x86::kMxcsrMaskShift);  // ZM clear
  BOOST_TEST(sim.run_raw(kDivss) == kXM);
  BOOST_TEST(c.sse.xmm[0].q[0] == 0x3F800000u);
  BOOST_TEST(c.sse.mxcsr == (0x1F80u & ~(x86::kMxcsrZE << 7)) + x86::kMxcsrZE);
  c.cr4 &= ~x86::kCr4Osxmmexcpt;
  BOOST_TEST(sim.run_raw(kDivss) == kUD);
  c.sse.mxcsr = x86::kMxcsrReset;  // masked: +inf, ZE set
  BOOST_TEST(sim.run_raw(kDivss) == -1);
  BOOST_TEST(c.sse.xmm[0].q[0] == 0x7F800000u);
  BOOST_TEST(c.sse.xmm[0].q[1] == 7u);
  BOOST_TEST(c.sse.mxcsr == (0x1F80u | x86::kMxcsrZE));
}

BOOST_FIXTURE_TEST_CASE(ldmxcsr_reserved_bits_gp, Fixture) {
  const uint32_t bad = 0x1F80 | (1u << 16), good = 0x7FC0;
  std::memcpy(sim.mem(kData + 0x100, 4), &bad, 4);
  BOOST_TEST(sim.run_raw(kLdmxcsr) == kGP);
  BOOST_TEST(c.sse.mxcsr == 0x1F80u);
  std::memcpy(sim.mem(kData + 0x100, 4), &good, 4);
  BOOST_TEST(sim.run_raw(kLdmxcsr) == -1);
  BOOST_TEST(c.sse.mxcsr == good);
}

BOOST_FIXTURE_TEST_CASE(mmx_and_sse3_forms_are_ud, Fixture) {
  BOOST_TEST(sim.run_raw({0x0F, 0xEF, 0xC1}) == kUD);        // pxor mm0, mm1
  BOOST_TEST(sim.run_raw({0x0F, 0x77}) == kUD);              // emms
  BOOST_TEST(sim.run_raw({0x66, 0x0F, 0x7C, 0xC1}) == kUD);  // haddpd (SSE3)
  BOOST_TEST(sim.run_raw({0x66, 0x0F, 0x38, 0x00, 0xC1}) == kUD);  // pshufb (SSSE3)
  BOOST_TEST(sim.run_raw({0xD9, 0xE8}) == kUD);              // fld1 (x87)
}

BOOST_FIXTURE_TEST_CASE(cpuid_advertises_fxsr_sse_sse2_not_mmx, Fixture) {
  c.gpr[0] = 1;
  BOOST_TEST(sim.run_raw({0x0F, 0xA2}) == -1);
  const uint32_t edx = uint32_t(c.gpr[2]);
  BOOST_TEST((edx >> 24 & 1) == 1u);  // FXSR
  BOOST_TEST((edx >> 25 & 1) == 1u);  // SSE
  BOOST_TEST((edx >> 26 & 1) == 1u);  // SSE2
  BOOST_TEST((edx >> 23 & 1) == 0u);  // MMX
  BOOST_TEST((edx & 1) == 0u);        // x87 FPU
  BOOST_TEST(uint32_t(c.gpr[1]) == 0u);  // ECX: no SSE3 and later
}

// FXSAVE64 image against the host CPU's own FXSAVE64 of the same XMM/MXCSR state.
BOOST_FIXTURE_TEST_CASE(fxsave_image_matches_the_host_and_round_trips, Fixture) {
  NativeRig native;
  if (!native.available()) return;
  RegState st{};
  for (unsigned i = 0; i < 16; ++i) st.xmm[i] = sim::cpu::Xmm{{0x0101010101010101ull * i, ~0ull - i}};
  st.mxcsr = 0x9FC0 | x86::kMxcsrPE;  // FTZ DAZ, RC=0, PE set
  st.rflags = 2;
  st.gpr[3] = kData + 0x200;
  std::vector<uint8_t> data(kDataSize, 0xEE);
  const Outcome n = native.run(kFxsave64, st, data);
  const Outcome s = sim.run(kFxsave64, st, data);
  BOOST_TEST(n.vector == -1);
  BOOST_TEST(s.vector == -1);
  const uint8_t* ni = n.data.data() + 0x200;
  const uint8_t* si = s.data.data() + 0x200;
  BOOST_TEST(std::memcmp(ni + 24, si + 24, 4) == 0);           // MXCSR
  BOOST_TEST(std::memcmp(ni + 160, si + 160, 256) == 0);       // XMM0-15
  BOOST_TEST(std::memcmp(ni + 464, si + 464, 48) == 0);        // software area untouched (0xEE)
  x86::FxsaveImage img;
  std::memcpy(&img, si, sizeof img);
  BOOST_TEST(img.fcw == x86::kFcwInit);
  BOOST_TEST(img.ftw == 0u);
  BOOST_TEST(img.mxcsr_mask == x86::kMxcsrWritable);
  // Round trip: change everything, FXRSTOR the image, FXSAVE again.
  for (auto& x : c.sse.xmm) x = sim::cpu::Xmm{{1, 2}};
  c.sse.mxcsr = 0x1F80;
  c.gpr[3] = kData + 0x200;
  BOOST_TEST(sim.run_raw(kFxrstor64) == -1);
  for (unsigned i = 0; i < 16; ++i) BOOST_TEST((c.sse.xmm[i] == st.xmm[i]));
  BOOST_TEST(c.sse.mxcsr == st.mxcsr);
  c.gpr[3] = kData + 0x600;
  BOOST_TEST(sim.run_raw(kFxsave64) == -1);
  BOOST_TEST(std::memcmp(sim.mem(kData + 0x200, 416), sim.mem(kData + 0x600, 416), 416) == 0);
  // FXRSTOR with a reserved MXCSR bit: #GP(0), nothing loaded.
  const uint32_t bad = 0x1F80 | (1u << 20);
  std::memcpy(sim.mem(kData + 0x200 + 24, 4), &bad, 4);
  c.sse.mxcsr = 0x1F80;
  c.gpr[3] = kData + 0x200;
  BOOST_TEST(sim.run_raw(kFxrstor64) == kGP);
  BOOST_TEST(c.sse.mxcsr == 0x1F80u);
}

BOOST_FIXTURE_TEST_CASE(fxsave_without_osfxsr_leaves_xmm_and_mxcsr_out, Fixture) {
  std::memset(sim.mem(kData + 0x100, 512), 0xEE, 512);
  c.cr4 &= ~x86::kCr4Osfxsr;
  BOOST_TEST(sim.run_raw(kFxsave64) == -1);
  const uint8_t* p = sim.mem(kData + 0x100, 512);
  BOOST_TEST(p[0] == 0x7Fu);   // FCW low byte written
  BOOST_TEST(p[24] == 0xEEu);  // MXCSR not written
  BOOST_TEST(p[160] == 0xEEu); // XMM0 not written
}

// With paging on and the page after kData unmapped, a store that straddles into it
// raises #PF for the second page and writes nothing to the first.
BOOST_FIXTURE_TEST_CASE(straddling_stores_are_all_or_nothing, Fixture) {
  constexpr uint64_t kPml4 = 0x200000, kPdpt = 0x201000, kPd = 0x202000, kPt = 0x203000;  // PTs: 4 KiB each
  auto put = [&](uint64_t pa, uint64_t v) { std::memcpy(sim.mem(pa, 8), &v, 8); };
  std::memset(sim.mem(kPml4, 0x6000), 0, 0x6000);
  put(kPml4, kPdpt | 3);
  put(kPdpt, kPd | 3);
  for (uint64_t i = 0; i < 2; ++i) {
    put(kPd + 8 * i, (kPt + 0x1000 * i) | 3);
    for (uint64_t j = 0; j < 512; ++j) put(kPt + 0x1000 * i + 8 * j, ((i << 21) | (j << 12)) | 3);
  }
  const uint64_t hole = kData + 0x1000;
  put(kPt + 8 * (hole >> 12), 0);  // not present
  c.cr3 = kPml4;
  c.cr4 |= 1ull << 5;                     // PAE
  c.cr0 |= (1ull << 31) | 1;              // PG, PE
  c.efer |= (1ull << 8) | (1ull << 10);   // LME, LMA
  c.flush_tlb_all_current();
  std::memset(sim.mem(kData + 0xE00, 0x200), 0xAB, 0x200);
  xmm(0, 0x1111111111111111, 0x2222222222222222);
  c.gpr[3] = hole - 8;
  BOOST_TEST(sim.run_raw({0x0F, 0x11, 0x03}) == 14);  // movups [rbx], xmm0
  BOOST_TEST(c.exitinfo2 == hole);
  BOOST_TEST((c.exitinfo1 & 3) == 2u);  // write, not present
  BOOST_TEST(sim.mem(hole - 8, 1)[0] == 0xABu);
  c.gpr[3] = hole - 0x100;
  BOOST_TEST(sim.run_raw(kFxsave64) == 14);
  BOOST_TEST(c.exitinfo2 == hole);
  BOOST_TEST(sim.mem(hole - 0x100, 1)[0] == 0xABu);
  c.gpr[3] = hole - 16;
  BOOST_TEST(sim.run_raw({0x0F, 0x11, 0x03}) == -1);  // fits the mapped page
  uint64_t q;
  std::memcpy(&q, sim.mem(hole - 8, 8), 8);
  BOOST_TEST(q == 0x2222222222222222u);
}
