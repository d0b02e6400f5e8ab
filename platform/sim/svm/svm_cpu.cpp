// VMRUN and #VMEXIT (AMD APM vol. 2 §15.5-§15.6): load the guest from the
// VMCB, run the interpreter in guest mode, store the guest back.
#include "platform/sim/svm/svm_cpu.hpp"

#include <cstring>
#include <string>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/flags.hpp"
#include "platform/sim/svm/ext_state.hpp"
#include "platform/sim/svm/vmcb_state.hpp"
#include "platform/sim/svm/vmrun_checks.hpp"

namespace redoubt::sim {

namespace rs = redoubt::svm;
using namespace redoubt::x86;

SvmCpu::SvmCpu(Machine& m) : m_(m), cpu_(m.mem()) {}

Status SvmCpu::enable(uint64_t hsave_pa) {
  if (hsave_pa & 0xFFF) return Status::fail(Err::fault, "VM_HSAVE_PA 0x%llx is not 4 KiB aligned (#GP)", (unsigned long long)hsave_pa);
  if (!m_.mem().contains(hsave_pa, 4096))
    return Status::fail(Err::fault, "VM_HSAVE_PA 0x%llx is outside RAM", (unsigned long long)hsave_pa);
  cpu_.efer |= kEferSvme;
  cpu_.vm_hsave_pa = hsave_pa;
  return Status::ok();
}

void SvmCpu::invlpga(uint64_t va, uint32_t asid) {
  cpu_.tlb_flush_va(asid, va);
}

void SvmCpu::arm_timer(uint64_t deadline_tsc, uint8_t vector) {
  cpu_.timer_armed = true;
  cpu_.timer_deadline = deadline_tsc;
  cpu_.timer_vector = vector;
}

void SvmCpu::vmrun(uint64_t vmcb_pa, hal::GuestGprs& regs, hal::GuestExtState* ext) {
  static_assert(sizeof(hal::GuestGprs) == sizeof(GuestGprs), "the same 16 registers in encoding order");
  GuestGprs r;
  std::memcpy(&r, &regs, sizeof r);
  vmrun(vmcb_pa, r, ext);
  std::memcpy(&regs, &r, sizeof r);
}

void SvmCpu::vmrun(uint64_t vmcb_pa, GuestGprs& regs, hal::GuestExtState* ext) {
  using cpu::CpuError;
  // The host's own mistakes (no SVME, no HSAVE, a bad VMCB address) stay errors of the host.
  if (!(cpu_.efer & kEferSvme)) throw CpuError("VMRUN with EFER.SVME = 0 (#UD): call enable() first");
  if (!cpu_.vm_hsave_pa) throw CpuError("VMRUN without VM_HSAVE_PA (#GP)");
  if (vmcb_pa & 0xFFF) throw CpuError("VMRUN: VMCB address not 4 KiB aligned (#GP)");
  uint8_t* raw = m_.mem().map(vmcb_pa, sizeof(rs::Vmcb));
  if (!raw) throw CpuError("VMRUN: VMCB outside RAM (#GP)");
  auto* v = reinterpret_cast<rs::Vmcb*>(raw);
  ++cpu_.counters.vmruns;
  auto invalid = [&](const char* why) {
    // #VMEXIT(VMEXIT_INVALID) (APM vol. 2 §15.5.1): the guest does not run, its state stays as it was.
    invalid_reason_ = why;
    v->control.exitcode = rs::kExitInvalid;
    v->control.exitinfo1 = v->control.exitinfo2 = 0;
    ++cpu_.counters.exits[rs::kExitInvalid];
  };
  if (const char* why = svm::vmrun_check(*v, m_.mem().size())) return invalid(why);
  invalid_reason_ = nullptr;
  const auto& s = v->save;
  auto& c = cpu_;
  // A mode the interpreter cannot execute: the same answer as hv.bin's VMRUN gets (host_svm.cpp).
  if (const char* why = svm::guest_mode_unsupported(s)) return invalid(why);

  // ---- world switch in (the native path loads the VMLOAD state too: no VMLOAD here) ----
  if (ext && !svm::load_ext_state(c, *ext)) return invalid("the guest's FXSAVE image has reserved MXCSR bits set");
  svm::load_controls(c, m_.mem(), v->control);
  svm::load_vmrun_state(c, s);
  svm::load_hidden_state(c, s);
  c.select_context();
  c.code_modified_externally();  // the C++ hypervisor writes guest memory directly, not through this CPU
  for (int i = 1; i < 16; ++i)
    if (i != cpu::RSP) c.gpr[i] = regs.r[i];
  c.halted = false;
  c.exitintinfo = 0;
  c.stop = cpu::Stop::none;

  const uint64_t i0 = c.icount, idle0 = c.idle_ticks;
  cpu::Stop st = cpu::Stop::none;
  limit_reason_.clear();
  try {
    svm::inject_pending_event(c, v->control);
    st = c.stop;
    if (st == cpu::Stop::none) st = c.run(run_limit_ ? run_limit_ : ~0ull);
  } catch (const CpuError& e) {
    // The guest did something this model cannot execute (docs/simulator-cpu.md, "Limits"):
    // its run ends as #VMEXIT(VMEXIT_INVALID) naming it; the other guests are not concerned.
    limit_reason_ = std::string("the simulated CPU cannot execute the guest: ") + e.what();
    st = cpu::Stop::shutdown;
  }

  // ---- #VMEXIT: store the guest back ----
  const uint64_t retired = (c.icount - i0) - (c.idle_ticks - idle0);
  c.counters.per_asid[c.asid].instructions += retired;
  svm::store_vmrun_state(c, v->save);
  svm::store_hidden_state(c, v->save);
  if (ext) svm::store_ext_state(c, *ext);
  for (int i = 1; i < 16; ++i)
    if (i != cpu::RSP) regs.r[i] = c.gpr[i];
  if (limit_reason_.empty() && st == cpu::Stop::halted)
    limit_reason_ = "the guest executed HLT (not intercepted) with no interrupt that could ever wake it";
  if (limit_reason_.empty() && st == cpu::Stop::budget) limit_reason_ = "the guest exceeded the VMRUN instruction limit";
  if (limit_reason_.empty()) svm::store_exit_info(c, v->control);  // before the controls go: V_TPR comes from them
  c.guest = false;
  c.asid = 0;
  c.ctl = cpu::GuestControls{};
  c.select_context();
  if (!limit_reason_.empty()) return invalid(limit_reason_.c_str());
  ++c.counters.exits[c.exitcode];
}

}  // namespace redoubt::sim
