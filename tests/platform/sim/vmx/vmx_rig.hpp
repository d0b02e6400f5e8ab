// A bare simulated CPU made an Intel part with the VMX model attached: 64-bit
// mode with a 1 GiB identity map (tests/platform/sim/cpu/bare_cpu.hpp), CR0.NE
// and CR4.VMXE set and IA32_FEATURE_CONTROL locked with VMX outside SMX, as
// firmware and an OS leave it before VMXON. Code is hand-assembled bytes.
#pragma once
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/msrs.hpp"
#include "arch/vmx/vm_errors.hpp"
#include "arch/vmx/vmcs_fields.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"
#include "platform/sim/vmx/vmx_cpu.hpp"
#include "tests/platform/sim/cpu/bare_cpu.hpp"

namespace redoubt::test {

namespace v = redoubt::vmx;
namespace svmx = redoubt::sim::vmx;
using sim::cpu::RAX;
using sim::cpu::RBX;
using sim::cpu::RCX;
using sim::cpu::RDX;

// Encodings of the instructions the tests run (Intel SDM vol. 2C, "VMX Instruction Reference").
namespace op {
inline const std::vector<uint8_t> vmxon_rax = {0xF3, 0x0F, 0xC7, 0x30};    // VMXON [rax]
inline const std::vector<uint8_t> vmclear_rax = {0x66, 0x0F, 0xC7, 0x30};  // VMCLEAR [rax]
inline const std::vector<uint8_t> vmptrld_rax = {0x0F, 0xC7, 0x30};        // VMPTRLD [rax]
inline const std::vector<uint8_t> vmptrst_rax = {0x0F, 0xC7, 0x38};        // VMPTRST [rax]
inline const std::vector<uint8_t> vmxoff = {0x0F, 0x01, 0xC4};
inline const std::vector<uint8_t> vmlaunch = {0x0F, 0x01, 0xC2};
inline const std::vector<uint8_t> vmresume = {0x0F, 0x01, 0xC3};
inline const std::vector<uint8_t> vmcall = {0x0F, 0x01, 0xC1};
inline const std::vector<uint8_t> vmread_rbx_rax = {0x0F, 0x78, 0xC3};     // VMREAD rbx, rax (rax = encoding)
inline const std::vector<uint8_t> vmread_mrcx_rax = {0x0F, 0x78, 0x01};    // VMREAD [rcx], rax
inline const std::vector<uint8_t> vmwrite_rax_rbx = {0x0F, 0x79, 0xC3};    // VMWRITE rax, rbx (rax = encoding)
inline const std::vector<uint8_t> vmwrite_rax_mrcx = {0x0F, 0x79, 0x01};   // VMWRITE rax, [rcx]
inline const std::vector<uint8_t> invept_rax_mrcx = {0x66, 0x0F, 0x38, 0x80, 0x01};   // INVEPT rax, [rcx]
inline const std::vector<uint8_t> invvpid_rax_mrcx = {0x66, 0x0F, 0x38, 0x81, 0x01};  // INVVPID rax, [rcx]
inline const std::vector<uint8_t> mov_cr4_rax = {0x0F, 0x22, 0xE0};
inline const std::vector<uint8_t> mov_cr0_rax = {0x0F, 0x22, 0xC0};
inline const std::vector<uint8_t> rdmsr = {0x0F, 0x32};
inline const std::vector<uint8_t> wrmsr = {0x0F, 0x30};
inline const std::vector<uint8_t> cpuid = {0x0F, 0xA2};
inline const std::vector<uint8_t> hlt = {0xF4};
}  // namespace op

struct VmxRig : BareCpu {
  static constexpr uint64_t kVmxon = 0x10000, kVmcs = 0x11000, kVmcs2 = 0x12000, kOperand = 0x13000;
  static constexpr uint64_t kHandlers = 0x140000;  // #UD at +0x00, #GP at +0x10: HLT
  static constexpr uint64_t kHostRip = 0x150000, kHostRsp = 0x1E0000, kGuestRip = 0x160000;
  static constexpr uint64_t kCr0 = 0x80000031;  // PG NE ET PE: CR0 as VMX operation requires (FIXED0 = PG NE PE)
  static constexpr uint64_t kCr4 = 0x2020;      // VMXE PAE
  svmx::VmxCpu vmx{c, mem};

  VmxRig() {
    long_mode_state(kCode);
    c.cr0 = kCr0;
    c.cr4 = kCr4;
    vmx.set_feature_control(v::feature_control::kLock | v::feature_control::kVmxOutsideSmx);
    put32(kVmxon, svmx::kVmcsRevision);
    put32(kVmcs, svmx::kVmcsRevision);
    put32(kVmcs2, svmx::kVmcsRevision);
    wr64(kHandlers, 0xF4);
    wr64(kHandlers + 0x10, 0xF4);
    idt_gate(6, kHandlers);
    idt_gate(13, kHandlers + 0x10);
    wr64(kHostRip, 0xF4);
  }
  void put32(uint64_t pa, uint32_t v) { std::memcpy(mem.map(pa, 4), &v, 4); }

  // Runs `code` + HLT at kCode (64-bit mode, CPL 0) until the HLT.
  void run(const std::vector<uint8_t>& code) {
    std::vector<uint8_t> b = code;
    b.push_back(0xF4);
    mem.write(kCode, b);
    c.code_modified_externally();
    c.rip() = kCode;
    c.halted = false;
    vmx.run(1u << 16);
  }
  uint64_t flags() { return c.rflags() & v::kVmFlagsMask; }
  bool vm_succeed() { return flags() == v::kVmSucceedFlags; }
  bool vm_fail_invalid() { return flags() == v::kVmFailInvalidFlags; }
  bool vm_fail_valid() { return flags() == v::kVmFailValidFlags; }
  // The exception the code took (vector), or -1.
  int fault() const { return c.first_host_fault.valid ? c.first_host_fault.vector : -1; }
  // Via the C++ operations (same semantics as the instructions, tested separately).
  uint64_t field(uint32_t enc) {
    uint64_t x = 0;
    vmx.vmread(enc, x);
    return x;
  }
  void set(uint32_t enc, uint64_t x) { vmx.vmwrite(enc, x); }

  // VMXON, VMCLEAR + VMPTRLD of kVmcs and a VMCS that passes every VM-entry check: a 64-bit
  // guest and host sharing this rig's GDT, page tables and flat segments (ch. 27).
  void valid_vmcs() {
    vmx.vmxon(kVmxon);
    vmx.vmclear(kVmcs);
    vmx.vmptrld(kVmcs);
    set(v::kPinBasedControls, v::pin::kDefault1);
    set(v::kPrimaryProcControls, v::proc::kDefault1 | v::proc::kHltExiting | v::proc::kActivateSecondary);
    set(v::kSecondaryProcControls, v::proc2::kEnableEpt | v::proc2::kEnableVpid);
    set(v::kEptPointer, 0x1F00000 | 6 | (3 << 3));  // WB, 4-level
    set(v::kVpid, 1);
    set(v::kExitControls, v::exit_ctl::kDefault1 | v::exit_ctl::kHostAddressSpaceSize);
    set(v::kEntryControls, v::entry_ctl::kDefault1 | v::entry_ctl::kIa32eModeGuest);
    // Host state: this CPU.
    set(v::kHostCr0, kCr0);
    set(v::kHostCr3, kPml4);
    set(v::kHostCr4, kCr4);
    set(v::kHostCsSelector, kCode64);
    set(v::kHostSsSelector, kData);
    set(v::kHostDsSelector, kData);
    set(v::kHostEsSelector, kData);
    set(v::kHostTrSelector, 0x48);
    set(v::kHostTrBase, 0x5000);
    set(v::kHostGdtrBase, kGdt);
    set(v::kHostIdtrBase, kIdt);
    set(v::kHostRsp, kHostRsp);
    set(v::kHostRip, kHostRip);
    // Guest state: 64-bit code at CPL 0.
    set(v::kGuestCr0, kCr0);
    set(v::kGuestCr3, kPml4);
    set(v::kGuestCr4, kCr4);
    set(v::kGuestDr7, 0x400);
    set(v::kGuestRsp, 0x1D0000);
    set(v::kGuestRip, kGuestRip);
    set(v::kGuestRflags, 2);
    constexpr uint32_t kCodeAr = 0xA09B, kDataAr = 0xC093, kUnusable = v::ar::kUnusable;
    set(v::kGuestCsSelector, kCode64);
    set(v::kGuestCsLimit, 0xFFFFFFFF);
    set(v::kGuestCsAr, kCodeAr);
    for (auto [sel, lim, ar] : {std::tuple{v::kGuestSsSelector, v::kGuestSsLimit, v::kGuestSsAr},
                                std::tuple{v::kGuestDsSelector, v::kGuestDsLimit, v::kGuestDsAr},
                                std::tuple{v::kGuestEsSelector, v::kGuestEsLimit, v::kGuestEsAr}}) {
      set(sel, kData);
      set(lim, 0xFFFFFFFF);
      set(ar, kDataAr);
    }
    set(v::kGuestFsAr, kUnusable);
    set(v::kGuestGsAr, kUnusable);
    set(v::kGuestLdtrAr, kUnusable);
    set(v::kGuestTrSelector, 0x48);
    set(v::kGuestTrBase, 0x5000);
    set(v::kGuestTrLimit, 0x67);
    set(v::kGuestTrAr, 0x8B);  // busy 64-bit TSS, present
    set(v::kGuestGdtrBase, kGdt);
    set(v::kGuestGdtrLimit, 0x47);
    set(v::kGuestIdtrBase, kIdt);
    set(v::kGuestIdtrLimit, 0xFFF);
    set(v::kVmcsLinkPointer, ~0ull);
  }
};

}  // namespace redoubt::test
