#include "platform/sim/svm/ext_state.hpp"

#include <cstddef>
#include <cstring>

#include "arch/x86/sse.hpp"

namespace redoubt::sim::svm {

using redoubt::x86::FxsaveImage;

bool load_ext_state(cpu::Cpu& c, const hal::GuestExtState& e) {
  FxsaveImage img;
  std::memcpy(&img, e.fxsave, offsetof(FxsaveImage, reserved));  // 416-511 are not loaded
  if (img.mxcsr & ~redoubt::x86::kMxcsrWritable) return false;  // APM vol. 4 FXRSTOR: #GP(0)
  cpu::SseState& s = c.sse;
  s.fcw = img.fcw;
  s.fsw = img.fsw;
  s.ftw = img.ftw;
  s.fop = img.fop;
  s.fip = img.fip;
  s.fdp = img.fdp;
  s.mxcsr = img.mxcsr;
  for (unsigned i = 0; i < 8; ++i) std::memcpy(s.st[i], img.st[i], 10);
  for (unsigned i = 0; i < 16; ++i) std::memcpy(s.xmm[i].q, img.xmm[i], 16);
  for (unsigned i = 0; i < 4; ++i) c.dr[i] = e.dr[i];
  return true;
}

void store_ext_state(const cpu::Cpu& c, hal::GuestExtState& e) {
  const cpu::SseState& s = c.sse;
  FxsaveImage img;  // bytes 0-415 are built here; 416-511 are not written by FXSAVE and keep theirs
  img.fcw = s.fcw;
  img.fsw = s.fsw;
  img.ftw = s.ftw;
  img.reserved5 = 0;
  img.fop = s.fop;
  img.fip = s.fip;
  img.fdp = s.fdp;
  img.mxcsr = s.mxcsr;
  img.mxcsr_mask = redoubt::x86::kMxcsrWritable;
  for (unsigned i = 0; i < 8; ++i) {
    std::memset(img.st[i], 0, 16);
    std::memcpy(img.st[i], s.st[i], 10);
  }
  for (unsigned i = 0; i < 16; ++i) std::memcpy(img.xmm[i], s.xmm[i].q, 16);
  std::memcpy(e.fxsave, &img, offsetof(FxsaveImage, reserved));
  for (unsigned i = 0; i < 4; ++i) e.dr[i] = c.dr[i];
}

}  // namespace redoubt::sim::svm
