// The Intel VT-x backend of a vCPU (Intel SDM vol. 3C ch. 24-31): a VMCS in
// hypervisor memory reached only through VMCLEAR/VMPTRLD/VMREAD/VMWRITE, the
// VMX I/O and MSR bitmaps, VM entries through the HAL, and the translation of
// VM exits into the core's ExitEvent. The same interface as arch/svm.
#pragma once
#include <cstdint>

#include "hypervisor/core/phys_alloc.hpp"
#include "hypervisor/core/policy.hpp"
#include "hypervisor/core/vcpu_arch.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::vmx {

// ExitEvent::raw_code of a VMX exit: kRawCodeBase | basic exit reason (App. C), so that a
// VMX reason is never read as an SVM EXITCODE (the simulator's own kVmxExitCode convention).
inline constexpr uint64_t kRawCodeBase = 0x10000;
// The name of a basic exit reason (App. C), "?" for one this file does not know.
const char* exit_reason_name(uint32_t reason);

// I/O bitmaps A (ports 0000-7FFF) and B (8000-FFFF), one bit per port, 1 = exit (§25.6.4):
// two contiguous pages; everything exits except the policy's grants.
Status build_io_bitmaps(hv::PageAllocator& alloc, const hv::IoGrant* grants, uint32_t n, uint64_t& pa);
bool io_bitmap_exits(const uint8_t* bitmaps, uint16_t port);
// MSR bitmap (§25.6.9): one page, read-low/read-high/write-low/write-high 1 KiB each; every MSR
// exits except FS_BASE and GS_BASE (their state is in the VMCS guest-state area, §25.4.1).
Status build_msr_bitmap(hv::PageAllocator& alloc, uint64_t& pa);
// The byte offset and bit of an MSR's read intercept (write: + 2048); false outside both ranges.
bool msr_bitmap_position(uint32_t msr, uint32_t& byte, unsigned& bit);

// The controls a backend asks for, adjusted by a capability MSR (App. A.3-A.5): bits 31:0 of
// the MSR are the allowed-0 settings (1 = must be 1), bits 63:32 the allowed-1 settings (0 = must
// be 0). Ok with `out` when every `required` bit may be 1; `optional` bits are kept where allowed.
bool adjust_controls(uint64_t cap_msr, uint32_t required, uint32_t optional, uint32_t& out);

class VmxVcpu final : public hv::VcpuArch {
 public:
  Status create(hal::Platform& p, hv::PageAllocator& alloc, bool switch_state = true);

  Status setup(const hv::VcpuEntry& e) override;
  void run(hv::ExitEvent& out) override;
  void preempt_at(uint64_t deadline_tsc) override { deadline_ = deadline_tsc; }
  hv::GuestGprs& gprs() override { return gprs_; }
  uint64_t rip() override { return rd(kRip); }
  void set_rip(uint64_t rip) override { wr(kRip, rip); }
  void skip(const hv::ExitEvent& e, uint64_t insn_len) override;
  uint64_t cr0() override;
  uint64_t cr3() override { return rd(kCr3); }
  uint64_t cr4() override;
  uint64_t efer() override { return rd(kEfer); }
  uint16_t cs_attrib() override;
  void set_efer(uint64_t v) override;
  uint64_t pat() override { return rd(kPat); }
  void set_pat(uint64_t v) override { wr(kPat, v); }
  bool interruptible() override;
  bool event_pending() override;
  void inject_exception(uint8_t vector, bool has_error, uint32_t error, bool set_cr2, uint64_t cr2) override;
  void inject_interrupt(uint8_t vector) override;
  uint64_t control_block_pa() const override { return vmcs_pa_; }
  const char* exit_name(uint64_t raw_code) const override;
  const char* slat_fault_name() const override { return "EPT violation"; }
  const char* refused_entry_name() const override {
    return "VMLAUNCH/VMRESUME refused the guest state (VM-entry failure or VMfailValid)";
  }
  // The error of the last VMfailValid (VM-instruction error field, §31.4), 0 if none.
  uint32_t last_error() const { return last_error_; }

 private:
  // Guest-state fields this file reads and writes (vmcs_fields.hpp names, kept short here).
  static constexpr uint32_t kRip = 0x681E, kRsp = 0x681C, kRflags = 0x6820, kCr0 = 0x6800, kCr3 = 0x6802,
                            kCr4 = 0x6804, kEfer = 0x2806, kPat = 0x2804;
  uint64_t rd(uint32_t field);
  void wr(uint32_t field, uint64_t v);
  Status w(uint32_t field, uint64_t v, const char* what);  // for setup: a failure names the field

  hal::Platform* p_ = nullptr;
  hal::Vmx* vmx_ = nullptr;
  uint64_t vmcs_pa_ = 0, msr_area_pa_ = 0;
  hal::GuestExtState* ext_ = nullptr;
  bool switch_state_ = true;
  bool launched_ = false;
  bool timer_ = false;       // the VMX-preemption timer is on (pin-based control, §26.5.1)
  unsigned timer_rate_ = 0;  // IA32_VMX_MISC[4:0]: it counts once per 2^rate TSC ticks
  uint64_t deadline_ = 0;
  uint64_t cr2_ = 0;
  uint32_t last_error_ = 0;
  uint16_t vpid_ = 0;
  uint64_t eptp_ = 0;
  bool flush_next_ = true;
  hv::GuestGprs gprs_{};
};

}  // namespace redoubt::vmx
