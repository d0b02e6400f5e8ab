#include "platform/sim/svm/host_svm.hpp"

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/svm/vmcb_state.hpp"
#include "platform/sim/svm/vmrun_checks.hpp"

namespace redoubt::sim::svm {

namespace rs = redoubt::svm;

namespace {
rs::Vmcb* vmcb_at(PhysicalMemory& mem, uint64_t pa) { return reinterpret_cast<rs::Vmcb*>(mem.map(pa, sizeof(rs::Vmcb))); }
}  // namespace

void HostSvm::vmrun(cpu::Cpu& c) {
  const uint64_t pa = c.gpr[cpu::RAX];
  rs::Vmcb* v = vmcb_at(mem_, pa);
  if (!v || !c.vm_hsave_pa) c.gp(0);  // APM vol. 3 VMRUN: #GP if rAX or VM_HSAVE_PA is not valid memory
  ++c.counters.vmruns;
  // Host state saved (§15.5.1): the host resumes after this VMRUN at #VMEXIT.
  host_ = HostState{c.es, c.cs, c.ss, c.ds, c.gdtr, c.idtr, c.cr0, c.cr3, c.cr4, c.efer,
                    c.rflags(), c.gpr[cpu::kRip], c.gpr[cpu::RSP], c.gpr[cpu::RAX], c.pat};
  invalid_reason_ = vmrun_check(*v, mem_.size());
  if (!invalid_reason_) invalid_reason_ = guest_mode_unsupported(v->save);  // a simulator limit, see docs
  if (invalid_reason_) {
    // #VMEXIT(INVALID): the guest never runs; the host continues after VMRUN (GIF stays as VMRUN found it... cleared,
    // as at any #VMEXIT, §15.6).
    v->control.exitcode = rs::kExitInvalid;
    ++c.counters.exits[rs::kExitInvalid];
    c.gif = false;
    return;
  }
  vmcb_pa_ = pa;
  if (on_world_switch) on_world_switch(pa, true);
  load_controls(c, mem_, v->control);
  load_vmrun_state(c, v->save);
  c.select_context();  // the guest's soft-TLB bank: its entries survive unless TLB_CONTROL flushed them
  // Decoded code stays valid across the switch: the hypervisor's stores go through this CPU, which
  // drops the blocks of a page it writes (Cpu::note_code_write). Only writes made outside any CPU
  // (DMA, the loader) need the blocks compared with memory again.
  if (mem_.external_writes() != external_writes_seen_) {
    external_writes_seen_ = mem_.external_writes();
    c.code_modified_externally();
  }
  c.gif = true;  // VMRUN sets GIF (§15.17)
  c.halted = false;
  c.exitintinfo = 0;
  icount0_ = c.icount + 1;  // VMRUN itself retires (the run loop counts it) as a host instruction
  idle0_ = c.idle_ticks;
  walks0_ = c.counters.walks;
  refs0_ = c.counters.walk_refs;
  nrefs0_ = c.counters.nested_walk_refs;
  t0_ = ticks_.now();
  inject_pending_event(c, v->control);
}

void HostSvm::vmexit() {
  cpu::Cpu& c = c_;
  rs::Vmcb* v = vmcb_at(mem_, vmcb_pa_);
  const uint64_t retired = (c.icount - icount0_) - (c.idle_ticks - idle0_);
  c.counters.per_asid[c.asid].instructions += retired;
  PerVmcb& p = per_[vmcb_pa_];
  p.ticks += ticks_.now() - t0_;
  p.walks += c.counters.walks - walks0_;
  p.walk_refs += c.counters.walk_refs - refs0_;
  p.nested_refs += c.counters.nested_walk_refs - nrefs0_;
  // The VMCB page is hypervisor memory; it stays mapped (RAM is fixed).
  store_vmrun_state(c, v->save);
  store_exit_info(c, v->control);
  ++c.counters.exits[c.exitcode];
  // Back to the host (§15.6): the saved state, CPL 0, DR7 with every breakpoint off, GIF = 0.
  c.guest = false;
  c.asid = 0;
  c.ctl = cpu::GuestControls{};
  c.es = host_.es;
  c.cs = host_.cs;
  c.ss = host_.ss;
  c.ds = host_.ds;
  c.gdtr = host_.gdtr;
  c.idtr = host_.idtr;
  c.cr0 = host_.cr0;
  c.cr3 = host_.cr3;
  c.cr4 = host_.cr4;
  c.efer = host_.efer;
  c.set_rflags(host_.rflags);
  c.gpr[cpu::kRip] = host_.rip;
  c.gpr[cpu::RSP] = host_.rsp;
  c.gpr[cpu::RAX] = host_.rax;
  c.pat = host_.pat;  // with nested paging the guest's PAT is G_PAT; the host's own comes back (§15.25.8)
  c.cpl = 0;
  c.dr7 = 0x400;
  c.gif = false;
  c.halted = false;
  c.shadow_end = ~0ull;
  c.stop = cpu::Stop::none;
  c.update_mode();     // once, from the whole host state
  c.select_context();  // the host's bank (ASID 0, CPL 0), as the guest's stays for its next VMRUN
  if (on_world_switch) on_world_switch(vmcb_pa_, false);
}

void HostSvm::vmexit_invalid(const std::string& why) {
  cpu::Cpu& c = c_;
  c.exitcode = rs::kExitInvalid;
  c.exitinfo1 = c.exitinfo2 = 0;
  c.nrip = 0;
  vmexit();
  limit_reason_ = "the simulated CPU cannot execute the guest: " + why;
  invalid_reason_ = limit_reason_.c_str();
}

void HostSvm::vmload(cpu::Cpu& c) {
  rs::Vmcb* v = vmcb_at(mem_, c.gpr[cpu::RAX]);
  if (!v) c.gp(0);
  load_hidden_state(c, v->save);
}

void HostSvm::vmsave(cpu::Cpu& c) {
  rs::Vmcb* v = vmcb_at(mem_, c.gpr[cpu::RAX]);
  if (!v) c.gp(0);
  store_hidden_state(c, v->save);
}

}  // namespace redoubt::sim::svm
