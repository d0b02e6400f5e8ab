// The boundary between the hypervisor core and an architecture backend
// (arch/svm: AMD-V; arch/vmx: Intel VT-x). The core decides policy; the backend
// owns the control block (VMCB / VMCS), the permission maps and the
// instruction that enters the guest, and translates each exit into an
// architecture-neutral ExitEvent.
#pragma once
#include <cstdint>

#include "platform/hal/status.hpp"
#include "platform/hal/svm.hpp"

namespace redoubt::hv {

// The guest's general-purpose registers that the virtualization hardware does
// not keep in the control block: the world-switch code saves and restores
// them around VMRUN (on SVM RAX, RSP, RIP and RFLAGS live in the VMCB).
using GuestGprs = hal::GuestGprs;  // platform/hal/svm.hpp

enum class ExitKind : uint8_t {
  cpuid,      // emulate CPUID(rax, rcx) per policy
  io,         // IN/OUT to `port`
  msr,        // RDMSR/WRMSR of rcx
  hlt,
  hypercall,  // VMMCALL (SVM) / VMCALL (VMX)
  npf,        // nested page fault (SVM #NPF) / EPT violation (VMX) at gpa
  intr,       // a physical interrupt (the host timer) arrived
  shutdown,   // triple fault
  exception,  // an intercepted guest exception
  invalid,    // the control block failed the entry checks
  other,      // anything else: the core kills the guest with the raw code
};

struct ExitEvent {
  ExitKind kind = ExitKind::other;
  uint64_t raw_code = 0;   // EXITCODE (SVM) / exit reason (VMX)
  uint64_t info1 = 0, info2 = 0;
  uint64_t next_rip = 0;   // 0 if the hardware did not say
  // io
  uint16_t port = 0;
  uint8_t io_size = 0;     // 1, 2, 4
  bool io_in = false, io_string = false, io_rep = false;
  // msr
  bool msr_write = false;
  // npf
  uint64_t gpa = 0;
  bool npf_write = false, npf_fetch = false, npf_present = false, npf_in_walk = false;
  // exception
  uint8_t vector = 0;
};

// The entry state the core asks for (docs/guests.md).
struct VcpuEntry {
  uint64_t rip, rsp, cr3, gdt_base;
  uint16_t gdt_limit;
  uint64_t npt_root;
  uint32_t asid;
  uint64_t io_map_pa, msr_map_pa;  // permission maps built by the backend's helpers
};

class VcpuArch {
 public:
  virtual Status setup(const VcpuEntry& e) = 0;
  virtual void run(ExitEvent& out) = 0;  // enter the guest until the next exit
  virtual GuestGprs& gprs() = 0;         // valid between runs (rax/rsp synced with the control block)
  virtual uint64_t rip() = 0;
  virtual void set_rip(uint64_t rip) = 0;
  virtual void skip(const ExitEvent& e, uint64_t insn_len) = 0;  // past the exiting instruction
  virtual uint64_t cr0() = 0;
  virtual uint64_t cr3() = 0;
  virtual uint64_t cr4() = 0;
  virtual uint64_t efer() = 0;
  virtual uint16_t cs_attrib() = 0;      // VMCB-style packed attributes (L = bit 9, D = bit 10)
  virtual void set_efer(uint64_t v) = 0;
  virtual uint64_t pat() = 0;
  virtual void set_pat(uint64_t v) = 0;
  virtual bool interruptible() = 0;      // RFLAGS.IF set and no interrupt shadow
  virtual bool event_pending() = 0;      // an injected event not yet delivered
  virtual void inject_exception(uint8_t vector, bool has_error, uint32_t error, bool set_cr2, uint64_t cr2) = 0;
  virtual void inject_interrupt(uint8_t vector) = 0;
  virtual uint64_t control_block_pa() const = 0;
  // The next run ends no later than this TSC value (the scheduler's deadline; the host timer is
  // armed for it too). VMX uses it for the VMX-preemption timer; SVM relies on the host timer.
  virtual void preempt_at(uint64_t deadline_tsc) { (void)deadline_tsc; }
  // The vendor's name of an exit's raw code (kill reasons, logs).
  virtual const char* exit_name(uint64_t raw_code) const = 0;
  // What the vendor calls a second-level translation fault and a refused guest state.
  virtual const char* slat_fault_name() const { return "#NPF"; }
  virtual const char* refused_entry_name() const { return "VMRUN refused the guest state (#VMEXIT VMEXIT_INVALID)"; }

 protected:
  ~VcpuArch() = default;
};

}  // namespace redoubt::hv
