#include "hypervisor/arch/svm/svm_vcpu.hpp"

#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/x86/paging.hpp"
#include "arch/x86/sse.hpp"

namespace redoubt::svm {

using hv::ExitEvent;
using hv::ExitKind;

Status build_iopm(hv::PageAllocator& alloc, const hv::IoGrant* grants, uint32_t n, uint64_t& pa) {
  REDOUBT_TRY(alloc.alloc(kIopmSize / 4096, 1, pa, "IOPM"));
  uint8_t* m = alloc.map(pa, kIopmSize);
  std::memset(m, 0xFF, kIopmSize);
  for (uint32_t g = 0; g < n; ++g)
    for (uint32_t port = grants[g].base; port < uint32_t(grants[g].base) + grants[g].count && port < 0x10000; ++port)
      m[port >> 3] &= uint8_t(~(1u << (port & 7)));
  return Status::ok();
}

bool iopm_intercepts(const uint8_t* iopm, uint16_t port) { return iopm[port >> 3] >> (port & 7) & 1; }

bool msrpm_position(uint32_t msr, uint32_t& byte, unsigned& bit) {
  uint32_t base;
  if (msr <= 0x1FFF)
    base = 0x000;
  else if (msr >= 0xC0000000 && msr <= 0xC0001FFF)
    base = 0x800;
  else if (msr >= 0xC0010000 && msr <= 0xC0011FFF)
    base = 0x1000;
  else
    return false;
  uint32_t idx = (msr & 0x1FFF) * 2;
  byte = base + idx / 8;
  bit = idx % 8;  // read intercept at bit, write intercept at bit + 1
  return true;
}

Status build_msrpm(hv::PageAllocator& alloc, uint64_t& pa) {
  REDOUBT_TRY(alloc.alloc(kMsrpmSize / 4096, 1, pa, "MSRPM"));
  uint8_t* m = alloc.map(pa, kMsrpmSize);
  std::memset(m, 0xFF, kMsrpmSize);  // MSRs outside the three vectors always exit
  static constexpr uint32_t kPassThrough[] = {kMsrFsBase, kMsrGsBase, kMsrKernelGsBase};
  for (uint32_t msr : kPassThrough) {
    uint32_t byte = 0;
    unsigned bit = 0;
    msrpm_position(msr, byte, bit);
    m[byte] &= uint8_t(~(3u << bit));
  }
  return Status::ok();
}

Status SvmVcpu::create(hal::Platform& p, hv::PageAllocator& alloc, bool switch_state) {
  p_ = &p;
  switch_state_ = switch_state;
  REDOUBT_TRY(alloc.alloc_page(vmcb_pa_, "VMCB"));
  vmcb_ = reinterpret_cast<Vmcb*>(alloc.map(vmcb_pa_, sizeof(Vmcb)));
  uint64_t ext_pa = 0;
  REDOUBT_TRY(alloc.alloc_page(ext_pa, "guest DR0-3 and x87/SSE state"));
  ext_ = reinterpret_cast<hal::GuestExtState*>(alloc.map(ext_pa, sizeof(hal::GuestExtState)));
  return Status::ok();
}

namespace {

VmcbSegment seg(uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base) { return {sel, attrib, limit, base}; }

}  // namespace

Status SvmVcpu::setup(const hv::VcpuEntry& e) {
  Vmcb& v = *vmcb_;
  std::memset(&v, 0, sizeof v);
  VmcbControl& c = v.control;
  c.intercept_exc = 0;  // guests handle their own exceptions
  c.intercept_misc1 = kInterceptIntr | kInterceptNmi | kInterceptSmi | kInterceptInit | kInterceptCpuid |
                      kInterceptHlt | kInterceptInvlpga | kInterceptIoioProt | kInterceptMsrProt |
                      kInterceptShutdown | kInterceptTaskSwitch | kInterceptInvd;
  // VMRUN must be intercepted (APM vol. 2 §15.5.1); nested SVM is not offered.
  c.intercept_misc2 = kInterceptVmrun | kInterceptVmmcall | kInterceptVmload | kInterceptVmsave | kInterceptStgi |
                      kInterceptClgi | kInterceptSkinit | kInterceptXsetbv;
  c.iopm_base_pa = e.io_map_pa;
  c.msrpm_base_pa = e.msr_map_pa;
  c.guest_asid = e.asid;
  c.tlb_control = kTlbFlushAsid;
  // V_INTR_MASKING (APM vol. 2 §15.21.1, §15.21.4): the guest's IF masks only virtual
  // interrupts, and its CR8 is V_TPR (in this VMCB, 0 at entry), never the physical TPR.
  c.vintr = switch_state_ ? 1ull << 24 : 0;
  c.np_enable = kNpEnable;
  c.n_cr3 = e.npt_root;

  VmcbSave& s = v.save;
  // 64-bit flat segments (docs/guests.md): CS = 0x08 L=1, data = 0x10.
  const uint16_t code = 0x0B | 0x10 | 0x80 | 0x200;          // type 0xB, S, P, L
  const uint16_t data = 0x03 | 0x10 | 0x80 | 0x400 | 0x800;  // type 3, S, P, D/B, G
  s.cs = seg(0x08, code, 0xFFFFFFFF, 0);
  s.ds = s.es = s.ss = s.fs = s.gs = seg(0x10, data, 0xFFFFFFFF, 0);
  s.gdtr = seg(0, 0, e.gdt_limit, e.gdt_base);
  s.idtr = seg(0, 0, 0, 0);
  s.ldtr = seg(0, 0x82, 0, 0);
  s.tr = seg(0, 0x8B, 0x67, 0);  // a busy 64-bit TSS (never used: no privilege changes)
  s.cpl = 0;
  s.efer = x86::kEferLme | x86::kEferLma | x86::kEferNxe | x86::kEferSce | x86::kEferSvme;
  s.cr0 = x86::kCr0Pe | (1ull << 1) | (1ull << 4) | (1ull << 5) | x86::kCr0Wp | x86::kCr0Pg;  // PE MP ET NE WP PG
  s.cr3 = e.cr3;
  s.cr4 = x86::kCr4Pae;
  s.dr6 = 0xFFFF0FF0;
  s.dr7 = 0x400;
  s.rflags = 0x2;
  s.rip = e.rip;
  s.rsp = e.rsp;
  s.g_pat = 0x0007040600070406ull;
  // DR0-3 = 0 and the x87/SSE state after FNINIT with MXCSR = 1F80h: the guest's own
  // initial values, which the world switch keeps for it (docs/hypervisor.md, "What is switched").
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
  flush_next_ = true;
  return Status::ok();
}

void SvmVcpu::enable_shadow(uint64_t shadow_root) {
  VmcbControl& c = vmcb_->control;
  c.np_enable = 0;
  c.n_cr3 = 0;
  c.intercept_cr = (1u << 3) | (1u << (16 + 0)) | (1u << (16 + 3)) | (1u << (16 + 4));  // read CR3; write CR0, CR3, CR4
  c.intercept_exc = 1u << 14;                                                        // #PF
  c.intercept_misc1 |= kInterceptInvlpg;
  vmcb_->save.cr3 = shadow_root;
  flush_next_ = true;
}

bool SvmVcpu::interruptible() {
  return (vmcb_->save.rflags & (1ull << 9)) && !(vmcb_->control.interrupt_shadow & 1);
}

void SvmVcpu::inject_exception(uint8_t vector, bool has_error, uint32_t error, bool set_cr2, uint64_t cr2) {
  using namespace event_inj;
  uint64_t ev = vector | (kTypeException << kTypeShift) | kValid;
  if (has_error) ev |= kErrorValid | (uint64_t(error) << kErrorCodeShift);
  vmcb_->control.eventinj = ev;
  if (set_cr2) vmcb_->save.cr2 = cr2;
}

void SvmVcpu::inject_interrupt(uint8_t vector) {
  using namespace event_inj;
  vmcb_->control.eventinj = vector | (kTypeIntr << kTypeShift) | kValid;
}

void SvmVcpu::skip(const ExitEvent& e, uint64_t insn_len) {
  // nRIP (APM vol. 2 §15.7.1) when the CPU saved it, else the known length.
  vmcb_->save.rip = e.next_rip ? e.next_rip : vmcb_->save.rip + insn_len;
  vmcb_->control.interrupt_shadow &= ~1ull;
}

const char* SvmVcpu::exit_name(uint64_t raw_code) const { return exit_code_name(raw_code); }

void SvmVcpu::run(ExitEvent& out) {
  Vmcb& v = *vmcb_;
  v.control.tlb_control = flush_next_ ? kTlbFlushAsid : kTlbDoNothing;
  flush_next_ = false;
  v.control.exitcode = 0;
  v.control.next_rip = 0;
  v.save.rax = gprs_.rax;
  v.save.rsp = gprs_.rsp;
  p_->svm().vmrun(vmcb_pa_, gprs_, switch_state_ ? ext_ : nullptr);
  gprs_.rax = v.save.rax;
  gprs_.rsp = v.save.rsp;

  out = ExitEvent{};
  const uint64_t code = v.control.exitcode;
  out.raw_code = code;
  out.info1 = v.control.exitinfo1;
  out.info2 = v.control.exitinfo2;
  out.next_rip = v.control.next_rip;
  switch (code) {
    case kExitCpuid: out.kind = ExitKind::cpuid; break;
    case kExitHlt: out.kind = ExitKind::hlt; break;
    case kExitVmmcall: out.kind = ExitKind::hypercall; break;
    case kExitIntr: out.kind = ExitKind::intr; break;
    case kExitShutdown: out.kind = ExitKind::shutdown; break;
    case kExitInvalid: out.kind = ExitKind::invalid; break;
    case kExitMsr:
      out.kind = ExitKind::msr;
      out.msr_write = out.info1 & 1;
      break;
    case kExitIoio: {
      out.kind = ExitKind::io;
      out.port = uint16_t(out.info1 >> ioio::kPortShift);
      out.io_in = out.info1 & ioio::kTypeIn;
      out.io_string = out.info1 & ioio::kStr;
      out.io_rep = out.info1 & ioio::kRep;
      out.io_size = (out.info1 & ioio::kSz32) ? 4 : (out.info1 & ioio::kSz16) ? 2 : 1;
      out.next_rip = out.info2;  // §15.10.2: EXITINFO2 = rIP of the next instruction
      break;
    }
    case kExitNpf:
      out.kind = ExitKind::npf;
      out.gpa = out.info2;
      out.npf_present = out.info1 & npf::kPresent;
      out.npf_write = out.info1 & npf::kWrite;
      out.npf_fetch = out.info1 & npf::kFetch;
      out.npf_in_walk = out.info1 & npf::kPageWalk;
      break;
    default:
      if (code >= kExitExcp0 && code < kExitExcp0 + 32) {
        out.kind = ExitKind::exception;
        out.vector = uint8_t(code - kExitExcp0);
      } else {
        out.kind = ExitKind::other;
      }
  }
}

}  // namespace redoubt::svm
