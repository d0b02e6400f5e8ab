// VM-entry checks (Intel SDM vol. 3C §27.2 controls and host state, §27.3 guest
// state). The first failing rule is reported (the SDM leaves the order open).
#include "platform/sim/vmx/entry_checks.hpp"

#include <cstring>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/vm_errors.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"

namespace redoubt::sim::vmx {

namespace {

using K = EntryCheck::Kind;
EntryCheck ctl_fail(const char* why) { return {K::fail_valid, v::kErrEntryInvalidControls, 0, why}; }
EntryCheck host_fail(const char* why) { return {K::fail_valid, v::kErrEntryInvalidHostState, 0, why}; }
EntryCheck guest_fail(const char* why, uint64_t qual = v::kEntryFailDefault) { return {K::fail_guest, 0, qual, why}; }

bool canonical(uint64_t a) { return int64_t(a << 16) >> 16 == int64_t(a); }  // 48 linear-address bits
bool beyond_width(uint64_t pa) { return pa & kPhysAddrLimitMask; }
bool pat_valid(uint64_t pat) {  // each byte a valid memory type: 0, 1, 4, 5, 6, 7 (§27.2.2, §27.3.1.1)
  for (unsigned i = 0; i < 8; ++i) {
    const unsigned t = (pat >> (8 * i)) & 0xFF;
    if (t == 2 || t == 3 || t > 7) return false;
  }
  return true;
}
// A 4 KiB-aligned bitmap address within the physical-address width (§27.2.1.1).
bool page_addr_ok(uint64_t a) { return (a & 0xFFF) == 0 && !beyond_width(a); }
// An MSR-load/store area: 16-byte aligned, last byte within the width (§27.2.1.2, §27.2.1.3).
bool msr_area_ok(uint64_t a, uint64_t count) {
  return (a & 0xF) == 0 && !beyond_width(a) && !beyond_width(a + count * 16 - 1);
}
constexpr uint64_t kEferSce = 1, kEferLme = 1u << 8, kEferLma = 1u << 10, kEferNxe = 1u << 11;
constexpr uint64_t kEferAllowed = kEferSce | kEferLme | kEferLma | kEferNxe;
constexpr uint64_t kCr0Pe = 1, kCr0Pg = 1ull << 31, kCr4Pae = 1u << 5, kCr4Pcide = 1u << 17;

}  // namespace

// ---- §27.2.1 checks on VMX controls -> VMfailValid(7) ----
EntryCheck check_controls(const Vmcs& s) {
  namespace pin = v::pin;
  namespace proc = v::proc;
  namespace p2 = v::proc2;
  const uint32_t pinc = uint32_t(s.get(v::kPinBasedControls));
  const uint32_t procc = uint32_t(s.get(v::kPrimaryProcControls));
  const uint32_t proc2c = (procc & proc::kActivateSecondary) ? uint32_t(s.get(v::kSecondaryProcControls)) : 0;
  const uint32_t exitc = uint32_t(s.get(v::kExitControls));
  const uint32_t entryc = uint32_t(s.get(v::kEntryControls));
  // §27.2.1.1 VM-execution control fields (IA32_VMX_BASIC[55] = 1: the TRUE_* MSRs apply, A.3).
  if (!v::ctls_valid(kTruePinCtls, pinc)) return ctl_fail("§27.2.1.1 pin-based controls vs IA32_VMX_TRUE_PINBASED_CTLS");
  if (!v::ctls_valid(kTrueProcCtls, procc))
    return ctl_fail("§27.2.1.1 primary processor-based controls vs IA32_VMX_TRUE_PROCBASED_CTLS");
  if (!v::ctls_valid(kProc2Ctls, proc2c))
    return ctl_fail("§27.2.1.1 secondary processor-based controls vs IA32_VMX_PROCBASED_CTLS2");
  if (s.get(v::kCr3TargetCount) > kCr3TargetCount) return ctl_fail("§27.2.1.1 CR3-target count > 4");
  if ((procc & proc::kUseIoBitmaps) && (!page_addr_ok(s.get(v::kIoBitmapA)) || !page_addr_ok(s.get(v::kIoBitmapB))))
    return ctl_fail("§27.2.1.1 I/O bitmap address not 4 KiB aligned or beyond the physical-address width");
  if ((procc & proc::kUseMsrBitmaps) && !page_addr_ok(s.get(v::kMsrBitmap)))
    return ctl_fail("§27.2.1.1 MSR bitmap address not 4 KiB aligned or beyond the physical-address width");
  if (!(pinc & pin::kNmiExiting) && (pinc & pin::kVirtualNmis))
    return ctl_fail("§27.2.1.1 virtual NMIs without NMI exiting");
  if (!(pinc & pin::kVirtualNmis) && (procc & proc::kNmiWindowExiting))
    return ctl_fail("§27.2.1.1 NMI-window exiting without virtual NMIs");
  if (proc2c & p2::kEnableEpt) {  // EPTP (§27.2.1.1, §25.6.11 Table 25-9, capabilities A.10)
    const uint64_t eptp = s.get(v::kEptPointer);
    const uint64_t mt = eptp & 7;
    if (!((mt == 0 && (kEptVpidCap & v::ept_vpid_cap::kMemTypeUc)) || (mt == 6 && (kEptVpidCap & v::ept_vpid_cap::kMemTypeWb))))
      return ctl_fail("§27.2.1.1 EPTP memory type not UC or WB");
    if (((eptp >> 3) & 7) != 3) return ctl_fail("§27.2.1.1 EPTP page-walk length is not 4");
    if ((eptp & (1u << 6)) && !(kEptVpidCap & v::ept_vpid_cap::kAccessedDirty))
      return ctl_fail("§27.2.1.1 EPTP A/D enable without support");
    if ((eptp & 0xF80) || beyond_width(eptp)) return ctl_fail("§27.2.1.1 EPTP reserved bits (11:7 or beyond MAXPHYADDR)");
  }
  if ((proc2c & p2::kEnableVpid) && (s.get(v::kVpid) & 0xFFFF) == 0) return ctl_fail("§27.2.1.1 VPID 0 with enable VPID");
  if ((proc2c & p2::kUnrestrictedGuest) && !(proc2c & p2::kEnableEpt))
    return ctl_fail("§27.2.1.1 unrestricted guest without EPT");
  // §27.2.1.2 VM-exit control fields.
  if (!v::ctls_valid(kTrueExitCtls, exitc)) return ctl_fail("§27.2.1.2 VM-exit controls vs IA32_VMX_TRUE_EXIT_CTLS");
  if (!(pinc & pin::kPreemptionTimer) && (exitc & v::exit_ctl::kSavePreemptionTimer))
    return ctl_fail("§27.2.1.2 save VMX-preemption timer without activating it");
  if (const uint64_t n = s.get(v::kExitMsrStoreCount); n && !msr_area_ok(s.get(v::kExitMsrStoreAddr), n))
    return ctl_fail("§27.2.1.2 VM-exit MSR-store address not 16-byte aligned or beyond the width");
  if (const uint64_t n = s.get(v::kExitMsrLoadCount); n && !msr_area_ok(s.get(v::kExitMsrLoadAddr), n))
    return ctl_fail("§27.2.1.2 VM-exit MSR-load address not 16-byte aligned or beyond the width");
  // §27.2.1.3 VM-entry control fields.
  if (!v::ctls_valid(kTrueEntryCtls, entryc)) return ctl_fail("§27.2.1.3 VM-entry controls vs IA32_VMX_TRUE_ENTRY_CTLS");
  const uint32_t ii = uint32_t(s.get(v::kEntryInterruptionInfo));
  if (ii & v::intr_info::kValid) {  // event injection (§27.2.1.3, Table 25-17)
    namespace ii_ = v::intr_info;
    const uint32_t type = (ii >> ii_::kTypeShift) & 7, vec = ii & ii_::kVectorMask;
    if (type == ii_::kReserved1 || type == ii_::kOtherEvent)  // 7 is reserved without monitor trap flag
      return ctl_fail("§27.2.1.3 injected event type reserved (1, or 7 without MTF)");
    if (type == ii_::kNmi && vec != 2) return ctl_fail("§27.2.1.3 injected NMI with vector other than 2");
    if (type == ii_::kHardwareException && vec > 31) return ctl_fail("§27.2.1.3 injected hardware exception vector > 31");
    const bool errcode_vec = vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17;
    // Deliver-error-code iff (unrestricted guest = 0 or CR0.PE = 1) and a hardware exception with
    // vector 8, 10-14 or 17.
    const bool guest_pe = s.get(v::kGuestCr0) & kCr0Pe;
    const bool unrestricted = proc2c & p2::kUnrestrictedGuest;
    const bool want_error = type == ii_::kHardwareException && errcode_vec && (!unrestricted || guest_pe);
    if (bool(ii & ii_::kDeliverErrorCode) != want_error)
      return ctl_fail("§27.2.1.3 deliver-error-code bit does not match the event");
    if (ii & ii_::kReservedBits) return ctl_fail("§27.2.1.3 injected event reserved bits 30:12");
    if ((ii & ii_::kDeliverErrorCode) && (s.get(v::kEntryExceptionErrorCode) & 0xFFFF0000u))
      return ctl_fail("§27.2.1.3 VM-entry exception error code bits 31:16");
    if (type == ii_::kSoftwareInterrupt || type == ii_::kPrivilegedSoftwareException || type == ii_::kSoftwareException) {
      const uint64_t len = s.get(v::kEntryInstructionLength);
      if (len < 1 || len > 15) return ctl_fail("§27.2.1.3 VM-entry instruction length not 1-15 for a software event");
    }
  }
  if (const uint64_t n = s.get(v::kEntryMsrLoadCount); n && !msr_area_ok(s.get(v::kEntryMsrLoadAddr), n))
    return ctl_fail("§27.2.1.3 VM-entry MSR-load address not 16-byte aligned or beyond the width");
  return {};
}

// ---- §27.2.2 host-state checks, §27.2.3 address-space size -> VMfailValid(8) ----
EntryCheck check_host_state(const Vmcs& s, const EntryContext& ctx) {
  const uint32_t exitc = uint32_t(s.get(v::kExitControls)), entryc = uint32_t(s.get(v::kEntryControls));
  const bool host64 = exitc & v::exit_ctl::kHostAddressSpaceSize;
  const uint64_t cr4 = s.get(v::kHostCr4);
  // §27.2.2.1 control registers and MSRs.
  if (!cr_fixed_ok(s.get(v::kHostCr0), kCr0Fixed0, kCr0Fixed1)) return host_fail("§27.2.2.1 host CR0 vs IA32_VMX_CR0_FIXED0/1");
  if (!cr_fixed_ok(cr4, kCr4Fixed0, ctx.cr4_fixed1)) return host_fail("§27.2.2.1 host CR4 vs IA32_VMX_CR4_FIXED0/1");
  if (beyond_width(s.get(v::kHostCr3))) return host_fail("§27.2.2.1 host CR3 beyond the physical-address width");
  if (!canonical(s.get(v::kHostSysenterEsp)) || !canonical(s.get(v::kHostSysenterEip)))
    return host_fail("§27.2.2.1 host IA32_SYSENTER_ESP/EIP not canonical");
  if ((exitc & v::exit_ctl::kLoadPat) && !pat_valid(s.get(v::kHostPat))) return host_fail("§27.2.2.1 host IA32_PAT invalid memory type");
  if (exitc & v::exit_ctl::kLoadEfer) {
    const uint64_t efer = s.get(v::kHostEfer);
    if (efer & ~kEferAllowed) return host_fail("§27.2.2.1 host IA32_EFER reserved bits");
    if (bool(efer & kEferLma) != host64 || bool(efer & kEferLme) != host64)
      return host_fail("§27.2.2.1 host IA32_EFER.LMA/LME differ from host address-space size");
  }
  // §27.2.2.2 selector fields.
  for (uint32_t f : {v::kHostEsSelector, v::kHostCsSelector, v::kHostSsSelector, v::kHostDsSelector,
                     v::kHostFsSelector, v::kHostGsSelector, v::kHostTrSelector})
    if (s.get(f) & 7) return host_fail("§27.2.2.2 host selector with RPL or TI set");
  if (s.get(v::kHostCsSelector) == 0) return host_fail("§27.2.2.2 host CS selector 0");
  if (s.get(v::kHostTrSelector) == 0) return host_fail("§27.2.2.2 host TR selector 0");
  if (!host64 && s.get(v::kHostSsSelector) == 0) return host_fail("§27.2.2.2 host SS selector 0 with a 32-bit host");
  // §27.2.2.3 base-address fields.
  for (uint32_t f : {v::kHostFsBase, v::kHostGsBase, v::kHostGdtrBase, v::kHostIdtrBase, v::kHostTrBase})
    if (!canonical(s.get(f))) return host_fail("§27.2.2.3 host FS/GS/GDTR/IDTR/TR base not canonical");
  // §27.2.3 address-space size.
  if (!ctx.host_ia32e && ((entryc & v::entry_ctl::kIa32eModeGuest) || host64))
    return host_fail("§27.2.3 IA-32e mode guest or host address-space size outside IA-32e mode");
  if (ctx.host_ia32e && !host64) return host_fail("§27.2.3 host address-space size 0 in IA-32e mode");
  if (!host64) {
    if (entryc & v::entry_ctl::kIa32eModeGuest) return host_fail("§27.2.3 IA-32e mode guest with a 32-bit host");
    if (cr4 & kCr4Pcide) return host_fail("§27.2.3 host CR4.PCIDE with a 32-bit host");
    if (s.get(v::kHostRip) >> 32) return host_fail("§27.2.3 host RIP bits 63:32 with a 32-bit host");
  } else {
    if (!(cr4 & kCr4Pae)) return host_fail("§27.2.3 host CR4.PAE = 0 with a 64-bit host");
    if (!canonical(s.get(v::kHostRip))) return host_fail("§27.2.3 host RIP not canonical");
  }
  return {};
}

namespace {

struct Seg {
  uint64_t sel, base, limit, ar;
  bool usable() const { return !(ar & v::ar::kUnusable); }
  unsigned type() const { return ar & v::ar::kTypeMask; }
  unsigned dpl() const { return (ar >> v::ar::kDplShift) & 3; }
  bool s() const { return ar & v::ar::kS; }
  bool p() const { return ar & v::ar::kP; }
  // §27.3.1.2: limit bits 11:0 not all ones -> G = 0; limit bits 31:20 nonzero -> G = 1.
  bool g_ok() const {
    const bool g = ar & v::ar::kG;
    if ((limit & 0xFFF) != 0xFFF && g) return false;
    if ((limit & 0xFFF00000) && !g) return false;
    return true;
  }
  bool reserved_ok() const { return !(ar & (v::ar::kReserved11_8 | v::ar::kReserved31_17)); }
};
Seg seg(const Vmcs& s, uint32_t sel_f, uint32_t base_f, uint32_t limit_f, uint32_t ar_f) {
  return {s.get(sel_f), s.get(base_f), s.get(limit_f), s.get(ar_f)};
}

}  // namespace

// ---- §27.3 checks on the guest-state area -> VM-entry failure, reason 33 ----
EntryCheck check_guest_state(const Vmcs& s, const EntryContext& ctx) {
  const uint32_t entryc = uint32_t(s.get(v::kEntryControls));
  const bool ia32e = entryc & v::entry_ctl::kIa32eModeGuest;
  const uint64_t cr0 = s.get(v::kGuestCr0), cr4 = s.get(v::kGuestCr4);
  // §27.3.1.1 control registers, debug registers, MSRs (no unrestricted guest: PE/PG fixed too).
  if (!cr_fixed_ok(cr0, kCr0Fixed0, kCr0Fixed1)) return guest_fail("§27.3.1.1 guest CR0 vs IA32_VMX_CR0_FIXED0/1");
  if ((cr0 & kCr0Pg) && !(cr0 & kCr0Pe)) return guest_fail("§27.3.1.1 guest CR0.PG without PE");
  if (!cr_fixed_ok(cr4, kCr4Fixed0, ctx.cr4_fixed1)) return guest_fail("§27.3.1.1 guest CR4 vs IA32_VMX_CR4_FIXED0/1");
  if ((entryc & v::entry_ctl::kLoadDebugControls) && (s.get(v::kGuestDebugctl) & 0xFFFFFFFFFFFF003Cull))
    return guest_fail("§27.3.1.1 guest IA32_DEBUGCTL reserved bits (5:2, 63:16)");
  if (ia32e && (!(cr0 & kCr0Pg) || !(cr4 & kCr4Pae))) return guest_fail("§27.3.1.1 IA-32e mode guest needs CR0.PG and CR4.PAE");
  if (!ia32e && (cr4 & kCr4Pcide)) return guest_fail("§27.3.1.1 CR4.PCIDE outside IA-32e mode");
  if (beyond_width(s.get(v::kGuestCr3))) return guest_fail("§27.3.1.1 guest CR3 beyond the physical-address width");
  if ((entryc & v::entry_ctl::kLoadDebugControls) && (s.get(v::kGuestDr7) >> 32))
    return guest_fail("§27.3.1.1 guest DR7 bits 63:32");
  if (!canonical(s.get(v::kGuestSysenterEsp)) || !canonical(s.get(v::kGuestSysenterEip)))
    return guest_fail("§27.3.1.1 guest IA32_SYSENTER_ESP/EIP not canonical");
  if ((entryc & v::entry_ctl::kLoadPat) && !pat_valid(s.get(v::kGuestPat))) return guest_fail("§27.3.1.1 guest IA32_PAT invalid memory type");
  if (entryc & v::entry_ctl::kLoadEfer) {
    const uint64_t efer = s.get(v::kGuestEfer);
    if (efer & ~kEferAllowed) return guest_fail("§27.3.1.1 guest IA32_EFER reserved bits");
    if (bool(efer & kEferLma) != ia32e) return guest_fail("§27.3.1.1 guest IA32_EFER.LMA differs from IA-32e mode guest");
    if ((cr0 & kCr0Pg) && bool(efer & kEferLme) != bool(efer & kEferLma))
      return guest_fail("§27.3.1.1 guest IA32_EFER.LME differs from LMA with CR0.PG = 1");
  }
  // §27.3.1.2 segment registers (RFLAGS.VM = 0, no unrestricted guest).
  const Seg cs = seg(s, v::kGuestCsSelector, v::kGuestCsBase, v::kGuestCsLimit, v::kGuestCsAr);
  const Seg ss = seg(s, v::kGuestSsSelector, v::kGuestSsBase, v::kGuestSsLimit, v::kGuestSsAr);
  const Seg tr = seg(s, v::kGuestTrSelector, v::kGuestTrBase, v::kGuestTrLimit, v::kGuestTrAr);
  const Seg ldtr = seg(s, v::kGuestLdtrSelector, v::kGuestLdtrBase, v::kGuestLdtrLimit, v::kGuestLdtrAr);
  const Seg data[] = {seg(s, v::kGuestDsSelector, v::kGuestDsBase, v::kGuestDsLimit, v::kGuestDsAr),
                      seg(s, v::kGuestEsSelector, v::kGuestEsBase, v::kGuestEsLimit, v::kGuestEsAr),
                      seg(s, v::kGuestFsSelector, v::kGuestFsBase, v::kGuestFsLimit, v::kGuestFsAr),
                      seg(s, v::kGuestGsSelector, v::kGuestGsBase, v::kGuestGsLimit, v::kGuestGsAr)};
  if (tr.sel & 4) return guest_fail("§27.3.1.2 guest TR selector TI flag set");
  if (ldtr.usable() && (ldtr.sel & 4)) return guest_fail("§27.3.1.2 guest LDTR selector TI flag set");
  if ((ss.sel & 3) != (cs.sel & 3)) return guest_fail("§27.3.1.2 guest SS.RPL differs from CS.RPL");
  if (!canonical(tr.base) || !canonical(data[2].base) || !canonical(data[3].base) || (ldtr.usable() && !canonical(ldtr.base)))
    return guest_fail("§27.3.1.2 guest TR/FS/GS/LDTR base not canonical");
  if (cs.base >> 32) return guest_fail("§27.3.1.2 guest CS base bits 63:32");
  if ((ss.usable() && ss.base >> 32) || (data[0].usable() && data[0].base >> 32) || (data[1].usable() && data[1].base >> 32))
    return guest_fail("§27.3.1.2 guest SS/DS/ES base bits 63:32");
  // CS access rights.
  if (cs.type() != 9 && cs.type() != 11 && cs.type() != 13 && cs.type() != 15)
    return guest_fail("§27.3.1.2 guest CS type not an accessed code segment (9, 11, 13, 15)");
  if (!cs.s()) return guest_fail("§27.3.1.2 guest CS.S = 0");
  if (cs.type() <= 11 && cs.dpl() != ss.dpl()) return guest_fail("§27.3.1.2 guest non-conforming CS.DPL differs from SS.DPL");
  if (cs.type() >= 13 && cs.dpl() > ss.dpl()) return guest_fail("§27.3.1.2 guest conforming CS.DPL greater than SS.DPL");
  if (!cs.p()) return guest_fail("§27.3.1.2 guest CS not present");
  if (!cs.reserved_ok()) return guest_fail("§27.3.1.2 guest CS access-rights reserved bits");
  if (ia32e && (cs.ar & v::ar::kL) && (cs.ar & v::ar::kDb)) return guest_fail("§27.3.1.2 guest CS.L and CS.D/B both 1");
  if (!cs.g_ok()) return guest_fail("§27.3.1.2 guest CS granularity does not match its limit");
  // SS.
  if (ss.usable()) {
    if (ss.type() != 3 && ss.type() != 7) return guest_fail("§27.3.1.2 guest SS type not 3 or 7");
    if (!ss.s() || !ss.p()) return guest_fail("§27.3.1.2 guest SS.S or SS.P = 0");
    if (!ss.reserved_ok() || !ss.g_ok()) return guest_fail("§27.3.1.2 guest SS access-rights reserved bits or granularity");
  }
  if (ss.dpl() != (ss.sel & 3)) return guest_fail("§27.3.1.2 guest SS.DPL differs from SS.RPL");
  // DS ES FS GS.
  for (const Seg& d : data) {
    if (!d.usable()) continue;
    if (!(d.type() & 1)) return guest_fail("§27.3.1.2 guest DS/ES/FS/GS type not accessed");
    if ((d.type() & 8) && !(d.type() & 2)) return guest_fail("§27.3.1.2 guest DS/ES/FS/GS execute-only code");
    if (!d.s() || !d.p()) return guest_fail("§27.3.1.2 guest DS/ES/FS/GS S or P = 0");
    if (d.type() <= 11 && d.dpl() < (d.sel & 3)) return guest_fail("§27.3.1.2 guest DS/ES/FS/GS DPL below RPL");
    if (!d.reserved_ok() || !d.g_ok()) return guest_fail("§27.3.1.2 guest DS/ES/FS/GS reserved bits or granularity");
  }
  // TR.
  if (ia32e ? tr.type() != 11 : (tr.type() != 3 && tr.type() != 11))
    return guest_fail("§27.3.1.2 guest TR type not a busy TSS (11 in IA-32e mode)");
  if (tr.s() || !tr.p() || !tr.usable()) return guest_fail("§27.3.1.2 guest TR S = 1, not present or unusable");
  if (!tr.reserved_ok() || !tr.g_ok()) return guest_fail("§27.3.1.2 guest TR reserved bits or granularity");
  // LDTR.
  if (ldtr.usable() && (ldtr.type() != 2 || ldtr.s() || !ldtr.p() || !ldtr.reserved_ok() || !ldtr.g_ok()))
    return guest_fail("§27.3.1.2 guest LDTR not a present LDT descriptor");
  // §27.3.1.3 descriptor-table registers.
  if (!canonical(s.get(v::kGuestGdtrBase)) || !canonical(s.get(v::kGuestIdtrBase)))
    return guest_fail("§27.3.1.3 guest GDTR/IDTR base not canonical");
  if ((s.get(v::kGuestGdtrLimit) | s.get(v::kGuestIdtrLimit)) >> 16) return guest_fail("§27.3.1.3 guest GDTR/IDTR limit bits 31:16");
  // §27.3.1.4 RIP and RFLAGS.
  const uint64_t rip = s.get(v::kGuestRip), rfl = s.get(v::kGuestRflags);
  if (!(ia32e && (cs.ar & v::ar::kL)) ? (rip >> 32) != 0 : !canonical(rip))
    return guest_fail("§27.3.1.4 guest RIP bits 63:32 (not 64-bit code) or not canonical");
  if ((rfl & 0xFFFFFFFFFFC08028ull) || !(rfl & 2)) return guest_fail("§27.3.1.4 guest RFLAGS reserved bits (63:22, 15, 5, 3 zero; 1 one)");
  if ((ia32e || !(cr0 & kCr0Pe)) && (rfl & (1u << 17))) return guest_fail("§27.3.1.4 guest RFLAGS.VM in IA-32e mode");
  const uint32_t ii = uint32_t(s.get(v::kEntryInterruptionInfo));
  const bool inject = ii & v::intr_info::kValid;
  const uint32_t itype = (ii >> v::intr_info::kTypeShift) & 7;
  if (inject && itype == v::intr_info::kExternal && !(rfl & (1u << 9)))
    return guest_fail("§27.3.1.4 injecting an external interrupt with RFLAGS.IF = 0");
  // §27.3.1.5 non-register state.
  const uint64_t act = s.get(v::kGuestActivityState);
  if (act != v::kActive && act != v::kHlt) return guest_fail("§27.3.1.5 guest activity state not supported (IA32_VMX_MISC[8:6])");
  if (act == v::kHlt && ss.dpl() != 0) return guest_fail("§27.3.1.5 HLT activity state with SS.DPL != 0");
  const uint64_t intr = s.get(v::kGuestInterruptibility);
  namespace ib = v::interruptibility;
  if (intr & (ib::kReservedBits | ib::kEnclaveInterruption)) return guest_fail("§27.3.1.5 guest interruptibility reserved bits (31:4, no SGX)");
  if ((intr & ib::kStiBlocking) && (intr & ib::kMovSsBlocking)) return guest_fail("§27.3.1.5 blocking by STI and by MOV SS both set");
  if (!(rfl & (1u << 9)) && (intr & ib::kStiBlocking)) return guest_fail("§27.3.1.5 blocking by STI with RFLAGS.IF = 0");
  if (inject && (itype == v::intr_info::kExternal || itype == v::intr_info::kNmi) && (intr & (ib::kStiBlocking | ib::kMovSsBlocking)))
    return guest_fail("§27.3.1.5 injecting an interrupt/NMI with blocking by STI or MOV SS");
  if (intr & ib::kSmiBlocking) return guest_fail("§27.3.1.5 blocking by SMI outside SMM");
  const uint64_t pde = s.get(v::kGuestPendingDebugExceptions);
  if (pde & 0xFFFFFFFFFFFFAFF0ull) return guest_fail("§27.3.1.5 pending debug exceptions reserved bits (11:4, 13, 15, 63:16)");
  if ((intr & (ib::kStiBlocking | ib::kMovSsBlocking)) || act == v::kHlt) {
    const bool tf = rfl & (1u << 8), btf = s.get(v::kGuestDebugctl) & 2, bs = pde & (1u << 14);
    if (tf && !btf && !bs) return guest_fail("§27.3.1.5 pending debug exceptions BS = 0 with TF = 1 and BTF = 0");
    if ((!tf || btf) && bs) return guest_fail("§27.3.1.5 pending debug exceptions BS = 1 with TF = 0 or BTF = 1");
  }
  const uint64_t link = s.get(v::kVmcsLinkPointer);
  if (link != ~0ull) {  // §27.3.1.5: exit qualification 4 (§27.8)
    if ((link & 0xFFF) || beyond_width(link)) return guest_fail("§27.3.1.5 VMCS link pointer not aligned or beyond the width", v::kEntryFailVmcsLinkPointer);
    uint32_t rev = ~0u;
    if (ctx.mem && ctx.mem->contains(link, 4)) std::memcpy(&rev, const_cast<PhysicalMemory*>(ctx.mem)->map(link, 4), 4);
    if (rev != kVmcsRevision) return guest_fail("§27.3.1.5 VMCS link pointer revision identifier", v::kEntryFailVmcsLinkPointer);
  }
  return {};
}

}  // namespace redoubt::sim::vmx
