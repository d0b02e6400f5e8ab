// Running a VMX guest on the simulated CPU: loading guest state at VM entry
// (Intel SDM vol. 3C §27.3.2), the VM-execution controls as the interpreter's
// guest-mode controls (§25.6, ch. 26 "VMX Non-Root Operation"), and VM exits
// (ch. 28: §28.2 exit information, §28.3 saving guest state, §28.5 loading host state).
//
// The interpreter's guest mode is shared with SVM: instruction intercepts are set
// from the VMX controls (CPUID, INVD and the VMX instructions always exit, §26.1.2),
// the I/O and MSR bitmaps are translated into the CPU's map formats, and the exits
// the CPU reports are mapped to basic exit reasons (Appendix C) and qualifications (§28.2.1).
#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "platform/sim/vmx/insn_info.hpp"
#include "platform/sim/vmx/msr_areas.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"
#include "platform/sim/vmx/vmx_cpu.hpp"

namespace redoubt::sim::vmx {

using cpu::CpuError;
namespace s = redoubt::svm;

namespace {

// VMX access rights (§25.4.1, Table 25-2) <-> the CPU's packed attributes (type S DPL P AVL L D/B G in 11:0).
uint16_t attrib_from_ar(uint64_t ar) {
  if (ar & v::ar::kUnusable) return 0;  // an unusable segment: not present
  return uint16_t((ar & 0xFF) | ((ar >> 4) & 0xF00));
}
uint32_t ar_from_attrib(const Segment& g) {
  if (!(g.attrib & 0x80)) return v::ar::kUnusable | (g.attrib & 0xFF);  // §28.3.2: not present -> unusable
  return uint32_t((g.attrib & 0xFF) | ((g.attrib & 0xF00) << 4));
}

struct SegFields { uint32_t sel, base, limit, ar; };
constexpr SegFields kEs{v::kGuestEsSelector, v::kGuestEsBase, v::kGuestEsLimit, v::kGuestEsAr};
constexpr SegFields kCs{v::kGuestCsSelector, v::kGuestCsBase, v::kGuestCsLimit, v::kGuestCsAr};
constexpr SegFields kSs{v::kGuestSsSelector, v::kGuestSsBase, v::kGuestSsLimit, v::kGuestSsAr};
constexpr SegFields kDs{v::kGuestDsSelector, v::kGuestDsBase, v::kGuestDsLimit, v::kGuestDsAr};
constexpr SegFields kFs{v::kGuestFsSelector, v::kGuestFsBase, v::kGuestFsLimit, v::kGuestFsAr};
constexpr SegFields kGs{v::kGuestGsSelector, v::kGuestGsBase, v::kGuestGsLimit, v::kGuestGsAr};
constexpr SegFields kLdtr{v::kGuestLdtrSelector, v::kGuestLdtrBase, v::kGuestLdtrLimit, v::kGuestLdtrAr};
constexpr SegFields kTr{v::kGuestTrSelector, v::kGuestTrBase, v::kGuestTrLimit, v::kGuestTrAr};

Segment load_seg(const Vmcs& s, const SegFields& f) {
  return Segment{uint16_t(s.get(f.sel)), s.get(f.base), uint32_t(s.get(f.limit)), attrib_from_ar(s.get(f.ar))};
}
void store_seg(Vmcs& s, const SegFields& f, const Segment& g) {
  s.set(f.sel, g.selector);
  s.set(f.base, g.base);
  s.set(f.limit, g.limit);
  s.set(f.ar, ar_from_attrib(g));
}

constexpr uint64_t kLme = 1u << 8, kLma = 1u << 10;

}  // namespace

void VmxCpu::enter_guest(Vmcs& s) {
  namespace p = v::proc;
  namespace e = v::entry_ctl;
  const uint32_t pinc = uint32_t(s.get(v::kPinBasedControls)), procc = uint32_t(s.get(v::kPrimaryProcControls));
  const uint32_t proc2c = (procc & p::kActivateSecondary) ? uint32_t(s.get(v::kSecondaryProcControls)) : 0;
  const uint32_t entryc = uint32_t(s.get(v::kEntryControls));
  if (pinc & (v::pin::kNmiExiting | v::pin::kVirtualNmis))
    throw CpuError("VM entry with NMI exiting or virtual NMIs: not modelled yet (issue 12)");
  // ---- controls (§25.6) as guest-mode intercepts ----
  cpu::GuestControls ctl;
  // CPUID and INVD exit unconditionally (§26.1.2); the shutdown of a triple fault always ends the guest.
  ctl.icpt_misc1 = s::kInterceptCpuid | s::kInterceptInvd | s::kInterceptShutdown;
  // External-interrupt exiting (§26.2): the interrupt exits whatever the guest's RFLAGS.IF; the CPU's
  // rule for that is V_INTR_MASKING (deviation: the guest's CR8 is then a private copy, lost at the exit).
  if (pinc & v::pin::kExternalInterruptExiting) {
    ctl.icpt_misc1 |= s::kInterceptIntr;
    ctl.v_intr_masking = true;
  }
  if (procc & p::kHltExiting) ctl.icpt_misc1 |= s::kInterceptHlt;
  if (procc & p::kInvlpgExiting) ctl.icpt_misc1 |= s::kInterceptInvlpg;
  if (procc & p::kRdtscExiting) ctl.icpt_misc1 |= s::kInterceptRdtsc;
  if (procc & p::kPauseExiting) ctl.icpt_misc1 |= s::kInterceptPause;
  // RDTSCP exits (51) with RDTSC exiting and "enable RDTSCP" (§26.1.3). Deviation: without
  // "enable RDTSCP" the model executes RDTSCP instead of raising #UD (§26.3).
  if ((procc & p::kRdtscExiting) && (proc2c & v::proc2::kEnableRdtscp)) ctl.icpt_misc2 |= s::kInterceptRdtscp;
  if (proc2c & v::proc2::kWbinvdExiting) ctl.icpt_misc2 |= s::kInterceptWbinvd;
  // §26.1.3: descriptor-table exiting makes LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT and STR exit (46/47).
  if (proc2c & v::proc2::kDescriptorTableExiting)
    ctl.icpt_misc1 |= s::kInterceptIdtrRead | s::kInterceptGdtrRead | s::kInterceptLdtrRead | s::kInterceptTrRead |
                      s::kInterceptIdtrWrite | s::kInterceptGdtrWrite | s::kInterceptLdtrWrite | s::kInterceptTrWrite;
  if (procc & p::kMovDrExiting) ctl.icpt_dr = 0xFFFFFFFF;
  ctl.icpt_exc = uint32_t(s.get(v::kExceptionBitmap));
  // §26.2: a #PF exits iff bit 14 is 1 and (error code & PFEC_MASK) == PFEC_MATCH, or bit 14 is 0
  // and they differ. With a zero mask that is the same for every #PF; a non-zero mask is not modelled.
  if (s.get(v::kPfErrorCodeMask) & 0xFFFFFFFF)
    throw CpuError("VM entry with a non-zero page-fault error-code mask: not modelled yet (issue 12)");
  if (s.get(v::kPfErrorCodeMatch) & 0xFFFFFFFF) ctl.icpt_exc ^= 1u << 14;
  // I/O (§26.1.3): bitmaps A (ports 0-7FFF) and B (8000-FFFF) have the layout of the CPU's 8 KiB
  // port map; without bitmaps, unconditional I/O exiting makes every port exit.
  if (procc & (p::kUseIoBitmaps | p::kUnconditionalIoExiting)) {
    iopm_.assign(12288, 0);
    if (procc & p::kUseIoBitmaps) {
      for (int half = 0; half < 2; ++half) {
        const uint64_t pa = s.get(half ? v::kIoBitmapB : v::kIoBitmapA);
        if (!mem_.contains(pa, 4096)) throw CpuError("VM entry: an I/O bitmap outside RAM");
        std::memcpy(iopm_.data() + half * 4096, mem_.map(pa, 4096), 4096);
      }
    } else {
      std::memset(iopm_.data(), 0xFF, 8192);
    }
    ctl.iopm = iopm_.data();
    ctl.icpt_misc1 |= s::kInterceptIoioProt;
  }
  // MSRs (§26.1.3): without MSR bitmaps every RDMSR/WRMSR exits; with them, the read/write bitmaps for
  // 0-1FFF and C0000000-C0001FFF (§25.6.9) become the CPU's two-bit map. Other MSRs always exit.
  // The conversion is redone only when the bitmap's bytes changed since the last entry that used
  // them (a simulator cache: the bitmap is still read at every entry).
  const uint64_t msr_pa = (procc & p::kUseMsrBitmaps) ? s.get(v::kMsrBitmap) : ~0ull;
  if (msr_pa != ~0ull && !mem_.contains(msr_pa, 4096)) throw CpuError("VM entry: the MSR bitmap outside RAM");
  const bool msr_same = msrpm_.size() == 8192 && msr_pa == msr_bitmap_pa_ &&
                        (msr_pa == ~0ull || std::memcmp(msr_bitmap_seen_.data(), mem_.map(msr_pa, 4096), 4096) == 0);
  if (!msr_same) msrpm_.assign(8192, 0xFF);
  msr_bitmap_pa_ = msr_pa;
  if (!msr_same && msr_pa != ~0ull) {
    const uint64_t pa = msr_pa;
    const uint8_t* b = mem_.map(pa, 4096);
    msr_bitmap_seen_.assign(b, b + 4096);
    std::memset(msrpm_.data(), 0, 0x1000);  // the two covered ranges; C0010000-C0011FFF stays all-exit
    for (uint32_t range = 0; range < 2; ++range)
      for (uint32_t i = 0; i < 0x2000; ++i) {
        const bool rd = (b[range * 1024 + i / 8] >> (i % 8)) & 1, wr = (b[2048 + range * 1024 + i / 8] >> (i % 8)) & 1;
        const uint32_t bit = i * 2;
        uint8_t& byte = msrpm_[range * 0x800 + bit / 8];
        byte = uint8_t(byte | (rd ? 1 << (bit % 8) : 0) | (wr ? 2 << (bit % 8) : 0));
      }
  }
  ctl.msrpm = msrpm_.data();
  ctl.icpt_misc1 |= s::kInterceptMsrProt;
  ctl.tsc_offset = (procc & p::kUseTscOffsetting) ? s.get(v::kTscOffset) : 0;  // §26.3 TSC offsetting
  if (proc2c & v::proc2::kEnableEpt) {  // §29.3: guest-physical addresses go through the EPT (cpu/ept.cpp)
    ctl.np = true;
    ctl.ept = true;
    ctl.eptp = s.get(v::kEptPointer);
  }
  // ---- guest state (§27.3.2) ----
  cpu::Cpu& c = c_;
  c.cr0 = s.get(v::kGuestCr0) | (1u << 4);
  c.cr3 = s.get(v::kGuestCr3);
  c.cr4 = s.get(v::kGuestCr4);
  if (entryc & e::kLoadDebugControls) c.dr7 = s.get(v::kGuestDr7);
  if (entryc & e::kLoadEfer) c.efer = s.get(v::kGuestEfer);
  else c.efer = (entryc & e::kIa32eModeGuest) ? (c.efer | kLme | kLma) : (c.efer & ~(kLme | kLma));  // §27.3.2.1
  if (entryc & e::kLoadPat) c.pat = s.get(v::kGuestPat);
  c.sysenter_cs = s.get(v::kGuestSysenterCs);
  c.sysenter_esp = s.get(v::kGuestSysenterEsp);
  c.sysenter_eip = s.get(v::kGuestSysenterEip);
  c.es = load_seg(s, kEs);
  c.cs = load_seg(s, kCs);
  c.ss = load_seg(s, kSs);
  c.ds = load_seg(s, kDs);
  c.fs = load_seg(s, kFs);
  c.gs = load_seg(s, kGs);
  c.ldtr = load_seg(s, kLdtr);
  c.tr = load_seg(s, kTr);
  c.gdtr = Segment{0, s.get(v::kGuestGdtrBase), uint32_t(s.get(v::kGuestGdtrLimit)), 0};
  c.idtr = Segment{0, s.get(v::kGuestIdtrBase), uint32_t(s.get(v::kGuestIdtrLimit)), 0};
  c.gpr[cpu::RSP] = s.get(v::kGuestRsp);
  c.rip() = s.get(v::kGuestRip);
  c.set_rflags(s.get(v::kGuestRflags));
  c.ctl = ctl;
  c.guest = true;
  // VPID (§29.1): the guest's translations are tagged with its VPID; without VPID, with a tag of
  // their own that every VM entry flushes. Tag 0 stays the host's.
  const bool vpid = proc2c & v::proc2::kEnableVpid;
  c.asid = vpid ? uint32_t(s.get(v::kVpid)) : 0x10000;
  if (!vpid) c.tlb_flush_asid(c.asid, false);  // the tag's TLB entries and its fast-path banks
  c.set_cpl(uint8_t((s.get(v::kGuestSsAr) >> v::ar::kDplShift) & 3));  // CPL = SS.DPL (§27.3.2.2)
  c.halted = s.get(v::kGuestActivityState) == v::kHlt;
  c.shadow_end = (s.get(v::kGuestInterruptibility) & 3) ? c.icount + 1 : ~0ull;
  c.stop = cpu::Stop::none;
  // The guest's soft-TLB bank, as HostSvm's VMRUN: it holds what the tagged TLB holds, so it
  // survives exactly when the VPID's entries do. Decoded code stays valid (stores through this
  // CPU drop the blocks of a page they write); writes made outside any CPU (DMA, the loader) need
  // the blocks compared with memory again.
  c.select_context();
  if (mem_.external_writes() != external_writes_seen_) {
    external_writes_seen_ = mem_.external_writes();
    c.code_modified_externally();
  }
  c.update_mode();
  guest_vmcs_ = current_;
  // Statistics (per_vmcs): this guest's time and page walks run from here to its exit.
  ++per_[guest_vmcs_].entries;
  walks0_ = c.counters.walks;
  refs0_ = c.counters.walk_refs;
  nrefs0_ = c.counters.nested_walk_refs;
  icount0_ = c.icount;
  idle0_ = c.idle_ticks;
  if (on_world_switch) on_world_switch(guest_vmcs_, true);
  t0_ = std::chrono::steady_clock::now();
  // §27.4: the VM-entry MSR-load list, after the guest state (checked by vmentry()).
  if (const uint64_t n = s.get(v::kEntryMsrLoadCount)) load_msr_list(c, mem_, s.get(v::kEntryMsrLoadAddr), n);
  // §26.5.1 VMX-preemption timer: decremented at every multiple of 32 of the TSC (rate 5); a value
  // of 0 exits before the guest's first instruction. VmxCpu::run runs the guest to the deadline.
  timer_active_ = pinc & v::pin::kPreemptionTimer;
  if (timer_active_) {
    timer_deadline_ = ((c.icount >> 5) + (s.get(v::kPreemptionTimerValue) & 0xFFFFFFFF)) << 5;
    c.request_stop(cpu::Stop::budget);  // hand the run over to VmxCpu::run, which watches the deadline
  }
  // §27.6 event injection: delivered through the guest IDT before its first instruction. Software
  // interrupts and exceptions (types 4-6) push RIP + the VM-entry instruction length (§27.6.1.1).
  if (const uint32_t ii = uint32_t(s.get(v::kEntryInterruptionInfo)); ii & v::intr_info::kValid) {
    namespace in = v::intr_info;
    const uint32_t type = (ii >> in::kTypeShift) & 7;
    cpu::Event ev;
    ev.vector = uint8_t(ii & in::kVectorMask);
    ev.type = type == in::kExternal ? 0 : type == in::kNmi ? 2 : type == in::kHardwareException ? 3 : 4;
    ev.has_error = ii & in::kDeliverErrorCode;
    ev.error = uint32_t(s.get(v::kEntryExceptionErrorCode));
    if (type >= in::kSoftwareInterrupt && type <= in::kSoftwareException) c.rip() += s.get(v::kEntryInstructionLength);
    c.halted = false;  // an injected event leaves the HLT activity state
    c.inject(ev);
  }
}

void VmxCpu::guest_vmx_instruction(cpu::Cpu& c, const cpu::VmxOperands& o) {
  using I = cpu::VmxInsn;
  // §26.1.2: every VMX instruction causes a VM exit in VMX non-root operation.
  static constexpr uint32_t reason[] = {v::kExitVmxon,  v::kExitVmxoff,   v::kExitVmclear, v::kExitVmptrld,
                                        v::kExitVmptrst, v::kExitVmread,  v::kExitVmwrite, v::kExitVmlaunch,
                                        v::kExitVmresume, v::kExitVmcall, v::kExitInvept,  v::kExitInvvpid};
  (void)I::vmxon;
  c.vmexit(kVmxExitCode + reason[unsigned(o.insn)], 0, 0);
}

void VmxCpu::exit_to_host() {
  cpu::Cpu& c = c_;
  Vmcs& s = vmcs_[guest_vmcs_];
  const uint64_t exiting = guest_vmcs_;
  {
    PerVmcs& p = per_[exiting];
    p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    p.walks += c.counters.walks - walks0_;
    p.walk_refs += c.counters.walk_refs - refs0_;
    p.nested_refs += c.counters.nested_walk_refs - nrefs0_;
    // Instructions retired under this VPID (as HostSvm counts them per ASID): halted ticks aside.
    c.counters.per_asid[c.asid].instructions += (c.icount - icount0_) - (c.idle_ticks - idle0_);
  }
  // ---- the exit reason and qualification (§28.2.1, Appendix C) ----
  uint32_t reason;
  uint64_t qual = 0;
  uint32_t intr_info = 0, intr_error = 0, insn_info = 0;
  const uint64_t code = c.exitcode;
  if (code >= kVmxExitCode && code < kVmxExitCode + 0x10000) {
    reason = uint32_t(code - kVmxExitCode);
    qual = c.exitinfo1;  // CR access: Table 28-3; VMX instructions: 0 (no displacement reported)
  } else if (code >= s::kExitExcp0 && code < s::kExitExcp0 + 32) {
    // Exception (§28.2.2): interruption information; #PF: the qualification is the linear address.
    const uint32_t vec = uint32_t(code - s::kExitExcp0);
    reason = v::kExitExceptionNmi;
    const bool sw = vec == 3 || vec == 4;  // INT3 / INTO: software exceptions
    const bool has_error = vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14 || vec == 17;
    intr_info = vec | ((sw ? v::intr_info::kSoftwareException : v::intr_info::kHardwareException) << v::intr_info::kTypeShift) |
                (has_error ? v::intr_info::kDeliverErrorCode : 0) | v::intr_info::kValid;
    intr_error = has_error ? uint32_t(c.exitinfo1) : 0;
    if (vec == 14) qual = c.exitinfo2;
  } else {
    switch (code) {
      case s::kExitCpuid: reason = v::kExitCpuid; break;
      case s::kExitHlt: reason = v::kExitHlt; break;
      case s::kExitRdtsc: reason = v::kExitRdtsc; break;
      case s::kExitRdtscp: reason = v::kExitRdtscp; break;
      case s::kExitInvd: reason = v::kExitInvd; break;
      case s::kExitWbinvd: reason = v::kExitWbinvd; break;
      case s::kExitPause: reason = v::kExitPause; break;
      case s::kExitIntr:
        // §28.2.2: with "acknowledge interrupt on exit" the vector is in the interruption information;
        // without it the interrupt stays pending (the CPU's exit consumed it: pend it again).
        reason = v::kExitExternalInterrupt;
        if (s.get(v::kExitControls) & v::exit_ctl::kAcknowledgeInterrupt) {
          intr_info = c.timer_vector | v::intr_info::kValid;  // type 0: external interrupt
        } else {
          c.timer_armed = true;
          c.timer_deadline = c.icount;
        }
        break;
      case s::kExitShutdown: reason = v::kExitTripleFault; break;
      case s::kExitInvlpg: reason = v::kExitInvlpg; qual = c.exitinfo1; break;  // the linear address (§28.2.1)
      case s::kExitMsr: reason = c.exitinfo1 ? v::kExitWrmsr : v::kExitRdmsr; break;
      case s::kExitNpf:  // EPT (cpu/ept.cpp): violation 48 with its qualification, or misconfiguration 49
        s.set(v::kGuestPhysicalAddress, c.exitinfo2);
        if (c.exitinfo1 & cpu::kEptMisconfig) {
          reason = v::kExitEptMisconfig;
        } else {
          reason = v::kExitEptViolation;
          qual = c.exitinfo1 & ~cpu::kEptViolation;
          if (qual & v::ept_qual::kLinearValid) s.set(v::kGuestLinearAddress, c.walk_va);
        }
        break;
      case s::kExitIoio: {
        // §28.2.1 Table 28-5 from the CPU's IOIO information; the operand encoding from the opcode:
        // IN/OUT imm8 (E4-E7 ib) end with opcode + port byte; the DX forms (EC-EF) and INS/OUTS end
        // with the opcode, preceded only by prefixes (never E4-E7).
        namespace io = s::ioio;
        const uint64_t i1 = c.exitinfo1;
        const unsigned size = (i1 & io::kSz8) ? 1 : (i1 & io::kSz16) ? 2 : 4;
        const uint64_t len = c.nrip - c.rip();
        const uint8_t opc2 = len >= 2 ? c.rd<uint8_t>(c.seg_base[1 /* CS */] + c.nrip - 2) : 0;
        const bool imm = !(i1 & io::kStr) && opc2 >= 0xE4 && opc2 <= 0xE7;
        reason = v::kExitIo;
        qual = v::io_qual::make(uint16_t(i1 >> io::kPortShift), size, i1 & io::kTypeIn, i1 & io::kStr, i1 & io::kRep, imm);
        break;
      }
      case s::kExitIdtrRead: case s::kExitGdtrRead: case s::kExitLdtrRead: case s::kExitTrRead:
      case s::kExitIdtrWrite: case s::kExitGdtrWrite: case s::kExitLdtrWrite: case s::kExitTrWrite: {
        // Exits 46/47 (§26.1.3 descriptor-table exiting): qualification = displacement (§28.2.1),
        // instruction information per Tables 28-10 / 28-11 (§28.2.5), decoded from the bytes at RIP.
        static constexpr DtInsn kId[] = {DtInsn::sidt, DtInsn::sgdt, DtInsn::sldt, DtInsn::str,
                                         DtInsn::lidt, DtInsn::lgdt, DtInsn::lldt, DtInsn::ltr};
        const unsigned k = unsigned(code - s::kExitIdtrRead);
        const bool gi = k == 0 || k == 1 || k == 4 || k == 5;
        reason = gi ? v::kExitGdtrIdtrAccess : v::kExitLdtrTrAccess;
        uint8_t bytes[15] = {};
        const size_t len = c.nrip > c.rip() && c.nrip - c.rip() <= 15 ? size_t(c.nrip - c.rip()) : 0;
        for (size_t i = 0; i < len; ++i) bytes[i] = c.rd<uint8_t>(c.seg_base[1 /* CS */] + c.rip() + i);
        const unsigned bits = c.mode() == cpu::Mode::long64 ? 64 : (c.cs.attrib & 0x400) ? 32 : 16;
        DtExitInfo d;
        if (!decode_dt_exit(bytes, len, bits, gi, kId[k], d))
          throw CpuError("VMX descriptor-table exit on bytes that are not LGDT/LIDT/LLDT/LTR/SGDT/SIDT/SLDT/STR");
        qual = d.qual;
        insn_info = d.info;
        break;
      }
      default:
        if (code >= s::kExitDr0Read && code < s::kExitDr0Write + 16) {  // MOV DR (§28.2.1 Table 28-4)
          const bool from_dr = code < s::kExitDr0Write;
          reason = v::kExitMovDr;
          qual = ((code - s::kExitDr0Read) & 7) | (from_dr ? 1u << 4 : 0) | ((c.exitinfo1 & 0xF) << 8);
          break;
        }
        throw CpuError("VMX guest exit with no VMX mapping in the model (CPU exit code " + std::to_string(code) + ")");
    }
  }
  ++exits_;
  // §28.2: exit information.
  s.set(v::kExitReason, reason);
  ++per_[exiting].reasons[reason];
  s.set(v::kExitQualification, qual);
  s.set(v::kExitInterruptionInfo, intr_info);
  s.set(v::kExitInterruptionErrorCode, intr_error);
  // §28.2.4: an exit during event delivery records the event (same layout: vector, type 10:8,
  // error-code valid 11, valid 31) and its error code.
  s.set(v::kIdtVectoringInfo, uint32_t(c.exitintinfo));
  s.set(v::kIdtVectoringErrorCode, c.exitintinfo >> 32);
  s.set(v::kExitInstructionLength, c.nrip ? c.nrip - c.rip() : 0);  // instruction exits: its length
  s.set(v::kExitInstructionInfo, insn_info);                            // §28.2.5 (exits 46/47 only so far)
  s.set(v::kEntryInterruptionInfo, s.get(v::kEntryInterruptionInfo) & ~uint64_t(v::intr_info::kValid));
  // §28.3: guest state saved; RIP is that of the exiting instruction (or the faulting one).
  const uint32_t exitc = uint32_t(s.get(v::kExitControls));
  if (timer_active_ && (exitc & v::exit_ctl::kSavePreemptionTimer))  // §28.3.4: the value left
    s.set(v::kPreemptionTimerValue, c.icount >= timer_deadline_ ? 0 : (timer_deadline_ >> 5) - (c.icount >> 5));
  timer_active_ = false;
  s.set(v::kGuestCr0, c.cr0);
  s.set(v::kGuestCr3, c.cr3);
  s.set(v::kGuestCr4, c.cr4);
  if (exitc & v::exit_ctl::kSaveDebugControls) s.set(v::kGuestDr7, c.dr7);
  if (exitc & v::exit_ctl::kSaveEfer) s.set(v::kGuestEfer, c.efer);
  if (exitc & v::exit_ctl::kSavePat) s.set(v::kGuestPat, c.pat);
  s.set(v::kGuestSysenterCs, c.sysenter_cs);
  s.set(v::kGuestSysenterEsp, c.sysenter_esp);
  s.set(v::kGuestSysenterEip, c.sysenter_eip);
  store_seg(s, kEs, c.es);
  store_seg(s, kCs, c.cs);
  store_seg(s, kSs, c.ss);
  store_seg(s, kDs, c.ds);
  store_seg(s, kFs, c.fs);
  store_seg(s, kGs, c.gs);
  store_seg(s, kLdtr, c.ldtr);
  store_seg(s, kTr, c.tr);
  s.set(v::kGuestGdtrBase, c.gdtr.base);
  s.set(v::kGuestGdtrLimit, c.gdtr.limit);
  s.set(v::kGuestIdtrBase, c.idtr.base);
  s.set(v::kGuestIdtrLimit, c.idtr.limit);
  s.set(v::kGuestRsp, c.gpr[cpu::RSP]);
  s.set(v::kGuestRip, c.rip());
  s.set(v::kGuestRflags, c.rflags());
  s.set(v::kGuestActivityState, c.halted ? v::kHlt : v::kActive);
  s.set(v::kGuestInterruptibility, c.in_shadow() ? v::interruptibility::kStiBlocking : 0);
  // §28.4: the VM-exit MSR-store list receives the guest's MSRs.
  if (const uint64_t n = s.get(v::kExitMsrStoreCount)) store_msr_list(c, mem_, s.get(v::kExitMsrStoreAddr), n);
  // §28.5: back to the host.
  c.guest = false;
  c.asid = 0;
  c.ctl = cpu::GuestControls{};
  c.halted = false;
  c.shadow_end = ~0ull;
  c.stop = cpu::Stop::none;
  load_host_state(s);
  c.select_context();  // the host's bank (VPID 0000H, CPL 0); flushed by load_host_state when VPIDs are off
  guest_vmcs_ = kInvalidVmcsPointer;
  // §28.6: the VM-exit MSR-load list, after the host state.
  if (const uint64_t n = s.get(v::kExitMsrLoadCount)) load_msr_list(c, mem_, s.get(v::kExitMsrLoadAddr), n);
  if (on_world_switch) on_world_switch(exiting, false);
}

// MOV CR in VMX non-root operation (§26.1.3 exits, §26.3 changed behaviour). Exit qualification:
// Table 28-3 (CR number, access type, GPR).
bool VmxCpu::guest_mov_cr(cpu::Cpu& c, unsigned cr, bool write, unsigned gpr, uint64_t& value) {
  const Vmcs& s = vmcs_[guest_vmcs_];
  const uint32_t procc = uint32_t(s.get(v::kPrimaryProcControls));
  namespace p = v::proc;
  namespace cq = v::cr_qual;
  auto exit = [&] {
    c.vmexit(kVmxExitCode + v::kExitCrAccess, cq::make(cr, write ? cq::kMovToCr : cq::kMovFromCr, gpr), 0);
    return true;
  };
  if (cr == 0 || cr == 4) {
    const uint64_t mask = s.get(cr == 0 ? v::kCr0GuestHostMask : v::kCr4GuestHostMask);
    const uint64_t shadow = s.get(cr == 0 ? v::kCr0ReadShadow : v::kCr4ReadShadow);
    const uint64_t cur = cr == 0 ? c.cr0 : c.cr4;
    if (!write) {  // host-owned bits read from the read shadow
      value = (value & ~mask) | (shadow & mask);
      return false;
    }
    if ((value ^ shadow) & mask) return exit();  // a host-owned bit would differ from its shadow
    value = (value & ~mask) | (cur & mask);      // host-owned bits are not modified
    return false;
  }
  if (cr == 3) {
    if (!write) return (procc & p::kCr3StoreExiting) ? exit() : false;
    if (!(procc & p::kCr3LoadExiting)) return false;
    const uint64_t n = s.get(v::kCr3TargetCount);  // no exit for one of the first n CR3-target values
    for (uint64_t i = 0; i < n && i < 4; ++i)
      if (value == s.get(v::kCr3Target0 + 2 * uint32_t(i))) return false;
    return exit();
  }
  if (cr == 8) return (procc & (write ? p::kCr8LoadExiting : p::kCr8StoreExiting)) ? exit() : false;
  return false;
}

cpu::Stop VmxCpu::run(uint64_t max_instructions) {
  const uint64_t end = max_instructions == ~0ull ? ~0ull : c_.icount + max_instructions;
  for (;;) {
    uint64_t budget = end == ~0ull ? ~0ull : (end > c_.icount ? end - c_.icount : 0);
    const bool timed = c_.guest && timer_active_;
    if (timed) {
      if (c_.icount >= timer_deadline_) {  // §26.5.1: the timer reached 0 -> exit 52 between instructions
        c_.exitcode = kVmxExitCode + v::kExitPreemptionTimer;
        c_.exitinfo1 = c_.exitinfo2 = c_.exitintinfo = 0;
        c_.nrip = 0;
        exit_to_host();
        continue;
      }
      if (timer_deadline_ - c_.icount < budget) budget = timer_deadline_ - c_.icount;
    }
    const cpu::Stop st = c_.run(budget);
    if (st == cpu::Stop::vmexit && c_.guest && guest_vmcs_ != kInvalidVmcsPointer) {
      exit_to_host();
      continue;
    }
    if (c_.guest && timer_active_) {
      if (st == cpu::Stop::halted) {  // a halted guest sleeps until the timer fires
        c_.idle_ticks += timer_deadline_ - c_.icount;
        c_.icount = timer_deadline_;
        continue;
      }
      if (st == cpu::Stop::budget && (end == ~0ull || c_.icount < end)) continue;  // the deadline, or the entry
    }
    return st;
  }
}

}  // namespace redoubt::sim::vmx
