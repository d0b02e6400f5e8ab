// VMX guests running on the simulated CPU: VMLAUNCH/VMRESUME enter a 64-bit
// guest, its exits come back to HOST_RIP with the exit reason (Appendix C),
// qualification (§28.2.1), instruction length and guest state (§28.3) in the
// VMCS and the host state loaded (§28.5). Intel SDM vol. 3C (arch/vmx/sdm.hpp).
#define BOOST_TEST_MODULE vmx_guest
#include <boost/test/unit_test.hpp>

#include "arch/vmx/exit_reasons.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace op = test::op;
namespace v = redoubt::vmx;
namespace svmx = redoubt::sim::vmx;
using sim::cpu::RAX;
using sim::cpu::RDX;

namespace {

// The guest program at kGuestRip (offsets in comments).
const std::vector<uint8_t> kGuest = {
    0x0F, 0xA2,        // +0  CPUID           -> exit 10 (unconditional, §26.1.2)
    0x0F, 0x31,        // +2  RDTSC           -> exit 16 with RDTSC exiting, else TSC + offset
    0xE6, 0x80,        // +4  OUT 80h, AL     -> exit 30: port 80h, 1 byte, out, immediate
    0x66, 0xBA, 0xF8, 0x03,  // +6  MOV DX, 3F8h
    0x66, 0xED,        // +10 IN AX, DX       -> exit 30: port DX, 2 bytes, in, DX
    0x0F, 0x01, 0xC1,  // +12 VMCALL          -> exit 18
    0xF4,              // +15 HLT             -> exit 12 with HLT exiting
};
// RDTSC; VMCALL: the guest's EDX:EAX reach the host in the registers.
const std::vector<uint8_t> kRdtscGuest = {0x0F, 0x31, 0x0F, 0x01, 0xC1};

struct GuestRig : VmxRig {
  GuestRig() {
    valid_vmcs();
    // No EPT (not modelled for running guests yet): guest-physical = host-physical, VPID 1.
    set(v::kSecondaryProcControls, v::proc2::kEnableVpid);
    mem.write(kGuestRip, kGuest);
  }
  // Continue the guest after its exit: RIP += the exit's instruction length, then VMRESUME.
  void resume_after_instruction() {
    set(v::kGuestRip, field(v::kGuestRip) + field(v::kExitInstructionLength));
    run(op::vmresume);
  }
  uint64_t reason() { return field(v::kExitReason); }
  uint64_t qual() { return field(v::kExitQualification); }
  bool back_in_host() { return !vmx.in_guest() && c.rip() == kHostRip + 1 && c.gpr[sim::cpu::RSP] == kHostRsp; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(cpuid_exits_with_reason_10_and_the_host_resumes_at_host_rip) {
  GuestRig r;
  r.run(op::vmlaunch);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.reason() == uint64_t(v::kExitCpuid));
  BOOST_TEST(r.field(v::kExitInstructionLength) == 2u);
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);  // §28.3.3: RIP of the exiting instruction
  BOOST_TEST(r.field(v::kGuestRsp) == 0x1D0000u);
  BOOST_TEST(r.back_in_host());
  BOOST_TEST(r.c.rflags() == 2u);  // §28.5.3
  BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::launched));
  BOOST_TEST(r.vmx.exits() == 1u);
}

BOOST_AUTO_TEST_CASE(rdtsc_exits_with_reason_16_under_rdtsc_exiting) {
  GuestRig r;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kRdtscExiting);
  r.run(op::vmlaunch);
  r.resume_after_instruction();  // past CPUID
  BOOST_TEST(r.reason() == uint64_t(v::kExitRdtsc));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 2);
  BOOST_TEST(r.field(v::kExitInstructionLength) == 2u);
}

BOOST_AUTO_TEST_CASE(rdtsc_in_the_guest_adds_the_tsc_offset) {
  GuestRig r;
  constexpr uint64_t kOffset = 1ull << 40;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUseTscOffsetting);
  r.set(v::kTscOffset, kOffset);
  r.mem.write(VmxRig::kGuestRip, kRdtscGuest);
  const uint64_t t0 = r.c.icount;
  r.run(op::vmlaunch);  // RDTSC runs in the guest, VMCALL exits
  const uint64_t t1 = r.c.icount;
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  // The guest's EDX:EAX stay in the registers at the exit (VMX does not save GPRs).
  const uint64_t tsc = (r.c.gpr[RDX] << 32) | uint32_t(r.c.gpr[RAX]);
  BOOST_TEST(tsc >= t0 + kOffset);
  BOOST_TEST(tsc <= t1 + kOffset);
  // Without offsetting the guest sees the host's TSC.
  GuestRig h;
  h.mem.write(VmxRig::kGuestRip, kRdtscGuest);
  h.run(op::vmlaunch);
  BOOST_TEST(h.reason() == uint64_t(v::kExitVmcall));
  const uint64_t tsc2 = (h.c.gpr[RDX] << 32) | uint32_t(h.c.gpr[RAX]);
  BOOST_TEST(tsc2 < (1ull << 32));
}

BOOST_AUTO_TEST_CASE(io_exits_with_reason_30_and_the_qualification_of_table_28_5) {
  GuestRig r;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUnconditionalIoExiting);
  r.run(op::vmlaunch);
  r.resume_after_instruction();  // past CPUID; RDTSC does not exit; OUT 80h does
  BOOST_TEST(r.reason() == uint64_t(v::kExitIo));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 4);
  BOOST_TEST(r.qual() == 0x00800040u);  // port 80h, size 0 (1 byte), OUT, immediate operand
  BOOST_TEST(r.field(v::kExitInstructionLength) == 2u);
  r.resume_after_instruction();  // MOV DX runs, IN AX, DX exits
  BOOST_TEST(r.reason() == uint64_t(v::kExitIo));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 10);
  BOOST_TEST(r.qual() == 0x03F80009u);  // port 3F8h, size 1 (2 bytes), IN, DX
  BOOST_TEST(r.field(v::kExitInstructionLength) == 2u);
}

BOOST_AUTO_TEST_CASE(io_bitmaps_choose_the_ports_that_exit) {
  GuestRig r;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUseIoBitmaps);
  constexpr uint64_t kBitmapA = 0x30000, kBitmapB = 0x31000;
  r.set(v::kIoBitmapA, kBitmapA);
  r.set(v::kIoBitmapB, kBitmapB);
  r.mem.map(kBitmapA + 0x3F8 / 8, 1)[0] = 1u << (0x3F8 % 8);  // only port 3F8h exits; 80h does not
  r.run(op::vmlaunch);
  r.resume_after_instruction();  // CPUID -> RDTSC, OUT 80h, MOV DX run in the guest -> IN AX, DX exits
  BOOST_TEST(r.reason() == uint64_t(v::kExitIo));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 10);
  BOOST_TEST(r.qual() == 0x03F80009u);
}

BOOST_AUTO_TEST_CASE(vmcall_exits_with_reason_18_and_hlt_with_12) {
  GuestRig r;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUseIoBitmaps);
  r.set(v::kIoBitmapA, 0x30000);
  r.set(v::kIoBitmapB, 0x31000);
  r.run(op::vmlaunch);
  r.resume_after_instruction();  // to VMCALL (no I/O exits)
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(r.field(v::kExitInstructionLength) == 3u);
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 12);
  r.resume_after_instruction();
  BOOST_TEST(r.reason() == uint64_t(v::kExitHlt));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 15);
  BOOST_TEST(r.field(v::kExitInstructionLength) == 1u);
  BOOST_TEST(r.back_in_host());
  BOOST_TEST(r.vmx.exits() == 3u);
}

BOOST_AUTO_TEST_CASE(vmresume_continues_the_guest_where_it_left_off) {
  GuestRig r;
  r.run(op::vmlaunch);
  // Without advancing RIP the guest re-executes CPUID and exits again (§28.3.3).
  r.run(op::vmresume);
  BOOST_TEST(r.reason() == uint64_t(v::kExitCpuid));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
  BOOST_TEST(r.vmx.exits() == 2u);
  // VMLAUNCH again: error 4 (launched), the host continues after the instruction.
  r.run(op::vmlaunch);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == 4u);
}

BOOST_AUTO_TEST_CASE(guest_exception_in_the_bitmap_exits_with_reason_0) {
  GuestRig r;
  r.set(v::kExceptionBitmap, 1u << 6);  // #UD
  r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0x0F, 0x0B});  // UD2
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitExceptionNmi));
  BOOST_TEST(r.field(v::kExitInterruptionInfo) == 0x80000306u);  // valid, hardware exception, vector 6
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
}

// ---- event injection (§27.6) ----
BOOST_AUTO_TEST_CASE(injected_hardware_exception_is_delivered_through_the_guest_idt) {
  GuestRig r;
  r.set(v::kEntryInterruptionInfo, v::intr_info::kValid | (v::intr_info::kHardwareException << 8) | 13 |
                                       v::intr_info::kDeliverErrorCode);
  r.set(v::kEntryExceptionErrorCode, 0x18);
  r.run(op::vmlaunch);  // #GP handler (gate 13 -> HLT) runs in the guest; HLT exits
  BOOST_TEST(r.reason() == uint64_t(v::kExitHlt));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kHandlers + 0x10);
  const uint64_t rsp = r.field(v::kGuestRsp);
  BOOST_TEST(rsp == 0x1D0000u - 48);                  // error code + RIP CS RFLAGS RSP SS
  BOOST_TEST(r.rd64(rsp) == 0x18u);                   // the error code
  BOOST_TEST(r.rd64(rsp + 8) == VmxRig::kGuestRip);  // the guest RIP at entry: a fault
  BOOST_TEST((r.field(v::kEntryInterruptionInfo) & v::intr_info::kValid) == 0u);  // cleared at the exit
}

BOOST_AUTO_TEST_CASE(injected_software_interrupt_pushes_rip_plus_instruction_length) {
  GuestRig r;
  r.idt_gate(0x80, VmxRig::kHandlers);
  r.set(v::kEntryInterruptionInfo, v::intr_info::kValid | (v::intr_info::kSoftwareInterrupt << 8) | 0x80);
  r.set(v::kEntryInstructionLength, 2);
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitHlt));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kHandlers);
  BOOST_TEST(r.rd64(r.field(v::kGuestRsp)) == VmxRig::kGuestRip + 2);
}

// ---- RDMSR / WRMSR exits (31 / 32) and the MSR bitmaps (§25.6.9, §26.1.3) ----
namespace {
const std::vector<uint8_t> kMsrGuest = {
    0xB9, 0x74, 0x01, 0x00, 0x00,  // +0 mov ecx, 174h (IA32_SYSENTER_CS)
    0x0F, 0x32,                    // +5 rdmsr
    0x0F, 0x30,                    // +7 wrmsr
    0x0F, 0x01, 0xC1,              // +9 vmcall
};
}  // namespace

BOOST_AUTO_TEST_CASE(without_msr_bitmaps_every_rdmsr_and_wrmsr_exits) {
  GuestRig r;
  r.mem.write(VmxRig::kGuestRip, kMsrGuest);
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitRdmsr));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 5);
  r.resume_after_instruction();
  BOOST_TEST(r.reason() == uint64_t(v::kExitWrmsr));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 7);
}

BOOST_AUTO_TEST_CASE(msr_bitmap_write_low_bit_makes_only_the_write_exit) {
  GuestRig r;
  constexpr uint64_t kBitmap = 0x32000;
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUseMsrBitmaps);
  r.set(v::kMsrBitmap, kBitmap);
  r.mem.map(kBitmap + 2048 + 0x174 / 8, 1)[0] = 1u << (0x174 % 8);  // write bitmap for low MSRs
  r.set(v::kGuestSysenterCs, 0x10);  // VM entry loads IA32_SYSENTER_CS from the guest-state area (§27.3.2.1)
  r.mem.write(VmxRig::kGuestRip, kMsrGuest);
  r.run(op::vmlaunch);  // RDMSR does not exit
  BOOST_TEST(r.reason() == uint64_t(v::kExitWrmsr));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 7);
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x10u);  // the RDMSR ran in the guest
}

// ---- VPID (§29.1): the guest's translations survive VM exits and entries ----
BOOST_AUTO_TEST_CASE(vpid_tagged_translations_survive_exits_and_untagged_ones_do_not) {
  const std::vector<uint8_t> loop = {0x8B, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0x0F, 0x01, 0xC1};  // read; vmcall
  auto misses_per_round = [&](bool vpid) {
    GuestRig r;
    if (!vpid) r.set(v::kSecondaryProcControls, 0);
    r.mem.write(VmxRig::kGuestRip, loop);
    r.run(op::vmlaunch);
    const uint32_t tag = vpid ? 1u : 0x10000u;
    const uint64_t m0 = r.c.counters.per_asid[tag].tlb_misses;
    for (int i = 0; i < 4; ++i) {
      r.set(v::kGuestRip, VmxRig::kGuestRip);
      r.run(op::vmresume);
      BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
    }
    return (r.c.counters.per_asid[tag].tlb_misses - m0) / 4;
  };
  BOOST_TEST(misses_per_round(true) == 0u);   // code and data pages hit the VPID-tagged TLB
  // Flushed at every VM entry: one miss per round (the guest's 1 GiB identity page covers code and data).
  BOOST_TEST(misses_per_round(false) == 1u);
}

// ---- control-register accesses (§26.1.3, §26.3; exit reason 28, qualification Table 28-3) ----
namespace {
GuestRig& with_code(GuestRig& r, std::vector<uint8_t> code) {
  code.insert(code.end(), {0x0F, 0x01, 0xC1});  // vmcall
  r.mem.write(VmxRig::kGuestRip, code);
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(cr4_reads_see_the_read_shadow_for_host_owned_bits) {
  GuestRig r;
  r.set(v::kCr4GuestHostMask, 0x2000);  // the host owns CR4.VMXE
  r.set(v::kCr4ReadShadow, 0);
  with_code(r, {0x0F, 0x20, 0xE0});    // mov rax, cr4
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(r.c.gpr[RAX] == 0x20u);   // PAE; VMXE hidden
}

BOOST_AUTO_TEST_CASE(cr4_write_differing_from_the_shadow_exits_with_reason_28) {
  GuestRig r;
  r.set(v::kCr4GuestHostMask, 0x2000);
  r.set(v::kCr4ReadShadow, 0);
  r.c.gpr[sim::cpu::RBX] = 0x2020;
  with_code(r, {0x0F, 0x22, 0xE3});    // mov cr4, rbx
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitCrAccess));
  BOOST_TEST(r.qual() == 0x304u);      // CR4, MOV to CR, RBX (3)
  BOOST_TEST(r.field(v::kExitInstructionLength) == 3u);
}

BOOST_AUTO_TEST_CASE(cr4_write_matching_the_shadow_keeps_host_owned_bits) {
  GuestRig r;
  r.set(v::kCr4GuestHostMask, 0x2000);
  r.set(v::kCr4ReadShadow, 0);
  r.c.gpr[sim::cpu::RBX] = 0x20;       // VMXE clear, as the shadow says: no exit
  with_code(r, {0x0F, 0x22, 0xE3});
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(r.field(v::kGuestCr4) == 0x2020u);  // the real CR4 keeps VMXE
}

BOOST_AUTO_TEST_CASE(cr3_load_exiting_honours_the_cr3_target_values) {
  GuestRig r;  // the default1 primary controls include CR3-load and CR3-store exiting
  r.set(v::kCr3TargetCount, 1);
  r.set(v::kCr3Target0, VmxRig::kPml4);
  r.c.gpr[RAX] = VmxRig::kPml4;
  with_code(r, {0x0F, 0x22, 0xD8});    // mov cr3, rax: a target value, no exit
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  GuestRig o;
  o.c.gpr[RAX] = 0x5000;
  with_code(o, {0x0F, 0x22, 0xD8});
  o.run(op::vmlaunch);
  BOOST_TEST(o.reason() == uint64_t(v::kExitCrAccess));
  BOOST_TEST(o.qual() == 0x003u);      // CR3, MOV to CR, RAX
  BOOST_TEST(o.field(v::kGuestCr3) == VmxRig::kPml4);  // not loaded
}

BOOST_AUTO_TEST_CASE(cr3_store_exiting) {
  GuestRig r;
  with_code(r, {0x0F, 0x20, 0xD9});    // mov rcx, cr3
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitCrAccess));
  BOOST_TEST(r.qual() == 0x113u);      // CR3, MOV from CR, RCX (1)
}

// ---- the VMX-preemption timer (§26.5.1; exit reason 52) ----
namespace {
struct TimerRig : GuestRig {
  explicit TimerRig(uint32_t value, bool save = true) {
    set(v::kPinBasedControls, v::pin::kDefault1 | v::pin::kPreemptionTimer);
    if (save) set(v::kExitControls, field(v::kExitControls) | v::exit_ctl::kSavePreemptionTimer);
    set(v::kPreemptionTimerValue, value);
    mem.write(kGuestRip, std::vector<uint8_t>{0xEB, 0xFE});  // jmp $: spins until the timer fires
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(preemption_timer_zero_exits_before_the_first_guest_instruction) {
  TimerRig r(0);
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitPreemptionTimer));
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
  BOOST_TEST(r.field(v::kPreemptionTimerValue) == 0u);
  BOOST_TEST(r.field(v::kExitInstructionLength) == 0u);
}

BOOST_AUTO_TEST_CASE(preemption_timer_counts_tsc_bit_5_transitions) {
  TimerRig r(10);
  const uint64_t i0 = r.c.icount;  // the TSC when VMLAUNCH executes
  r.run(op::vmlaunch);             // exit when the TSC reaches ((i0 >> 5) + 10) << 5
  BOOST_TEST(r.reason() == uint64_t(v::kExitPreemptionTimer));
  BOOST_TEST(r.c.icount == (((i0 >> 5) + 10) << 5) + 1);  // + the host's HLT at HOST_RIP
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);  // still in the spin loop
  BOOST_TEST(r.field(v::kPreemptionTimerValue) == 0u);
  BOOST_TEST(r.vmx.exits() == 1u);
}

BOOST_AUTO_TEST_CASE(preemption_timer_value_is_saved_at_other_exits) {
  TimerRig r(1000);
  r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0x0F, 0xA2});  // CPUID exits at once
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitCpuid));
  const uint64_t left = r.field(v::kPreemptionTimerValue);
  BOOST_TEST(left <= 1000u);
  BOOST_TEST(left >= 999u);  // at most one bit-5 transition between the entry and the CPUID
}

BOOST_AUTO_TEST_CASE(preemption_timer_wakes_a_halted_guest_into_an_exit) {
  TimerRig r(4);
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) & ~uint64_t(v::proc::kHltExiting));
  r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0xF4});  // HLT, not exiting
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitPreemptionTimer));
  BOOST_TEST(r.field(v::kGuestActivityState) == uint64_t(v::kHlt));  // §28.3.4: the guest was halted
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 1);
}

// ---- MSR lists (§27.4 VM-entry MSR-load, §28.4 VM-exit MSR-store, §28.6 VM-exit MSR-load) ----
namespace {
void msr_entry(VmxRig& r, uint64_t at, uint64_t head, uint64_t data) {
  r.wr64(at, head);
  r.wr64(at + 8, data);
}
}  // namespace

BOOST_AUTO_TEST_CASE(msr_lists_switch_lstar_between_guest_and_host) {
  GuestRig r;
  constexpr uint64_t kEntryLoad = 0x33000, kExitStore = 0x33100, kExitLoad = 0x33200;
  r.c.lstar = 0x1111;                                    // the host's
  msr_entry(r, kEntryLoad, 0xC0000082, 0x2222);          // the guest's LSTAR
  msr_entry(r, kEntryLoad + 16, 0xC0000081, 0x00230010ull << 32);  // STAR
  r.set(v::kEntryMsrLoadAddr, kEntryLoad);
  r.set(v::kEntryMsrLoadCount, 2);
  msr_entry(r, kExitStore, 0xC0000082, 0);
  r.set(v::kExitMsrStoreAddr, kExitStore);
  r.set(v::kExitMsrStoreCount, 1);
  msr_entry(r, kExitLoad, 0xC0000082, 0x1111);
  r.set(v::kExitMsrLoadAddr, kExitLoad);
  r.set(v::kExitMsrLoadCount, 1);
  // The guest reads LSTAR (RDMSR exits without MSR bitmaps, so use a bitmap of zeros).
  r.set(v::kPrimaryProcControls, r.field(v::kPrimaryProcControls) | v::proc::kUseMsrBitmaps);
  r.set(v::kMsrBitmap, 0x34000);
  r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0xB9, 0x82, 0x00, 0x00, 0xC0,  // mov ecx, C0000082h
                                                      0x0F, 0x32, 0x0F, 0x01, 0xC1});  // rdmsr; vmcall
  r.run(op::vmlaunch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x2222u);        // the guest saw its own LSTAR
  BOOST_TEST(r.rd64(kExitStore + 8) == 0x2222u);        // stored at the exit
  BOOST_TEST(r.c.lstar == 0x1111u);                     // the host's back
  BOOST_TEST(r.c.star == (0x00230010ull << 32));        // STAR: not in the exit-load list, the guest's stays
}

BOOST_AUTO_TEST_CASE(unloadable_entry_msr_is_entry_failure_34_with_its_index) {
  struct Case { uint64_t head, data; };
  for (const Case k : {Case{0xC0000100, 0} /* IA32_FS_BASE */, Case{0x800 | (1ull << 32), 0} /* reserved bits */,
                       Case{0x1234, 0} /* an MSR the CPU has not */, Case{0xC0000080, 1ull << 12} /* EFER.SVME on Intel */}) {
    BOOST_TEST_CONTEXT("entry " << std::hex << k.head) {
      GuestRig r;
      msr_entry(r, 0x33000, 0xC0000082, 0x2222);  // entry 1 is fine
      msr_entry(r, 0x33010, k.head, k.data);      // entry 2 is not
      r.set(v::kEntryMsrLoadAddr, 0x33000);
      r.set(v::kEntryMsrLoadCount, 2);
      r.run(op::vmlaunch);
      BOOST_TEST(r.reason() == 0x80000022u);  // 34 | bit 31 (§27.4, §27.8)
      BOOST_TEST(r.qual() == 2u);             // the 1-based index of the failing entry
      BOOST_TEST(r.back_in_host());
      BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::clear));
    }
  }
}

// ---- external-interrupt exiting (§26.2; exit reason 1; §28.2.2 acknowledge interrupt on exit) ----
BOOST_AUTO_TEST_CASE(external_interrupt_exits_even_with_guest_if_clear) {
  for (bool ack : {true, false}) {
    BOOST_TEST_CONTEXT("acknowledge " << ack) {
      GuestRig r;
      r.set(v::kPinBasedControls, v::pin::kDefault1 | v::pin::kExternalInterruptExiting);
      if (ack) r.set(v::kExitControls, r.field(v::kExitControls) | v::exit_ctl::kAcknowledgeInterrupt);
      r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0xEB, 0xFE});  // jmp $, RFLAGS.IF = 0
      r.c.timer_armed = true;
      r.c.timer_deadline = r.c.icount + 100;
      r.c.timer_vector = 0x30;
      r.run(op::vmlaunch);
      BOOST_TEST(r.reason() == uint64_t(v::kExitExternalInterrupt));
      BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
      if (ack) {
        BOOST_TEST(r.field(v::kExitInterruptionInfo) == 0x80000030u);  // valid, external, vector 30h
        BOOST_TEST(!r.c.timer_armed);
      } else {
        BOOST_TEST(r.field(v::kExitInterruptionInfo) == 0u);
        BOOST_TEST(r.c.timer_armed);  // still pending for the host (whose RFLAGS.IF = 0 after the exit)
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(page_fault_exits_follow_bit_14_and_pfec_match) {
  // A #PF from a read of an unmapped address (4 GiB: beyond the guest's identity map), error code 0.
  for (auto [bit14, match, exits] : {std::tuple{true, 0u, true}, std::tuple{false, 0u, false},
                                     std::tuple{true, 1u, false}, std::tuple{false, 1u, true}}) {
    BOOST_TEST_CONTEXT("bit 14 " << bit14 << " match " << match) {
      GuestRig r;
      r.set(v::kExceptionBitmap, bit14 ? 1u << 14 : 0u);
      r.set(v::kPfErrorCodeMatch, match);
      r.idt_gate(14, VmxRig::kHandlers);  // not exiting: the guest's handler (HLT) runs and HLT exits
      r.c.gpr[sim::cpu::RBX] = 1ull << 32;
      r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0x8B, 0x03});  // mov eax, [rbx]
      r.run(op::vmlaunch);
      if (exits) {
        BOOST_TEST(r.reason() == uint64_t(v::kExitExceptionNmi));
        BOOST_TEST(r.field(v::kExitInterruptionInfo) == 0x80000B0Eu);  // valid, error code, hardware exception 14
        BOOST_TEST(r.qual() == (1ull << 32));                           // the faulting linear address
      } else {
        BOOST_TEST(r.reason() == uint64_t(v::kExitHlt));
        BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kHandlers);
      }
    }
  }
}
