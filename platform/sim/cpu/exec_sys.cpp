// System instructions and their SVM intercepts (APM vol. 2 §15.8-§15.13,
// exit codes per Appendix C).
#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "platform/sim/cpu/cpuid_table.hpp"
#include "platform/sim/cpu/exec_decl.hpp"
#include "platform/sim/cpu/exec_mode.hpp"
#include "platform/sim/svm/permission_maps.hpp"

namespace redoubt::sim::cpu::exec {

namespace s = redoubt::svm;
using namespace redoubt::x86;

namespace {
unsigned iopl(const Cpu& c) { return (c.rflags_sys >> 12) & 3; }
void need_cpl0(Cpu& c) {
  if (c.cpl != 0) c.gp(0);
}
}  // namespace

// ---- CPUID: the table in cpuid_table.cpp ----
void cpuid(Cpu& c, const Op&) {
  if (c.misc1(s::kInterceptCpuid)) return c.vmexit(s::kExitCpuid, 0, 0);
  CpuidResult r = c.vendor == Vendor::intel ? cpuid_leaf_intel(uint32_t(c.gpr[RAX])) : cpuid_leaf(uint32_t(c.gpr[RAX]));
  // SDM vol. 2A CPUID: leaf 1 ECX bit 6 = SMX (GETSEC), on an Intel part with SMX (the TXT platform).
  if (c.vendor == Vendor::intel && c.smx && uint32_t(c.gpr[RAX]) == 1) r.ecx |= 1u << 6;
  c.gpr[RAX] = r.eax;  // 32-bit results zero-extend into RAX..RDX
  c.gpr[RBX] = r.ebx;
  c.gpr[RCX] = r.ecx;
  c.gpr[RDX] = r.edx;
}

void rdtsc(Cpu& c, const Op&) {
  if (c.misc1(s::kInterceptRdtsc)) return c.vmexit(s::kExitRdtsc, 0, 0);
  if ((c.cr4 & 4) && c.cpl) c.gp(0);  // CR4.TSD
  const uint64_t t = c.guest_tsc();
  c.gpr[RAX] = uint32_t(t);
  c.gpr[RDX] = t >> 32;
}

void rdtscp(Cpu& c, const Op&) {
  if (c.misc2(s::kInterceptRdtscp)) return c.vmexit(s::kExitRdtscp, 0, 0);
  if ((c.cr4 & 4) && c.cpl) c.gp(0);
  const uint64_t t = c.guest_tsc();
  c.gpr[RAX] = uint32_t(t);
  c.gpr[RDX] = t >> 32;
  c.gpr[RCX] = uint32_t(c.tsc_aux);
}

void hlt(Cpu& c, const Op&) {
  need_cpl0(c);
  if (c.misc1(s::kInterceptHlt)) return c.vmexit(s::kExitHlt, 0, 0);
  c.halted = true;
  c.end_block();
}

void pause(Cpu& c, const Op&) {
  if (c.misc1(s::kInterceptPause)) return c.vmexit(s::kExitPause, 0, 0);
}

void invlpg(Cpu& c, const Op& o) {
  need_cpl0(c);
  const uint64_t a = ea(c, o);
  if (c.misc1(s::kInterceptInvlpg)) return c.vmexit(s::kExitInvlpg, a, 0);  // EXITINFO1 = linear address (decode assist)
  c.invlpg(a);
  c.end_block();
}

void invlpga(Cpu& c, const Op&) {
  if (c.misc1(s::kInterceptInvlpga)) return c.vmexit(s::kExitInvlpga, 0, 0);
  if (!(c.efer & kEferSvme)) c.ud();
  need_cpl0(c);
  c.tlb_flush_va(uint32_t(c.gpr[RCX]), c.gpr[RAX]);
  c.end_block();
}

// cc: 0 VMMCALL 1 VMRUN 2 VMLOAD 3 VMSAVE 4 STGI 5 CLGI 6 SKINIT
void svm_insn(Cpu& c, const Op& o) {
  static constexpr uint32_t bit[] = {s::kInterceptVmmcall, s::kInterceptVmrun, s::kInterceptVmload, s::kInterceptVmsave,
                                     s::kInterceptStgi, s::kInterceptClgi, s::kInterceptSkinit};
  static constexpr uint64_t code[] = {s::kExitVmmcall, s::kExitVmrun, s::kExitVmload, s::kExitVmsave,
                                      s::kExitStgi, s::kExitClgi, s::kExitSkinit};
  if (c.misc2(bit[o.cc])) return c.vmexit(code[o.cc], 0, 0);
  if (o.cc == 0) c.ud();  // VMMCALL not intercepted: #UD (APM vol. 3 "VMMCALL")
  if (!(c.efer & kEferSvme)) c.ud();
  need_cpl0(c);
  if (o.cc == 4 || o.cc == 5) {  // STGI / CLGI (APM vol. 3)
    c.gif = o.cc == 4;
    if (o.cc == 4) c.end_block();  // a pending interrupt may be taken now
    return;
  }
  // VMRUN/VMLOAD/VMSAVE by host code: rAX must be 4 KiB aligned (#GP, APM vol. 3 "VMRUN").
  if (c.host_svm && !c.guest && o.cc >= 1 && o.cc <= 3) {
    if (c.gpr[RAX] & 0xFFF) c.gp(0);
    const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
    if (o.cc == 1) c.host_svm->vmrun(c);
    else if (o.cc == 2) c.host_svm->vmload(c);
    else c.host_svm->vmsave(c);
    c.end_block();
    return;
  }
  c.ud();  // VMRUN/VMLOAD/VMSAVE inside a guest (nested SVM) and SKINIT: not modelled here
}

// The VMX instructions (Intel SDM vol. 3C ch. 31): #UD on the AMD model or without a
// VMX model, as before they existed; otherwise the operands go to platform/sim/vmx.
// cc: VmxInsn; o.cc2-style details: kind[0] memory -> o.w2 = 1.
void vmx_insn(Cpu& c, const Op& o) {
  if (c.vendor != Vendor::intel || !c.host_vmx) c.ud();
  VmxOperands v;
  v.insn = VmxInsn(o.cc);
  v.mem = o.w2 & 1;
  if (v.mem) v.addr = ea(c, o);
  v.rm_reg = o.dst >> 3;
  v.reg = o.src >> 3;
  v.len = o.len;
  const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
  c.host_vmx->instruction(c, v);
  c.end_block();
}

// cc bit 0: IN, bit 1: string, bit 2: port in DX. o.w: size; o.w2: rep.
void io(Cpu& c, const Op& o) {
  const bool in = o.cc & 1, str = o.cc & 2;
  const uint16_t port = (o.cc & 4) ? uint16_t(c.gpr[RDX]) : uint16_t(o.imm);
  // I/O is at most 32 bits: REX.W does not make IN/OUT/INS/OUTS 64-bit (APM vol. 3 IN, INS: "64-bit
  // operand size is not supported"); o.w = 8 from REX.W shifted 1u by 64 below (fuzz_x86_decode, issue 16).
  const unsigned size = o.w > 4 ? 4 : o.w;
  if (c.cpl > iopl(c)) c.gp(0);  // no TSS I/O bitmap in the model: CPL > IOPL faults
  if (c.misc1(s::kInterceptIoioProt) && svm::io_intercepted(c.ctl.iopm, port, size)) {
    namespace io = s::ioio;
    uint64_t info = (uint64_t(port) << io::kPortShift) | (in ? io::kTypeIn : 0) | (str ? io::kStr : 0) |
                    (o.w2 ? io::kRep : 0) | (size == 1 ? io::kSz8 : size == 2 ? io::kSz16 : io::kSz32) |
                    (o.asz32 ? io::kA32 : io::kA64);
    if (str) info |= uint64_t(in ? 0 : o.seg) << io::kSegShift;  // INS: ES; OUTS: DS or override
    return c.vmexit(s::kExitIoio, info, c.gpr[kRip]);  // EXITINFO2 = next RIP (§15.10.2)
  }
  auto pin = [&]() -> uint32_t {
    return c.ports ? c.ports->in(port, size) : uint32_t(size == 4 ? ~0u : (1u << (8 * size)) - 1);
  };
  auto pout = [&](uint32_t v) {
    if (c.ports) c.ports->out(port, size, v);
  };
  if (!str) {
    if (in) wreg_w(c, reg_off(RAX), size, pin());
    else pout(uint32_t(trunc(c.gpr[RAX], size)));
    return;
  }
  const int64_t step = (c.rflags_sys & kDF) ? -int64_t(size) : int64_t(size);
  auto off = [&](uint64_t v) { return o.asz32 ? uint64_t(uint32_t(v)) : v; };  // 32-bit rSI/rDI/rCX wrap
  // Interruptible between iterations, as REP MOVS/STOS/... (a guest's REP OUTSD with ECX = 2^32 - 1
  // ran 4 G port writes in one step: fuzz_x86_decode, issue 16).
  for (uint64_t iter = 0;; ++iter) {
    if (o.w2 && rep_ends_here(c, iter, o.asz32)) return;
    if (in) {
      const uint64_t a = c.seg_base[kEs] + off(c.gpr[RDI]);
      c.translate(a, kWrite);  // fault before the port read has side effects
      wmem_w(c, a, size, pin());
      c.gpr[RDI] = off(c.gpr[RDI] + step);
    } else {
      pout(uint32_t(rmem_w(c, c.seg_base[o.seg] + off(c.gpr[RSI]), size)));
      c.gpr[RSI] = off(c.gpr[RSI] + step);
    }
    if (!o.w2) return;
    c.gpr[RCX] = off(c.gpr[RCX] - 1);
  }
}

// ---- MSRs ----
void rdmsr(Cpu& c, const Op&) {
  const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
  need_cpl0(c);
  const uint32_t msr = uint32_t(c.gpr[RCX]);
  if (c.misc1(s::kInterceptMsrProt) && svm::msr_intercepted(c.ctl.msrpm, msr, false))
    return c.vmexit(s::kExitMsr, 0, 0);
  uint64_t v;
  if (c.vendor == Vendor::intel) {  // IA32_FEATURE_CONTROL and IA32_VMX_* (platform/sim/vmx); no AMD SVM MSRs
    if (c.host_vmx && c.host_vmx->rdmsr(c, msr, v)) {
      c.gpr[RAX] = uint32_t(v);
      c.gpr[RDX] = v >> 32;
      return;
    }
    if (msr == s::kMsrVmCr || msr == s::kMsrVmHsavePa) c.gp(0);
  }
  switch (msr) {
    case 0x10: v = c.guest_tsc(); break;                 // TSC
    case 0x1B: v = 0xFEE00900; break;                    // APIC_BASE (BSP, enabled)
    case 0x174: v = c.sysenter_cs; break;
    case 0x175: v = c.sysenter_esp; break;
    case 0x176: v = c.sysenter_eip; break;
    case 0x277: v = c.pat; break;
    case 0xC0000080: v = c.efer; break;
    case 0xC0000081: v = c.star; break;
    case 0xC0000082: v = c.lstar; break;
    case 0xC0000083: v = c.cstar; break;
    case 0xC0000084: v = c.sfmask; break;
    case 0xC0000100: v = c.fs.base; break;
    case 0xC0000101: v = c.gs.base; break;
    case 0xC0000102: v = c.kernel_gs_base; break;
    case 0xC0000103: v = c.tsc_aux; break;
    case s::kMsrVmCr: v = 0; break;
    case s::kMsrVmHsavePa: v = c.vm_hsave_pa; break;
    default: c.gp(0);
  }
  c.gpr[RAX] = uint32_t(v);
  c.gpr[RDX] = v >> 32;
}

void wrmsr(Cpu& c, const Op&) {
  const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
  need_cpl0(c);
  const uint32_t msr = uint32_t(c.gpr[RCX]);
  if (c.misc1(s::kInterceptMsrProt) && svm::msr_intercepted(c.ctl.msrpm, msr, true))
    return c.vmexit(s::kExitMsr, 1, 0);
  const uint64_t v = (c.gpr[RDX] << 32) | uint32_t(c.gpr[RAX]);
  if (c.vendor == Vendor::intel) {
    if (c.host_vmx && c.host_vmx->wrmsr(c, msr, v)) return;
    if (msr == s::kMsrVmHsavePa) c.gp(0);
    if (msr == 0xC0000080 && (v & kEferSvme)) c.gp(0);  // no SVM on the Intel model
  }
  switch (msr) {
    case 0x174: c.sysenter_cs = v; break;
    case 0x175: c.sysenter_esp = v; break;
    case 0x176: c.sysenter_eip = v; break;
    case 0x277: c.pat = v; break;
    case 0xC0000080: {  // EFER (APM vol. 2 §3.1.7): only the implemented bits (LME LMA NXE SVME) may be set
      if (v & ~kEferImplemented) c.gp(0);
      if (((v ^ c.efer) & kEferLme) && (c.cr0 & kCr0Pg)) c.gp(0);  // LME changes only with paging off (§14.6.1)
      c.efer = (v & ~kEferLma) | (c.efer & kEferLma);            // LMA is read-only
      c.flush_tlb_all_current();
      c.update_mode();
      c.end_block();
      break;
    }
    case 0xC0000081: c.star = v; break;
    case 0xC0000082: c.lstar = v; break;
    case 0xC0000083: c.cstar = v; break;
    case 0xC0000084: c.sfmask = v; break;
    case 0xC0000100: c.set_fs_base(v); break;
    case 0xC0000101: c.set_gs_base(v); break;
    case 0xC0000102: c.kernel_gs_base = v; break;
    case 0xC0000103: c.tsc_aux = uint32_t(v); break;
    case s::kMsrVmHsavePa:
      if (v & 0xFFF) c.gp(0);
      c.vm_hsave_pa = v;
      break;
    default: c.gp(0);
  }
}

// ---- control and debug registers: cc = n | 0x10 for writes; GPR in src/dst ----
void mov_cr(Cpu& c, const Op& o) {
  const Cpu::NoJump nj(c);  // the model's frames may own objects: faults inside it are thrown
  need_cpl0(c);
  const unsigned n = o.cc & 0xF;
  const bool write = o.cc & 0x10;
  const unsigned gpr = (write ? o.src : o.dst) >> 3;
  if (c.guest && (c.ctl.icpt_cr >> (n + (write ? 16 : 0)) & 1))
    return c.vmexit((write ? s::kExitCr0Write : s::kExitCr0Read) + n, (1ull << 63) | gpr, 0);  // decode assist
  if (!write) {
    uint64_t v = 0;
    switch (n) {
      case 0: v = c.cr0; break;
      case 2: v = c.cr2; break;
      case 3: v = c.cr3; break;
      case 4: v = c.cr4; break;
      case 8: v = (c.guest && c.ctl.v_intr_masking) ? c.ctl.v_tpr : c.cr8; break;  // V_TPR (§15.21.4)
      default: c.ud();
    }
    // Intel VMX guest: CR3/CR8-store exiting, CR0/CR4 read shadows (Intel SDM vol. 3C §26.1.3, §26.3).
    if (c.guest && c.vendor == Vendor::intel && c.host_vmx && c.host_vmx->guest_mov_cr(c, n, false, gpr, v)) return;
    wreg_w(c, o.dst, o.w, v);  // 32-bit code reads the low 32 bits
    return;
  }
  uint64_t v = trunc(c.gpr[gpr], o.w);
  // Intel VMX guest: CR0/CR4 guest/host masks, CR3-load and CR8-load exiting (§26.1.3, §26.3).
  if (c.guest && c.vendor == Vendor::intel && c.host_vmx && c.host_vmx->guest_mov_cr(c, n, true, gpr, v)) return;
  switch (n) {
    case 0: {
      if ((v >> 32) || ((v & kCr0Pg) && !(v & kCr0Pe)) || ((v & kCr0Nw) && !(v & kCr0Cd))) c.gp(0);
      const bool pg_on = !(c.cr0 & kCr0Pg) && (v & kCr0Pg), pg_off = (c.cr0 & kCr0Pg) && !(v & kCr0Pg);
      uint64_t efer = c.efer;
      if (pg_on && (efer & kEferLme)) {
        if (!(c.cr4 & kCr4Pae)) c.gp(0);  // long mode needs PAE (APM vol. 2 §14.6.1)
        efer |= kEferLma;                 // paging on with LME: long mode is active (compatibility mode)
      }
      if (pg_off && (efer & kEferLma)) {
        if (c.mode() == Mode::long64) c.gp(0);  // leave long mode only from compatibility mode (§14.7)
        efer &= ~kEferLma;
      }
      // VMX operation: CR0 must keep IA32_VMX_CR0_FIXED0/1 (Intel SDM vol. 3C §24.8).
      if (c.vendor == Vendor::intel && c.host_vmx && !c.host_vmx->cr_write_allowed(c, 0, v)) c.gp(0);
      if (!(v & kCr0Pe)) throw CpuError("MOV CR0 clearing PE (real mode): not modelled");
      if ((v & kCr0Pg) && !(efer & kEferLma))
        throw CpuError("MOV CR0 enabling legacy paging (CR0.PG = 1, EFER.LME = 0): not modelled");
      const uint64_t changed = c.cr0 ^ (v | kCr0Et);
      c.cr0 = v | kCr0Et;
      c.efer = efer;
      // MOV CR0 must invalidate the TLB only when it changes PG (Intel SDM vol. 3A §4.10.4.1); WP too, as the soft
      // TLB keeps the result of the write check. The EM/TS toggles of hv.bin's VMRUN stub
      // (platform/x86/vmrun.S, twice per world switch) keep every TLB entry.
      if (changed & (kCr0Pg | kCr0Wp | kCr0Pe)) c.flush_tlb_all_current();
      c.update_mode();
      break;
    }
    case 2: c.cr2 = v; break;
    case 3:
      if (v >> 52) c.gp(0);
      c.cr3 = v;
      c.flush_tlb_nonglobal();  // MOV CR3 flushes non-global translations (APM vol. 2 §5.5.2)
      break;
    case 4:
      // Intel: CR4.VMXE (bit 13) exists (Intel SDM vol. 3C §24.7); in VMX operation the fixed bits hold (§24.8).
      // With SMX (the TXT launch, platform/sim/txt), CR4.SMXE (bit 14, Intel SDM vol. 3A §2.5) too.
      if (v & ~((c.vendor == Vendor::intel ? 0x3F27FFull : 0x3F07FFull) | (c.smx ? 0x4000ull : 0))) c.gp(0);
      if (c.vendor == Vendor::intel && c.host_vmx && !c.host_vmx->cr_write_allowed(c, 4, v)) c.gp(0);
      if ((c.efer & kEferLma) && !(v & kCr4Pae)) c.gp(0);
      c.cr4 = v;
      c.flush_tlb_all_current();
      break;
    case 8:
      if (v >> 4) c.gp(0);
      // APM vol. 2 §15.21.4: with V_INTR_MASKING a guest's CR8 writes go to V_TPR only.
      if (c.guest && c.ctl.v_intr_masking) c.ctl.v_tpr = uint8_t(v);
      else c.cr8 = v;
      break;
    default: c.ud();
  }
  c.end_block();
}

void mov_dr(Cpu& c, const Op& o) {
  need_cpl0(c);
  const unsigned n = o.cc & 0xF;
  const bool write = o.cc & 0x10;
  const unsigned gpr = (write ? o.src : o.dst) >> 3;
  if (c.guest && (c.ctl.icpt_dr >> (n + (write ? 16 : 0)) & 1))
    return c.vmexit((write ? s::kExitDr0Write : s::kExitDr0Read) + n, (1ull << 63) | gpr, 0);
  uint64_t* r = n < 4 ? &c.dr[n] : (n == 6 || n == 4) ? &c.dr6 : (n == 7 || n == 5) ? &c.dr7 : nullptr;
  if (!r) c.ud();
  if (!write) {
    c.gpr[gpr] = *r;
    return;
  }
  if ((n == 6 || n == 7) && (c.gpr[gpr] >> 32)) c.gp(0);
  *r = c.gpr[gpr];
}

// cc: 0 LGDT 1 LIDT 2 SGDT 3 SIDT (m16&64)
void desc_table(Cpu& c, const Op& o) {
  static constexpr uint32_t bit[] = {s::kInterceptGdtrWrite, s::kInterceptIdtrWrite, s::kInterceptGdtrRead,
                                     s::kInterceptIdtrRead};
  static constexpr uint64_t code[] = {s::kExitGdtrWrite, s::kExitIdtrWrite, s::kExitGdtrRead, s::kExitIdtrRead};
  if (o.cc < 2) need_cpl0(c);
  if (c.misc1(bit[o.cc])) return c.vmexit(code[o.cc], 0, 0);
  const uint64_t a = ea(c, o);
  Segment& t = (o.cc & 1) ? c.idtr : c.gdtr;
  // 64-bit mode: m16&64. Otherwise m16&32; with a 16-bit operand size LGDT/LIDT take a
  // 24-bit base (APM vol. 3 "LGDT"). SGDT/SIDT outside 64-bit mode store 32 bits of base.
  const bool m64 = c.mode() == Mode::long64;
  if (o.cc < 2) {
    const uint16_t limit = c.rd<uint16_t>(a);
    uint64_t base = m64 ? c.rd<uint64_t>(a + 2) : c.rd<uint32_t>(a + 2);
    if (!m64 && o.w2 == 2) base &= 0xFFFFFF;
    t.limit = limit;
    t.base = base;
  } else {
    c.wr<uint16_t>(a, uint16_t(t.limit));
    if (m64) c.wr<uint64_t>(a + 2, t.base);
    else c.wr<uint32_t>(a + 2, uint32_t(t.base));
  }
}

// LTR r/m16 (APM vol. 3 "LTR"): a 16-byte available 64-bit TSS descriptor, marked busy.
void ltr(Cpu& c, const Op& o) {
  need_cpl0(c);
  if (c.misc1(s::kInterceptTrWrite)) return c.vmexit(s::kExitTrWrite, 0, 0);
  const uint16_t sel = uint16_t((o.cc & 1) ? c.rd<uint16_t>(ea(c, o)) : c.gpr[o.src >> 3]);
  if ((sel & 0xFFFC) == 0) c.gp(0);
  Segment d = c.read_descriptor(sel);
  if ((d.attrib & 0x1F) != 0x09) c.gp(sel & 0xFFFC);
  if (!(d.attrib & 0x80)) c.fault(11, sel & 0xFFFC);
  const uint64_t da = c.gdtr.base + (sel & 0xFFF8u);
  c.implicit_sup = true;
  // Long mode: a 16-byte TSS descriptor (base bits 63:32 in bytes 8-11); legacy: 8 bytes.
  const uint64_t hi = (c.efer & kEferLma) ? c.rd<uint32_t>(da + 8) : 0;
  const uint64_t lo = c.rd<uint64_t>(da);
  c.wr<uint64_t>(da, lo | (2ull << 40));  // busy
  c.implicit_sup = false;
  d.base |= hi << 32;
  d.attrib |= 2;
  d.selector = sel;
  c.tr = d;
}

// STR / SLDT (APM vol. 3): the TR / LDTR selector; a register destination gets it
// zero-extended to the operand size, memory 16 bits. cc bit 0: SLDT, bit 1: memory.
void store_sys_selector(Cpu& c, const Op& o) {
  const bool ldt = o.cc & 1;
  if (c.misc1(ldt ? s::kInterceptLdtrRead : s::kInterceptTrRead))
    return c.vmexit(ldt ? s::kExitLdtrRead : s::kExitTrRead, 0, 0);
  const uint16_t v = (ldt ? c.ldtr : c.tr).selector;
  if (o.cc & 2) c.wr<uint16_t>(ea(c, o), v);
  else wreg_w(c, o.dst, o.w, v);
}

void cli(Cpu& c, const Op&) {
  if (c.cpl > iopl(c)) c.gp(0);
  c.rflags_sys &= ~kIF;
}

void sti(Cpu& c, const Op&) {
  if (c.cpl > iopl(c)) c.gp(0);
  if (!(c.rflags_sys & kIF)) c.shadow_end = c.icount + 1;  // interrupt shadow (APM vol. 3 "STI")
  c.rflags_sys |= kIF;
  c.end_block();
}

// PUSHF/POPF with the operand size in o.w (PUSHFQ 8, PUSHFD 4, 66h PUSHF 2).
void pushf(Cpu& c, const Op& o) {
  if (c.misc1(s::kInterceptPushf)) return c.vmexit(s::kExitPushf, 0, 0);
  StackCursor st(c);
  st.push(trunc(c.rflags() & ~(kRflagsVm | kRflagsRf), o.w), o.w);  // VM and RF read as 0
  st.commit();
}

void popf(Cpu& c, const Op& o) {
  if (c.misc1(s::kInterceptPopf)) return c.vmexit(s::kExitPopf, 0, 0);
  StackCursor st(c);
  const uint64_t v = st.pop(o.w) | (o.w == 2 ? c.rflags() & ~0xFFFFull : 0);  // POPF (16) keeps bits 63:16
  st.commit();
  uint64_t keep = 0x1A0000ull;  // VM, VIF, VIP unchanged; RF cleared
  if (c.cpl > 0) keep |= 0x3000;  // IOPL
  if (c.cpl > iopl(c)) keep |= kIF;
  const uint64_t cur = c.rflags();
  c.set_rflags(((v & 0x3F7FD5ull) & ~keep) | (cur & keep));
  c.end_block();
}

void intn(Cpu& c, const Op& o) {
  if (c.misc1(s::kInterceptIntn)) return c.vmexit(s::kExitSwint, o.imm & 0xFF, 0);  // EXITINFO1 = vector (decode assist)
  c.take_event(Event{uint8_t(o.imm), 4, false, 0});
  c.end_block();
}

void int3(Cpu& c, const Op&) {
  if (c.exc_intercepted(3)) return c.vmexit(s::kExitExcp0 + 3, 0, 0);
  c.take_event(Event{3, 4, false, 0});
  c.end_block();
}

void swapgs(Cpu& c, const Op&) {
  need_cpl0(c);
  const uint64_t t = c.gs.base;
  c.set_gs_base(c.kernel_gs_base);
  c.kernel_gs_base = t;
}

// MOV Sreg, r/m16 (cc = segment number ES CS SS DS FS GS; bit 3: memory source).
void mov_to_sreg(Cpu& c, const Op& o) {
  const unsigned n = o.cc & 7;
  if (n == kCs || n > kGs) c.ud();
  const uint16_t sel = uint16_t((o.cc & 8) ? c.rd<uint16_t>(ea(c, o)) : c.gpr[o.src >> 3]);
  Segment* segs[] = {&c.es, &c.cs, &c.ss, &c.ds, &c.fs, &c.gs};
  *segs[n] = data_segment(c, n, sel);  // the descriptor checks of MOV Sreg (#GP/#NP/#SS(sel))
  c.update_mode();                      // segment bases
  if (n == kSs) c.shadow_end = c.icount + 1;  // MOV SS shadow
  c.end_block();
}

void mov_from_sreg(Cpu& c, const Op& o) {
  const Segment* segs[] = {&c.es, &c.cs, &c.ss, &c.ds, &c.fs, &c.gs};
  const uint16_t v = segs[o.cc & 7]->selector;
  if (o.cc & 8) c.wr<uint16_t>(ea(c, o), v);
  else wreg_w(c, o.dst, o.w, v);
}

void cache_insn(Cpu& c, const Op& o) {
  need_cpl0(c);
  if (o.cc == 0 && c.misc2(s::kInterceptWbinvd)) return c.vmexit(s::kExitWbinvd, 0, 0);
  if (o.cc == 1 && c.misc1(s::kInterceptInvd)) return c.vmexit(s::kExitInvd, 0, 0);
}

}  // namespace redoubt::sim::cpu::exec
