// The AMD-V backend of a vCPU (APM vol. 2 ch. 15): a VMCB in hypervisor
// memory, the IOPM and MSRPM in their APM formats, VMRUN through the HAL,
// and the translation of #VMEXIT codes into the core's ExitEvent.
#pragma once
#include <cstdint>

#include "arch/svm/vmcb.hpp"
#include "hypervisor/core/phys_alloc.hpp"
#include "hypervisor/core/policy.hpp"
#include "hypervisor/core/vcpu_arch.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::svm {

// I/O permission map (APM vol. 2 §15.10.1): 12 KiB, one bit per port, 1 =
// intercept. Everything is intercepted except the policy's grants.
Status build_iopm(hv::PageAllocator& alloc, const hv::IoGrant* grants, uint32_t n, uint64_t& pa);
bool iopm_intercepts(const uint8_t* iopm, uint16_t port);
// MSR permission map (APM vol. 2 §15.11): 8 KiB, two bits per MSR (read,
// write) in three 2 KiB vectors. Everything is intercepted except the MSRs
// whose state lives in the VMCB and that a guest may own (FS/GS/KernelGS base).
Status build_msrpm(hv::PageAllocator& alloc, uint64_t& pa);
// The byte offset and bit of an MSR in the MSRPM; false if it is outside the three ranges.
bool msrpm_position(uint32_t msr, uint32_t& byte, unsigned& bit);

inline constexpr uint32_t kMsrFsBase = 0xC0000100, kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102;

class SvmVcpu final : public hv::VcpuArch {
 public:
  // switch_state = false is the test-only kHvTestNoGuestStateSwitch: DR0-3 and x87/SSE
  // are not switched and V_INTR_MASKING is off (CR8 is then the physical TPR).
  Status create(hal::Platform& p, hv::PageAllocator& alloc, bool switch_state = true);

  Status setup(const hv::VcpuEntry& e) override;
  void run(hv::ExitEvent& out) override;
  hv::GuestGprs& gprs() override { return gprs_; }
  uint64_t rip() override { return vmcb_->save.rip; }
  void set_rip(uint64_t rip) override { vmcb_->save.rip = rip; }
  void skip(const hv::ExitEvent& e, uint64_t insn_len) override;
  uint64_t cr0() override { return vmcb_->save.cr0; }
  uint64_t cr3() override { return vmcb_->save.cr3; }
  uint64_t cr4() override { return vmcb_->save.cr4; }
  uint64_t efer() override { return vmcb_->save.efer; }
  uint16_t cs_attrib() override { return vmcb_->save.cs.attrib; }
  void set_efer(uint64_t v) override { vmcb_->save.efer = v; }
  uint64_t pat() override { return vmcb_->save.g_pat; }
  void set_pat(uint64_t v) override { vmcb_->save.g_pat = v; }
  bool interruptible() override;
  bool event_pending() override { return vmcb_->control.eventinj & event_inj::kValid; }
  void inject_exception(uint8_t vector, bool has_error, uint32_t error, bool set_cr2, uint64_t cr2) override;
  void inject_interrupt(uint8_t vector) override;
  uint64_t control_block_pa() const override { return vmcb_pa_; }
  const char* exit_name(uint64_t raw_code) const override;
  Vmcb* vmcb() { return vmcb_; }

  // Shadow paging (docs/hypervisor.md "Shadow paging"): nested paging off (APM vol. 2 §15.25),
  // CR3 = the shadow root, and the intercepts that keep the shadow right: CR3 reads and
  // writes, CR0/CR4 writes (§15.9), INVLPG (§15.12: EXITINFO1 = the address) and #PF (§15.12,
  // exception intercept 14: EXITINFO1 = error code, EXITINFO2 = the address). Call after setup().
  void enable_shadow(uint64_t shadow_root);
  void set_cr3(uint64_t v) { vmcb_->save.cr3 = v; }
  void set_cr0(uint64_t v) { vmcb_->save.cr0 = v; }
  void set_cr4(uint64_t v) { vmcb_->save.cr4 = v; }
  void flush_tlb() { flush_next_ = true; }  // TLB_CONTROL = flush this ASID at the next VMRUN (§15.16.1)
  uint64_t exitintinfo() const { return vmcb_->control.exitintinfo; }
  void reinject(uint64_t exitintinfo) { vmcb_->control.eventinj = exitintinfo; }  // §15.7.2: same format

 private:
  hal::Platform* p_ = nullptr;
  Vmcb* vmcb_ = nullptr;
  uint64_t vmcb_pa_ = 0;
  hal::GuestExtState* ext_ = nullptr;  // a page of hypervisor memory: DR0-3, FXSAVE image
  bool switch_state_ = true;
  hv::GuestGprs gprs_{};
  bool flush_next_ = true;
};

}  // namespace redoubt::svm
