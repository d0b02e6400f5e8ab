#include "platform/sim/svm/ext_state.hpp"

#include <cstddef>
#include <cstring>

#include "arch/x86/sse.hpp"

namespace redoubt::sim::svm {

using redoubt::x86::FxsaveImage;

// The FXSAVE image's fields are read and written in place (offsets asserted in arch/x86/sse.hpp):
// no 512-byte image on the stack copied in or out, which was ~a quarter of a VMMCALL round trip
// on the native engine (perf, docs/skinit.md "Speed, fifth pass").
namespace {
template <typename T> void get(T& v, const uint8_t* img, size_t off) { std::memcpy(&v, img + off, sizeof v); }
template <typename T> void put(uint8_t* img, size_t off, const T& v) { std::memcpy(img + off, &v, sizeof v); }
static_assert(sizeof(cpu::Xmm) == 16 && sizeof(cpu::SseState::xmm) == sizeof(FxsaveImage::xmm));
}  // namespace

bool load_ext_state(cpu::Cpu& c, const hal::GuestExtState& e) {  // 416-511 are not loaded
  const uint8_t* img = e.fxsave;
  uint32_t mxcsr;
  get(mxcsr, img, offsetof(FxsaveImage, mxcsr));
  if (mxcsr & ~redoubt::x86::kMxcsrWritable) return false;  // APM vol. 4 FXRSTOR: #GP(0)
  cpu::SseState& s = c.sse;
  get(s.fcw, img, offsetof(FxsaveImage, fcw));
  get(s.fsw, img, offsetof(FxsaveImage, fsw));
  get(s.ftw, img, offsetof(FxsaveImage, ftw));
  get(s.fop, img, offsetof(FxsaveImage, fop));
  get(s.fip, img, offsetof(FxsaveImage, fip));
  get(s.fdp, img, offsetof(FxsaveImage, fdp));
  s.mxcsr = mxcsr;
  for (unsigned i = 0; i < 8; ++i) std::memcpy(s.st[i], img + offsetof(FxsaveImage, st) + 16 * i, 10);
  std::memcpy(s.xmm, img + offsetof(FxsaveImage, xmm), sizeof s.xmm);
  for (unsigned i = 0; i < 4; ++i) c.dr[i] = e.dr[i];
  return true;
}

void store_ext_state(const cpu::Cpu& c, hal::GuestExtState& e) {  // bytes 416-511 keep theirs
  const cpu::SseState& s = c.sse;
  uint8_t* img = e.fxsave;
  put(img, offsetof(FxsaveImage, fcw), s.fcw);
  put(img, offsetof(FxsaveImage, fsw), s.fsw);
  put(img, offsetof(FxsaveImage, ftw), s.ftw);
  put(img, offsetof(FxsaveImage, reserved5), uint8_t(0));
  put(img, offsetof(FxsaveImage, fop), s.fop);
  put(img, offsetof(FxsaveImage, fip), s.fip);
  put(img, offsetof(FxsaveImage, fdp), s.fdp);
  put(img, offsetof(FxsaveImage, mxcsr), s.mxcsr);
  put(img, offsetof(FxsaveImage, mxcsr_mask), uint32_t(redoubt::x86::kMxcsrWritable));
  for (unsigned i = 0; i < 8; ++i) {
    uint8_t* slot = img + offsetof(FxsaveImage, st) + 16 * i;
    std::memcpy(slot, s.st[i], 10);
    std::memset(slot + 10, 0, 6);
  }
  std::memcpy(img + offsetof(FxsaveImage, xmm), s.xmm, sizeof s.xmm);
  for (unsigned i = 0; i < 4; ++i) e.dr[i] = c.dr[i];
}

}  // namespace redoubt::sim::svm
