// Shadow paging, the per-VM side (docs/hypervisor.md "Shadow paging"): the intercepts
// SvmVcpu::enable_shadow turns on, handled here. The pager itself is shadow_paging.cpp.
#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "arch/x86/paging.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/vm.hpp"

namespace redoubt::hv {

using namespace x86;

namespace {
// A guest that fills the whole pool this many times has built a page-table bomb; it ends.
constexpr uint64_t kShadowMaxRecycles = 256;
constexpr uint64_t kCr0Et = 1ull << 4, kCr0Cd = 1ull << 30, kCr0Nw = 1ull << 29;
constexpr uint64_t kCr4Pse = 1ull << 4, kCr4Smep = 1ull << 20, kCr4Smap = 1ull << 21;
constexpr uint64_t kCr4Valid = 0x3F07FF;  // the CR4 bits the CPU implements (as VMRUN checks them)
}  // namespace

Status Vm::enable_shadow() {
  REDOUBT_TRY(shadow_.create(hv_->alloc, npt_, mem_, vcpu_->cr3()));
  shadow_.set_no_resync(hv_->test_flags & kHvTestShadowNoResync);
  svm_.enable_shadow(shadow_.root());
  shadow_on_ = true;
  rec_->paging = 1;
  rec_->shadow_pool_pages = ShadowPager::kPoolPages;
  return Status::ok();
}

void Vm::finish_shadow(bool scrub) {
  if (!shadow_on_) return;
  const ShadowStats& s = shadow_.stats();
  rec_->shadow_fills = s.fills;
  rec_->shadow_guest_faults = s.guest_faults;
  rec_->shadow_flushes = s.flushes;
  rec_->shadow_invlpgs = s.invlpgs;
  rec_->shadow_walk_refs = s.walk_refs;
  rec_->shadow_p2m_refs = s.p2m_refs;
  rec_->shadow_recycles = s.recycles;
  rec_->shadow_dirty_upgrades = s.dirty_upgrades;
  rec_->shadow_pages_peak = s.pages_peak;
  if (scrub) shadow_.scrub();
}

void Vm::shadow_efer_changed(uint64_t old_efer, uint64_t new_efer) {
  if ((old_efer ^ new_efer) & kEferNxe) {  // NX bits change meaning (APM vol. 2 §5.6.1)
    shadow_.flush();
    svm_.flush_tlb();
  }
}

Vm::After Vm::shadow_page_fault(const ExitEvent& e) {
  const uint64_t gva = e.info2;  // EXITINFO2: the faulting address (APM vol. 2 §15.12)
  const uint32_t hw = uint32_t(e.info1);
  const uint64_t intinfo = svm_.exitintinfo();  // an event whose delivery faulted (§15.7.2)
  ShadowPager::Access a{(hw & kPfWrite) != 0, (hw & kPfUser) != 0, (hw & kPfFetch) != 0,
                        (vcpu_->cr0() & kCr0Wp) != 0, (vcpu_->efer() & kEferNxe) != 0};
  uint32_t error = 0;
  uint64_t gpa = 0;
  const ShadowPager::Fill f = shadow_.fault(gva, a, error, gpa);
  if (shadow_.stats().recycles > kShadowMaxRecycles) {
    kill("shadow paging: page-table bomb: the %llu-page shadow pool was filled %llu times",
         (unsigned long long)ShadowPager::kPoolPages, (unsigned long long)shadow_.stats().recycles);
    return After::stop;
  }
  switch (f) {
    case ShadowPager::Fill::filled:
      if (intinfo & svm::event_inj::kValid) svm_.reinject(intinfo);  // the delivery starts again
      return After::resume;
    case ShadowPager::Fill::guest_fault: {
      // The guest's own #PF. Raised while delivering an exception it is a double fault
      // (APM vol. 2 §8.2.9: #PF during #PF or a contributory exception).
      const uint8_t v = uint8_t(intinfo & svm::event_inj::kVectorMask);
      const bool exc = (intinfo & svm::event_inj::kValid) &&
                       ((intinfo >> svm::event_inj::kTypeShift) & 7) == svm::event_inj::kTypeException;
      if (exc && (v == 14 || v == 0 || (v >= 10 && v <= 13)))
        vcpu_->inject_exception(8, true, 0, false, 0);
      else
        vcpu_->inject_exception(14, true, error, true, gva);
      return After::resume;
    }
    case ShadowPager::Fill::violation:
    case ShadowPager::Fill::table_outside: {
      // Outside the guest's memory map: what nested paging reports as #NPF, handled the same way.
      ExitEvent n = e;
      n.kind = ExitKind::npf;
      n.gpa = gpa;
      n.npf_write = a.write;
      n.npf_fetch = a.fetch;
      n.npf_in_walk = f == ShadowPager::Fill::table_outside;
      n.info1 = svm::npf::kUser | (a.write ? svm::npf::kWrite : 0) | (a.fetch ? svm::npf::kFetch : 0) |
                (n.npf_in_walk ? svm::npf::kPageWalk : svm::npf::kFinalAddress);
      const After r = handle_npf(n);
      if (r == After::resume && vcpu_->event_pending()) svm_.vmcb()->save.cr2 = gva;  // the #PF names the virtual address
      return r;
    }
    case ShadowPager::Fill::no_memory: break;
  }
  kill("shadow paging: no room for one translation of 0x%llx", (unsigned long long)gva);
  return After::stop;
}

Vm::After Vm::shadow_cr_access(const ExitEvent& e, unsigned cr, bool write) {
  // Decode assist (APM vol. 2 §15.33.1): EXITINFO1 bit 63 valid, bits 3:0 the GPR.
  if (!(e.info1 >> 63)) {
    kill("shadow paging: MOV CR%u without decode assist", cr);
    return After::stop;
  }
  uint64_t* gpr = reinterpret_cast<uint64_t*>(&vcpu_->gprs()) + (e.info1 & 0xF);  // encoding order (hal GuestGprs)
  if (!write) {  // only CR3 reads are intercepted: the guest's own CR3, never the shadow root
    *gpr = shadow_.guest_cr3();
    vcpu_->skip(e, 3);
    return After::resume;
  }
  const uint64_t v = *gpr;
  switch (cr) {
    case 3:
      if (v >> 52) {  // MBZ bits in long mode (§3.1.2): #GP(0)
        vcpu_->inject_exception(13, true, 0, false, 0);
        return After::resume;
      }
      shadow_.load_cr3(v);
      svm_.flush_tlb();
      break;
    case 0: {
      const uint64_t old = vcpu_->cr0();
      if ((v >> 32) || ((v & kCr0Nw) && !(v & kCr0Cd))) {
        vcpu_->inject_exception(13, true, 0, false, 0);
        return After::resume;
      }
      if (!(v & kCr0Pg) || !(v & kCr0Pe)) {
        kill("shadow paging: the guest turned paging off (CR0 0x%llx): not supported in shadow mode",
             (unsigned long long)v);
        return After::stop;
      }
      svm_.set_cr0(v | kCr0Et);
      if ((old ^ v) & kCr0Wp) {  // supervisor write protection changes meaning (§5.6.4)
        shadow_.flush();
        svm_.flush_tlb();
      }
      break;
    }
    case 4: {
      const uint64_t old = vcpu_->cr4();
      if (v & ~kCr4Valid) {
        vcpu_->inject_exception(13, true, 0, false, 0);
        return After::resume;
      }
      if (!(v & kCr4Pae)) {  // clearing PAE in long mode is #GP(0) (§3.1.3)
        vcpu_->inject_exception(13, true, 0, false, 0);
        return After::resume;
      }
      svm_.set_cr4(v);
      if ((old ^ v) & (kCr4Pge | kCr4Pse | kCr4Smep | kCr4Smap)) {
        shadow_.flush();
        svm_.flush_tlb();
      }
      break;
    }
    default:
      kill("shadow paging: unexpected MOV to CR%u intercept", cr);
      return After::stop;
  }
  vcpu_->skip(e, 3);
  return After::resume;
}

Vm::After Vm::handle_shadow(const ExitEvent& e, bool& handled) {
  handled = true;
  const uint64_t c = e.raw_code;
  if (e.kind == ExitKind::exception && e.vector == 14) return shadow_page_fault(e);
  if (c == svm::kExitInvlpg) {  // EXITINFO1 = the linear address (decode assist, §15.33)
    // 0 is also what a CPU without decode assists reports (QEMU TCG): then drop everything.
    if (e.info1)
      shadow_.invlpg(e.info1);
    else
      shadow_.load_cr3(shadow_.guest_cr3());
    svm_.flush_tlb();
    vcpu_->skip(e, 3);
    return After::resume;
  }
  if (c == svm::kExitCr0Read + 3) return shadow_cr_access(e, 3, false);
  if (c >= svm::kExitCr0Write && c < svm::kExitCr0Write + 16) return shadow_cr_access(e, unsigned(c - svm::kExitCr0Write), true);
  handled = false;
  return After::resume;
}

}  // namespace redoubt::hv
