#include "hypervisor/arch/vmx/vmx_vcpu.hpp"

#include <cstring>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/ept.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "arch/vmx/msrs.hpp"
#include "arch/vmx/vmcs_fields.hpp"
#include "arch/x86/paging.hpp"
#include "arch/x86/sse.hpp"

namespace redoubt::vmx {

using hv::ExitEvent;
using hv::ExitKind;

namespace {
// The VMCS that VMREAD/VMWRITE reach now (one logical CPU runs the hypervisor): VMPTRLD only
// when another vCPU's VMCS is current (§24.11.2).
uint64_t g_current = ~0ull;
constexpr uint32_t kVmcsPage = 4096;
constexpr uint32_t kMsrKernelGsBase = 0xC0000102;
}  // namespace

// ---- bitmaps -------------------------------------------------------------

Status build_io_bitmaps(hv::PageAllocator& alloc, const hv::IoGrant* grants, uint32_t n, uint64_t& pa) {
  REDOUBT_TRY(alloc.alloc(2, 1, pa, "VMX I/O bitmaps A and B"));
  uint8_t* m = alloc.map(pa, 2 * 4096);
  std::memset(m, 0xFF, 2 * 4096);
  for (uint32_t g = 0; g < n; ++g)
    for (uint32_t port = grants[g].base; port < uint32_t(grants[g].base) + grants[g].count && port < 0x10000; ++port)
      m[port >> 3] &= uint8_t(~(1u << (port & 7)));  // A then B: one bit per port in order (§25.6.4)
  return Status::ok();
}

bool io_bitmap_exits(const uint8_t* bitmaps, uint16_t port) { return bitmaps[port >> 3] >> (port & 7) & 1; }

bool msr_bitmap_position(uint32_t msr, uint32_t& byte, unsigned& bit) {
  uint32_t base;
  if (msr <= 0x1FFF)
    base = 0;  // read bitmap for low MSRs (§25.6.9)
  else if (msr >= 0xC0000000 && msr <= 0xC0001FFF)
    base = 1024;  // read bitmap for high MSRs
  else
    return false;
  byte = base + (msr & 0x1FFF) / 8;
  bit = (msr & 0x1FFF) % 8;
  return true;
}

Status build_msr_bitmap(hv::PageAllocator& alloc, uint64_t& pa) {
  REDOUBT_TRY(alloc.alloc_page(pa, "VMX MSR bitmap"));
  uint8_t* m = alloc.map(pa, 4096);
  std::memset(m, 0xFF, 4096);  // MSRs outside both ranges always exit (§26.1.3)
  static constexpr uint32_t kPassThrough[] = {0xC0000100u /* FS_BASE */, 0xC0000101u /* GS_BASE */};
  for (uint32_t msr : kPassThrough) {
    uint32_t byte = 0;
    unsigned bit = 0;
    msr_bitmap_position(msr, byte, bit);
    m[byte] &= uint8_t(~(1u << bit));         // read
    m[byte + 2048] &= uint8_t(~(1u << bit));  // write
  }
  return Status::ok();
}

bool adjust_controls(uint64_t cap, uint32_t required, uint32_t optional, uint32_t& out) {
  const uint32_t must1 = uint32_t(cap), may1 = uint32_t(cap >> 32);  // App. A.3.1
  if ((required & may1) != required) return false;
  out = must1 | required | (optional & may1);
  return true;
}

// ---- VMCS access -----------------------------------------------------------

uint64_t VmxVcpu::rd(uint32_t field) {
  if (g_current != vmcs_pa_ && vmx_->vmptrld(vmcs_pa_) == hal::VmxResult::ok) g_current = vmcs_pa_;
  uint64_t v = 0;
  (void)vmx_->vmread(field, v);
  return v;
}

void VmxVcpu::wr(uint32_t field, uint64_t v) {
  if (g_current != vmcs_pa_ && vmx_->vmptrld(vmcs_pa_) == hal::VmxResult::ok) g_current = vmcs_pa_;
  (void)vmx_->vmwrite(field, v);
}

Status VmxVcpu::w(uint32_t field, uint64_t v, const char* what) {
  const hal::VmxResult r = vmx_->vmwrite(field, v);
  if (r == hal::VmxResult::ok) return Status::ok();
  uint64_t err = 0;
  if (r == hal::VmxResult::fail_valid) (void)vmx_->vmread(kVmInstructionError, err);
  return Status::fail(Err::internal, "VMWRITE of %s (field 0x%x) failed: %s %llu", what, field,
                      r == hal::VmxResult::fail_valid ? "VM-instruction error" : "VMfailInvalid",
                      (unsigned long long)err);
}

// ---- creation and entry state ---------------------------------------------

Status VmxVcpu::create(hal::Platform& p, hv::PageAllocator& alloc, bool switch_state) {
  p_ = &p;
  vmx_ = p.vmx();
  if (!vmx_) return Status::fail(Err::unsupported, "this platform has no VMX HAL");
  switch_state_ = switch_state;
  REDOUBT_TRY(alloc.alloc_page(vmcs_pa_, "VMCS"));
  // §25.2: bits 30:0 of the region's first dword = IA32_VMX_BASIC[30:0]; bit 31 = 0 (no shadow VMCS).
  const uint32_t rev = uint32_t(vmx_->rdmsr(kMsrVmxBasic) & basic::kRevisionMask);
  std::memcpy(alloc.map(vmcs_pa_, kVmcsPage), &rev, 4);
  uint64_t ext_pa = 0;
  REDOUBT_TRY(alloc.alloc_page(ext_pa, "guest DR0-3 and x87/SSE state"));
  ext_ = reinterpret_cast<hal::GuestExtState*>(alloc.map(ext_pa, sizeof(hal::GuestExtState)));
  // The guest's KERNEL_GS_BASE, which no VMCS field holds (SVM switches it with VMLOAD/VMSAVE):
  // one MSR-area entry (§25.7.2, §25.8.2, 16 bytes: index, reserved, value) that the VM entry
  // loads and the VM exit stores, and one with the host's value that the VM exit loads.
  REDOUBT_TRY(alloc.alloc_page(msr_area_pa_, "VMX MSR areas"));
  uint8_t* a = alloc.map(msr_area_pa_, 4096);
  std::memset(a, 0, 4096);
  std::memcpy(a, &kMsrKernelGsBase, 4);         // guest's: entry-load and exit-store list
  std::memcpy(a + 2048, &kMsrKernelGsBase, 4);  // host's: exit-load list (value 0: the host never uses it)
  if (vmx_->vmclear(vmcs_pa_) != hal::VmxResult::ok)  // §24.11.3: launch state "clear" before VMLAUNCH
    return Status::fail(Err::internal, "VMCLEAR of the VMCS at 0x%llx failed", (unsigned long long)vmcs_pa_);
  return Status::ok();
}

Status VmxVcpu::setup(const hv::VcpuEntry& e) {
  if (vmx_->vmptrld(vmcs_pa_) != hal::VmxResult::ok)
    return Status::fail(Err::internal, "VMPTRLD of the VMCS at 0x%llx failed", (unsigned long long)vmcs_pa_);
  g_current = vmcs_pa_;
  launched_ = false;
  // Controls from the capability MSRs: the TRUE_* ones when IA32_VMX_BASIC[55] says they exist (A.2).
  const uint64_t basic_msr = vmx_->rdmsr(kMsrVmxBasic);
  const bool true_ctls = basic_msr & basic::kTrueControls;
  uint32_t pinc = 0, procc = 0, proc2c = 0, exitc = 0, entryc = 0;
  if (!adjust_controls(vmx_->rdmsr(true_ctls ? kMsrVmxTruePinbasedCtls : kMsrVmxPinbasedCtls),
                       pin::kExternalInterruptExiting, pin::kPreemptionTimer, pinc))
    return Status::fail(Err::unsupported, "VMX: external-interrupt exiting is not allowed (IA32_VMX_PINBASED_CTLS)");
  if (!adjust_controls(vmx_->rdmsr(true_ctls ? kMsrVmxTrueProcbasedCtls : kMsrVmxProcbasedCtls),
                       proc::kHltExiting | proc::kUseIoBitmaps | proc::kUseMsrBitmaps | proc::kActivateSecondary,
                       proc::kMwaitExiting | proc::kMonitorExiting | proc::kRdpmcExiting, procc))
    return Status::fail(Err::unsupported, "VMX: HLT exiting, I/O or MSR bitmaps or secondary controls not allowed");
  if (!adjust_controls(vmx_->rdmsr(kMsrVmxProcbasedCtls2), proc2::kEnableEpt, proc2::kEnableVpid, proc2c))
    return Status::fail(Err::unsupported, "VMX: this CPU has no EPT (IA32_VMX_PROCBASED_CTLS2)");
  const uint32_t exit_req = exit_ctl::kHostAddressSpaceSize | exit_ctl::kSavePat | exit_ctl::kLoadPat |
                            exit_ctl::kSaveEfer | exit_ctl::kLoadEfer;
  if (!adjust_controls(vmx_->rdmsr(true_ctls ? kMsrVmxTrueExitCtls : kMsrVmxExitCtls), exit_req, 0, exitc))
    return Status::fail(Err::unsupported, "VMX: a 64-bit host with PAT/EFER switching is not allowed (IA32_VMX_EXIT_CTLS)");
  exitc &= ~exit_ctl::kAcknowledgeInterrupt;  // the host takes the interrupt through its IDT, as on SVM
  if (!adjust_controls(vmx_->rdmsr(true_ctls ? kMsrVmxTrueEntryCtls : kMsrVmxEntryCtls),
                       entry_ctl::kIa32eModeGuest | entry_ctl::kLoadPat | entry_ctl::kLoadEfer, 0, entryc))
    return Status::fail(Err::unsupported, "VMX: a 64-bit guest with PAT/EFER loading is not allowed (IA32_VMX_ENTRY_CTLS)");
  timer_ = pinc & pin::kPreemptionTimer;
  timer_rate_ = unsigned(vmx_->rdmsr(kMsrVmxMisc) & misc::kTimerRateMask);
  vpid_ = (proc2c & proc2::kEnableVpid) ? uint16_t(e.asid) : 0;
  if (!vpid_) proc2c &= ~proc2::kEnableVpid;
  // EPTP (§25.6.11): WB, 4-level walk, no A/D (the tables are never rewritten behind the CPU).
  eptp_ = ept::eptp::make(e.npt_root, ept::kWb, false);

  REDOUBT_TRY(w(kPinBasedControls, pinc, "pin-based controls"));
  REDOUBT_TRY(w(kPrimaryProcControls, procc, "primary processor-based controls"));
  REDOUBT_TRY(w(kSecondaryProcControls, proc2c, "secondary processor-based controls"));
  REDOUBT_TRY(w(kExitControls, exitc, "VM-exit controls"));
  REDOUBT_TRY(w(kEntryControls, entryc, "VM-entry controls"));
  // #UD exits: a guest's VMMCALL (the AMD hypercall instruction) raises #UD on Intel (SDM vol. 2B).
  REDOUBT_TRY(w(kExceptionBitmap, 1u << 6, "exception bitmap"));
  REDOUBT_TRY(w(kIoBitmapA, e.io_map_pa, "I/O bitmap A"));
  REDOUBT_TRY(w(kIoBitmapB, e.io_map_pa + 4096, "I/O bitmap B"));
  REDOUBT_TRY(w(kMsrBitmap, e.msr_map_pa, "MSR bitmap"));
  REDOUBT_TRY(w(kEptPointer, eptp_, "EPT pointer"));
  if (vpid_) REDOUBT_TRY(w(kVpid, vpid_, "VPID"));
  REDOUBT_TRY(w(kVmcsLinkPointer, ~0ull, "VMCS link pointer"));  // §27.3.1.5: no shadow VMCS
  REDOUBT_TRY(w(kEntryMsrLoadAddr, msr_area_pa_, "VM-entry MSR-load address"));
  REDOUBT_TRY(w(kEntryMsrLoadCount, 1, "VM-entry MSR-load count"));
  REDOUBT_TRY(w(kExitMsrStoreAddr, msr_area_pa_, "VM-exit MSR-store address"));
  REDOUBT_TRY(w(kExitMsrStoreCount, 1, "VM-exit MSR-store count"));
  REDOUBT_TRY(w(kExitMsrLoadAddr, msr_area_pa_ + 2048, "VM-exit MSR-load address"));
  REDOUBT_TRY(w(kExitMsrLoadCount, 1, "VM-exit MSR-load count"));

  // Guest state: 64-bit flat segments (docs/guests.md), the same as the SVM backend's; access
  // rights in the VMCS format (§25.4.1 Table 25-2). CR0.NE and CR4.VMXE are forced by the
  // fixed bits (App. A.7, A.8); the guest reads them from the read shadows (§26.3).
  const uint64_t cr0 = x86::kCr0Pe | (1ull << 1) | (1ull << 4) | (1ull << 5) | x86::kCr0Wp | x86::kCr0Pg;
  const uint64_t cr4 = x86::kCr4Pae;
  const uint64_t cr0_fixed = vmx_->rdmsr(kMsrVmxCr0Fixed0), cr4_fixed = vmx_->rdmsr(kMsrVmxCr4Fixed0);
  REDOUBT_TRY(w(kGuestCr0, cr0 | cr0_fixed, "guest CR0"));
  REDOUBT_TRY(w(kGuestCr4, cr4 | cr4_fixed, "guest CR4"));
  REDOUBT_TRY(w(kCr0GuestHostMask, cr0_fixed | x86::kCr0Pg, "CR0 guest/host mask"));
  REDOUBT_TRY(w(kCr0ReadShadow, cr0, "CR0 read shadow"));
  REDOUBT_TRY(w(kCr4GuestHostMask, cr4_fixed, "CR4 guest/host mask"));
  REDOUBT_TRY(w(kCr4ReadShadow, cr4, "CR4 read shadow"));
  REDOUBT_TRY(w(kGuestCr3, e.cr3, "guest CR3"));
  const uint32_t code_ar = 0xB | ar::kS | ar::kP | ar::kL | ar::kG;             // type 11, L = 1
  const uint32_t data_ar = 0x3 | ar::kS | ar::kP | ar::kDb | ar::kG;            // type 3, D/B, G
  struct Seg { uint32_t sel_f, base_f, limit_f, ar_f; uint16_t sel; uint32_t limit, ar; };
  const Seg segs[] = {
      {kGuestCsSelector, kGuestCsBase, kGuestCsLimit, kGuestCsAr, 0x08, 0xFFFFFFFF, code_ar},
      {kGuestSsSelector, kGuestSsBase, kGuestSsLimit, kGuestSsAr, 0x10, 0xFFFFFFFF, data_ar},
      {kGuestDsSelector, kGuestDsBase, kGuestDsLimit, kGuestDsAr, 0x10, 0xFFFFFFFF, data_ar},
      {kGuestEsSelector, kGuestEsBase, kGuestEsLimit, kGuestEsAr, 0x10, 0xFFFFFFFF, data_ar},
      {kGuestFsSelector, kGuestFsBase, kGuestFsLimit, kGuestFsAr, 0x10, 0xFFFFFFFF, data_ar},
      {kGuestGsSelector, kGuestGsBase, kGuestGsLimit, kGuestGsAr, 0x10, 0xFFFFFFFF, data_ar},
      {kGuestLdtrSelector, kGuestLdtrBase, kGuestLdtrLimit, kGuestLdtrAr, 0, 0, ar::kUnusable},
      {kGuestTrSelector, kGuestTrBase, kGuestTrLimit, kGuestTrAr, 0, 0x67, 0xB | ar::kP},  // busy 64-bit TSS
  };
  for (const Seg& s : segs) {
    REDOUBT_TRY(w(s.sel_f, s.sel, "guest selector"));
    REDOUBT_TRY(w(s.base_f, 0, "guest segment base"));
    REDOUBT_TRY(w(s.limit_f, s.limit, "guest segment limit"));
    REDOUBT_TRY(w(s.ar_f, s.ar, "guest access rights"));
  }
  REDOUBT_TRY(w(kGuestGdtrBase, e.gdt_base, "guest GDTR base"));
  REDOUBT_TRY(w(kGuestGdtrLimit, e.gdt_limit, "guest GDTR limit"));
  REDOUBT_TRY(w(kGuestIdtrBase, 0, "guest IDTR base"));
  REDOUBT_TRY(w(kGuestIdtrLimit, 0, "guest IDTR limit"));
  REDOUBT_TRY(w(kGuestEfer, x86::kEferLme | x86::kEferLma | x86::kEferNxe | x86::kEferSce, "guest EFER"));
  REDOUBT_TRY(w(kGuestPat, 0x0007040600070406ull, "guest PAT"));
  REDOUBT_TRY(w(kGuestDr7, 0x400, "guest DR7"));
  REDOUBT_TRY(w(kGuestRflags, 0x2, "guest RFLAGS"));
  REDOUBT_TRY(w(kGuestRip, e.rip, "guest RIP"));
  REDOUBT_TRY(w(kGuestRsp, e.rsp, "guest RSP"));
  REDOUBT_TRY(w(kGuestActivityState, kActive, "guest activity state"));
  REDOUBT_TRY(w(kGuestInterruptibility, 0, "guest interruptibility"));
  REDOUBT_TRY(vmx_->write_host_state());

  // DR0-3 = 0 and x87/SSE after FNINIT with MXCSR = 1F80h, as the SVM backend gives its guests.
  std::memset(ext_, 0, sizeof *ext_);
  x86::FxsaveImage fx{};
  fx.fcw = x86::kFcwInit;
  fx.fsw = x86::kFswInit;
  fx.ftw = x86::kFtwAbridgedInit;
  fx.mxcsr = x86::kMxcsrReset;
  fx.mxcsr_mask = x86::kMxcsrWritable;
  std::memcpy(ext_->fxsave, &fx, sizeof fx);
  gprs_ = hv::GuestGprs{};
  gprs_.rsp = e.rsp;
  cr2_ = 0;
  flush_next_ = true;
  return Status::ok();
}

// ---- state the core reads and writes --------------------------------------

uint64_t VmxVcpu::cr0() {  // what the guest sees: host-owned bits from the read shadow (§26.3)
  const uint64_t mask = rd(kCr0GuestHostMask);
  return (rd(kCr0) & ~mask) | (rd(kCr0ReadShadow) & mask);
}

uint64_t VmxVcpu::cr4() {
  const uint64_t mask = rd(kCr4GuestHostMask);
  return (rd(kCr4) & ~mask) | (rd(kCr4ReadShadow) & mask);
}

uint16_t VmxVcpu::cs_attrib() {  // VMCB packing (type, S, DPL, P in 7:0; AVL, L, D/B, G in 11:8)
  const uint64_t a = rd(kGuestCsAr);
  return uint16_t((a & 0xFF) | ((a >> 4) & 0xF00));
}

void VmxVcpu::set_efer(uint64_t v) {
  wr(kEfer, v);
  // §27.3.1.1: "IA-32e mode guest" must equal EFER.LMA at the next entry.
  const uint64_t ec = rd(kEntryControls);
  wr(kEntryControls, (v & x86::kEferLma) ? ec | entry_ctl::kIa32eModeGuest : ec & ~uint64_t(entry_ctl::kIa32eModeGuest));
}

bool VmxVcpu::interruptible() {
  return (rd(kRflags) & (1ull << 9)) &&
         !(rd(kGuestInterruptibility) & (interruptibility::kStiBlocking | interruptibility::kMovSsBlocking));
}

bool VmxVcpu::event_pending() { return rd(kEntryInterruptionInfo) & intr_info::kValid; }

void VmxVcpu::inject_exception(uint8_t vector, bool has_error, uint32_t error, bool set_cr2, uint64_t cr2) {
  // §25.8.3 Table 25-17: type 3 hardware exception, deliver-error-code as the vector has one.
  uint32_t ii = vector | (intr_info::kHardwareException << intr_info::kTypeShift) | intr_info::kValid;
  if (has_error) {
    ii |= intr_info::kDeliverErrorCode;
    wr(kEntryExceptionErrorCode, error);
  }
  wr(kEntryInterruptionInfo, ii);
  if (set_cr2) cr2_ = cr2;  // no VMCS field: the world switch loads CR2 (hal::Vmx::vmenter)
}

void VmxVcpu::inject_interrupt(uint8_t vector) {
  wr(kEntryInterruptionInfo, vector | (intr_info::kExternal << intr_info::kTypeShift) | intr_info::kValid);
}

void VmxVcpu::skip(const ExitEvent& e, uint64_t insn_len) {
  wr(kRip, e.next_rip ? e.next_rip : rd(kRip) + insn_len);
  // Past the instruction: no STI/MOV SS blocking left (§25.4.2).
  const uint64_t ib = rd(kGuestInterruptibility);
  if (ib & (interruptibility::kStiBlocking | interruptibility::kMovSsBlocking))
    wr(kGuestInterruptibility, ib & ~uint64_t(interruptibility::kStiBlocking | interruptibility::kMovSsBlocking));
}

const char* VmxVcpu::exit_name(uint64_t raw_code) const {
  return raw_code >= kRawCodeBase ? exit_reason_name(uint32_t(raw_code - kRawCodeBase)) : "?";
}

// ---- running ---------------------------------------------------------------

void VmxVcpu::run(ExitEvent& out) {
  out = ExitEvent{};
  if (g_current != vmcs_pa_) {
    (void)vmx_->vmptrld(vmcs_pa_);
    g_current = vmcs_pa_;
  }
  if (flush_next_) {  // a new guest: nothing cached for its EPT or VPID from before (§29.4.3)
    (void)vmx_->invept(eptp_);
    if (vpid_) (void)vmx_->invvpid(vpid_);
    flush_next_ = false;
  }
  wr(kRsp, gprs_.rsp);
  if (timer_) {  // §26.5.1: counts down once per 2^rate TSC ticks; exit 52 at 0
    const uint64_t now = p_->svm().rdtsc();
    const uint64_t ticks = deadline_ > now ? (deadline_ - now) >> timer_rate_ : 0;
    wr(kPreemptionTimerValue, ticks > 0xFFFFFFFFull ? 0xFFFFFFFFull : ticks);
  }
  const hal::VmxResult r = vmx_->vmenter(!launched_, gprs_, switch_state_ ? ext_ : nullptr, cr2_);
  if (r != hal::VmxResult::ok) {
    // VMfailValid 7/8 (controls, host state) or VMfailInvalid: this guest cannot be entered.
    uint64_t err = 0;
    if (r == hal::VmxResult::fail_valid) (void)vmx_->vmread(kVmInstructionError, err);
    last_error_ = uint32_t(err);
    out.kind = ExitKind::invalid;
    out.raw_code = kRawCodeBase | kExitEntryFailGuestState;
    out.info1 = err;
    return;
  }
  launched_ = true;
  gprs_.rsp = rd(kRsp);
  const uint32_t reason = uint32_t(rd(kExitReason));
  const uint32_t basic_reason = reason & kExitReasonBasicMask;
  const uint64_t qual = rd(kExitQualification);
  out.raw_code = kRawCodeBase | basic_reason;
  out.info1 = qual;
  if (reason & kExitReasonEntryFailure) {  // §27.8: 33 guest state, 34 MSR loading
    out.kind = ExitKind::invalid;
    return;
  }
  auto next_rip = [&] { return rd(kRip) + rd(kExitInstructionLength); };
  switch (basic_reason) {
    case kExitCpuid: out.kind = ExitKind::cpuid; out.next_rip = next_rip(); break;
    case kExitHlt: out.kind = ExitKind::hlt; out.next_rip = next_rip(); break;
    case kExitVmcall: out.kind = ExitKind::hypercall; out.next_rip = next_rip(); break;
    case kExitExternalInterrupt:
    case kExitPreemptionTimer: out.kind = ExitKind::intr; break;  // the scheduler's clock either way
    case kExitTripleFault: out.kind = ExitKind::shutdown; break;
    case kExitRdmsr:
    case kExitWrmsr:
      out.kind = ExitKind::msr;
      out.msr_write = basic_reason == kExitWrmsr;
      out.next_rip = next_rip();
      break;
    case kExitIo:  // Table 28-5
      out.kind = ExitKind::io;
      out.port = uint16_t(qual >> io_qual::kPortShift);
      out.io_in = qual & io_qual::kIn;
      out.io_string = qual & io_qual::kString;
      out.io_rep = qual & io_qual::kRep;
      out.io_size = uint8_t((qual & io_qual::kSizeMask) + 1);
      out.next_rip = next_rip();
      break;
    case kExitEptViolation:  // Table 28-7
      out.kind = ExitKind::npf;
      out.gpa = rd(kGuestPhysicalAddress);
      out.info2 = out.gpa;
      out.npf_write = qual & ept_qual::kWrite;
      out.npf_fetch = qual & ept_qual::kFetch;
      out.npf_present = qual & (ept_qual::kEntryReadable | ept_qual::kEntryWritable | ept_qual::kEntryExecutable);
      out.npf_in_walk = (qual & ept_qual::kLinearValid) && !(qual & ept_qual::kFinalTranslation);
      break;
    case kExitExceptionNmi: {
      const uint64_t ii = rd(kExitInterruptionInfo);
      out.kind = ExitKind::exception;
      out.vector = uint8_t(ii & intr_info::kVectorMask);
      out.info2 = rd(kExitInstructionLength);
      break;
    }
    default: out.kind = ExitKind::other;  // EPT misconfiguration (49) among them: a hypervisor bug, named
  }
}

}  // namespace redoubt::vmx
