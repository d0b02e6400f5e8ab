// The guest state the world-switch software moves around VMRUN besides the
// GPRs (platform/hal/svm.hpp GuestExtState): DR0-DR3 and the x87/SSE state as
// an FXSAVE64 image. On hardware the stub does MOV DRn and FXRSTOR64/FXSAVE64
// (platform/x86/vmrun.S); the native path's VMRUN (SvmCpu) does the same here.
#pragma once
#include "platform/hal/svm.hpp"
#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::svm {

// FXRSTOR64 + MOV DR0-3 with CR4.OSFXSR = 1, EFER.FFXSR = 0 (the whole image).
// False (nothing loaded) if the image's MXCSR has reserved bits set (FXRSTOR #GP).
bool load_ext_state(cpu::Cpu& c, const hal::GuestExtState& e);
// FXSAVE64 + MOV from DR0-3.
void store_ext_state(const cpu::Cpu& c, hal::GuestExtState& e);

}  // namespace redoubt::sim::svm
