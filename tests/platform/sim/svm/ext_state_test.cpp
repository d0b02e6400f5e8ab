// The native path's FXRSTOR64/FXSAVE64 around VMRUN (platform/sim/svm/ext_state.cpp): every field
// of the image reaches the CPU's state and comes back at its offset (AMD APM vol. 4 FXSAVE, the
// 64-bit image), the ST slots' upper 6 bytes are written as zero, MXCSR_MASK is the writable mask,
// bytes 416-511 are left alone, and an MXCSR with reserved bits is refused (FXRSTOR #GP(0)).
#define BOOST_TEST_MODULE svm_ext_state
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "arch/x86/sse.hpp"
#include "platform/sim/memory.hpp"
#include "platform/sim/svm/ext_state.hpp"

using namespace redoubt;
using x86::FxsaveImage;

namespace {
hal::GuestExtState sample() {
  FxsaveImage img{};
  img.fcw = 0x037A;
  img.fsw = 0x4321;
  img.ftw = 0xA5;
  img.fop = 0x07FE;
  img.fip = 0x1122334455667788ull;
  img.fdp = 0x8877665544332211ull;
  img.mxcsr = 0x9FC0;
  for (unsigned i = 0; i < 8; ++i)
    for (unsigned k = 0; k < 16; ++k) img.st[i][k] = uint8_t(k < 10 ? 0x10 * i + k : 0xEE);  // junk above bit 79
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned k = 0; k < 16; ++k) img.xmm[i][k] = uint8_t(i * 16 + k + 1);
  for (unsigned k = 0; k < sizeof img.reserved; ++k) img.reserved[k] = uint8_t(0x5A ^ k);
  hal::GuestExtState e{};
  std::memcpy(e.fxsave, &img, sizeof img);
  for (unsigned i = 0; i < 4; ++i) e.dr[i] = 0xD0 + i;
  return e;
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_image_round_trips_field_by_field) {
  sim::PhysicalMemory mem(1 << 20);
  sim::cpu::Cpu c(mem);
  const hal::GuestExtState in = sample();
  BOOST_TEST(sim::svm::load_ext_state(c, in));
  BOOST_TEST(c.sse.fcw == 0x037A);
  BOOST_TEST(c.sse.fsw == 0x4321);
  BOOST_TEST(c.sse.ftw == 0xA5);
  BOOST_TEST(c.sse.fop == 0x07FE);
  BOOST_TEST(c.sse.fip == 0x1122334455667788ull);
  BOOST_TEST(c.sse.fdp == 0x8877665544332211ull);
  BOOST_TEST(c.sse.mxcsr == 0x9FC0u);
  BOOST_TEST(c.sse.st[3][9] == 0x39);
  BOOST_TEST(c.sse.xmm[15].q[1] == 0xFFFEFDFCFBFAF9ull);  // bytes 249..255, 0 (little-endian)
  BOOST_TEST(c.dr[2] == 0xD2u);

  hal::GuestExtState out{};
  std::memset(out.fxsave, 0x77, sizeof out.fxsave);
  sim::svm::store_ext_state(c, out);
  FxsaveImage want{};
  std::memcpy(&want, in.fxsave, sizeof want);
  want.mxcsr_mask = x86::kMxcsrWritable;
  for (auto& st : want.st) std::memset(st + 10, 0, 6);  // FXSAVE writes the slot's upper bytes as 0
  std::memset(want.reserved, 0x77, sizeof want.reserved);  // not written
  BOOST_TEST(std::memcmp(out.fxsave, &want, sizeof want) == 0);
  for (unsigned i = 0; i < 4; ++i) BOOST_TEST(out.dr[i] == 0xD0u + i);
}

BOOST_AUTO_TEST_CASE(reserved_mxcsr_bits_are_refused_and_nothing_loads) {
  sim::PhysicalMemory mem(1 << 20);
  sim::cpu::Cpu c(mem);
  hal::GuestExtState e = sample();
  const uint32_t bad = 0x10000 | 0x1F80;
  std::memcpy(e.fxsave + offsetof(FxsaveImage, mxcsr), &bad, 4);
  const uint16_t fcw_before = c.sse.fcw;
  BOOST_TEST(!sim::svm::load_ext_state(c, e));
  BOOST_TEST(c.sse.fcw == fcw_before);
  BOOST_TEST(c.sse.mxcsr == x86::kMxcsrReset);
}
