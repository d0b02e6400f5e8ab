// The simulated CPU's Intel VT-x (VMX) model. Attach one to a cpu::Cpu to make
// that CPU an Intel part (CPUID "GenuineIntel" with VMX, no SVM); the VMX
// instructions executed by code on it then land here (Intel SDM vol. 3C ch. 31).
// The VMCS is opaque to software: its state lives here, keyed by the VMCS
// region's physical address (only the revision id is in memory). docs/intel.md.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"
#include "platform/sim/vmx/entry_checks.hpp"
#include "platform/sim/vmx/vmcs.hpp"

namespace redoubt::sim::vmx {

inline constexpr uint64_t kInvalidVmcsPointer = ~0ull;  // current-VMCS pointer "invalid" (§24.11.2)

// The outcome of a VMX instruction (§31.2) or of a VM entry (ch. 27).
struct VmResult {
  enum class Kind : uint8_t {
    succeed,       // VMsucceed
    fail_invalid,  // VMfailInvalid (CF = 1)
    fail_valid,    // VMfailValid(error) (ZF = 1, VM-instruction error field written)
    entry_failed,  // VM entry failed on guest state (§27.8): host state loaded, exit reason 33 | bit 31
    entered,       // VM entry passed every check (the guest would run)
  };
  Kind kind = Kind::succeed;
  uint32_t error = 0;
  bool operator==(const VmResult&) const = default;
};

class VmxCpu final : public cpu::HostVmx {
 public:
  // Makes `c` an Intel CPU with this VMX model; the destructor detaches it.
  VmxCpu(cpu::Cpu& c, PhysicalMemory& mem);
  ~VmxCpu();
  VmxCpu(const VmxCpu&) = delete;
  VmxCpu& operator=(const VmxCpu&) = delete;

  // cpu::HostVmx
  void instruction(cpu::Cpu& c, const cpu::VmxOperands& o) override;
  bool rdmsr(cpu::Cpu& c, uint32_t msr, uint64_t& v) override;
  bool wrmsr(cpu::Cpu& c, uint32_t msr, uint64_t v) override;
  bool cr_write_allowed(const cpu::Cpu& c, unsigned cr, uint64_t v) override;
  bool guest_mov_cr(cpu::Cpu& c, unsigned cr, bool write, unsigned gpr, uint64_t& value) override;  // vmx_guest.cpp

  // ---- the instructions' operations after their #UD/#GP checks (what C++ drivers and tests call) ----
  VmResult vmxon(uint64_t pa);
  VmResult vmxoff();
  VmResult vmclear(uint64_t pa);
  VmResult vmptrld(uint64_t pa);
  uint64_t vmptrst() const { return current_; }
  VmResult vmread(uint64_t encoding, uint64_t& value);
  VmResult vmwrite(uint64_t encoding, uint64_t value);
  VmResult vmentry(bool launch);  // VMLAUNCH (true) / VMRESUME (false) on the attached CPU
  VmResult vmcall();              // in VMX root operation: VMfail(1)

  // ---- running guests (vmx_guest.cpp) ----
  // Runs the attached CPU; every VM exit of a guest (ch. 28) is completed here (guest state
  // and exit information stored into the VMCS, host state loaded) and the host continues at
  // HOST_RIP. Returns when the CPU stops for anything else (HLT in the host, budget, ...).
  cpu::Stop run(uint64_t max_instructions = ~0ull);
  bool in_guest() const { return c_.guest; }
  uint64_t exits() const { return exits_; }
  // Observers, as HostSvm's: called at every world switch (entering = true just before the guest's
  // first instruction, false once the exit is recorded and the host state loaded).
  std::function<void(uint64_t vmcs_pa, bool entering)> on_world_switch;
  // Per VMCS (statistics, bench_vendor): host wall-clock time in VMX non-root operation, VM
  // entries, the page walks made while that guest ran (cpu::Counters' walk figures), and its VM
  // exits by basic exit reason (Appendix C).
  struct PerVmcs {
    double seconds = 0;
    uint64_t entries = 0, walks = 0, walk_refs = 0, nested_refs = 0;
    std::map<uint32_t, uint64_t> reasons;
  };
  const std::map<uint64_t, PerVmcs>& per_vmcs() const { return per_; }

  // ---- state ----
  bool in_vmx_operation() const { return vmx_operation_; }
  uint64_t vmxon_pointer() const { return vmxon_ptr_; }
  uint64_t current_vmcs() const { return current_; }
  const Vmcs* vmcs(uint64_t pa) const;
  uint64_t feature_control() const { return feature_control_; }
  void set_feature_control(uint64_t v) { feature_control_ = v; }  // what firmware left (tests)
  // SMX operation (SDM vol. 2D ch. 7): entered by GETSEC[SENTER] (FullSystem::launch_txt), left by
  // SEXIT (not modelled). VMXON then needs IA32_FEATURE_CONTROL's "VMX inside SMX" (§24.7).
  bool smx_operation = false;
  // IA32_VMX_CR4_FIXED1: the CR4 bits the CPU implements + VMXE, + SMXE on a part with SMX.
  uint64_t cr4_fixed1() const;
  // The rule behind the last VMfailValid(7/8) or entry failure (with its SDM section).
  const std::string& last_entry_failure() const { return last_failure_; }

 private:
  VmResult fail(uint32_t error);  // VMfail(n): valid if there is a current VMCS (§31.2)
  VmResult fail_valid(uint32_t error);
  VmResult vmwrite_check(uint64_t encoding);  // VMWRITE's failures, before its memory operand is read
  void apply_flags(cpu::Cpu& c, const VmResult& r);
  void load_host_state(const Vmcs& s);  // §28.5, for a VM-entry failure (§27.8)
  uint32_t revision_at(uint64_t pa) const;
  void enter_guest(Vmcs& s);   // §27.3.2 loading guest state, controls into the CPU (after every check passed)
  void exit_to_host();         // ch. 28: the guest's exit recorded, host state loaded
  void guest_vmx_instruction(cpu::Cpu& c, const cpu::VmxOperands& o);  // VMX instructions in VMX non-root: exits

  cpu::Cpu& c_;
  PhysicalMemory& mem_;
  bool vmx_operation_ = false;
  uint64_t vmxon_ptr_ = 0;
  uint64_t current_ = kInvalidVmcsPointer;
  uint64_t feature_control_ = 0;  // unlocked, as after reset (firmware or the test locks it)
  std::unordered_map<uint64_t, Vmcs> vmcs_;
  std::string last_failure_;
  uint64_t guest_vmcs_ = kInvalidVmcsPointer;  // the VMCS of the guest that runs now
  std::vector<uint8_t> iopm_, msrpm_;           // the VMX bitmaps in the CPU's (SVM-style) map formats
  std::vector<uint8_t> msr_bitmap_seen_;        // the MSR bitmap msrpm_ was converted from
  uint64_t msr_bitmap_pa_ = ~0ull - 1;          // its address (~0: no MSR bitmaps; ~0 - 1: none converted yet)
  uint64_t exits_ = 0;
  std::map<uint64_t, PerVmcs> per_;
  uint64_t walks0_ = 0, refs0_ = 0, nrefs0_ = 0, icount0_ = 0, idle0_ = 0;
  uint64_t external_writes_seen_ = 0;  // PhysicalMemory::external_writes() at the last VM entry
  std::chrono::steady_clock::time_point t0_{};
  // The VMX-preemption timer of the running guest (§26.5.1): it counts down each time TSC bit 5
  // changes (IA32_VMX_MISC[4:0] = 5); the guest exits (52) when icount reaches the deadline.
  bool timer_active_ = false;
  uint64_t timer_deadline_ = 0;
};

// Exit codes for the CPU's guest-mode exits that have no SVM equivalent: kVmxExitCode + basic reason.
inline constexpr uint64_t kVmxExitCode = 0x10000;

}  // namespace redoubt::sim::vmx
