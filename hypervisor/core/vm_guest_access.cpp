// A guest's memory as the hypervisor reads it: its virtual addresses through its own page tables
// (hypercall buffers), and the instruction at its RIP (the VMMCALL/VMCALL #UD of the other vendor).
#include "hypervisor/core/vm.hpp"

#include <cstring>

#include "arch/x86/paging.hpp"
#include "hypervisor/core/entry.hpp"

namespace redoubt::hv {

using namespace x86;

// ---- guest memory access -------------------------------------------------

bool Vm::gva_to_gpa(uint64_t gva, bool write, uint64_t& gpa) {
  if (!(vcpu_->cr0() & kCr0Pg)) {
    gpa = gva;
    return true;
  }
  // A non-canonical address is #GP for the CPU (APM vol. 2 §5.3.1); without this check the walk
  // below would use bits 47:39 only and alias it to a canonical one (redoubt attack
  // hypercall.wild-pointers: 0x8000000000000000 read as guest-virtual 0).
  if (uint64_t(int64_t(gva << 16) >> 16) != gva) return false;
  uint64_t table = guest_cr3() & kPteAddrMask;  // the guest's own CR3 (not the shadow root)
  for (int level = 4; level >= 1; --level) {
    const unsigned shift = 12 + 9 * (level - 1);
    const uint64_t* t = reinterpret_cast<const uint64_t*>(mem_.ptr(table, 4096));
    if (!t) return false;
    uint64_t e = t[(gva >> shift) & 0x1FF];
    if (!(e & kPtePresent)) return false;
    if (write && !(e & kPteWrite) && (vcpu_->cr0() & kCr0Wp)) return false;
    if (level == 1 || ((level == 2 || level == 3) && (e & kPteLarge))) {
      uint64_t mask = (1ull << shift) - 1;
      gpa = (e & kPteAddrMask & ~mask) | (gva & mask);
      return true;
    }
    table = e & kPteAddrMask;
  }
  return false;
}

bool Vm::copy_from_guest(uint64_t gva, void* dst, uint64_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  if (hv_->test_flags & kHvTestHypercallPhysical) {  // TEST ONLY: the guest's pointer is trusted
    const uint8_t* p = hv_->platform.mem().map(gva, n);
    if (p) std::memcpy(d, p, n);
    return p != nullptr;
  }
  while (n) {
    uint64_t chunk = 4096 - (gva & 0xFFF);
    if (chunk > n) chunk = n;
    uint64_t gpa;
    if (!gva_to_gpa(gva, false, gpa)) return false;
    const uint8_t* p = mem_.ptr(gpa, chunk);
    if (!p) return false;
    std::memcpy(d, p, chunk);
    d += chunk;
    gva += chunk;
    n -= chunk;
  }
  return true;
}

bool Vm::copy_to_guest(uint64_t gva, const void* src, uint64_t n) {
  auto* s = static_cast<const uint8_t*>(src);
  if (hv_->test_flags & kHvTestHypercallPhysical) {  // TEST ONLY: the guest's pointer is trusted
    uint8_t* p = hv_->platform.mem().map(gva, n);
    if (p) std::memcpy(p, s, n);
    return p != nullptr;
  }
  while (n) {
    uint64_t chunk = 4096 - (gva & 0xFFF);
    if (chunk > n) chunk = n;
    uint64_t gpa;
    if (!gva_to_gpa(gva, true, gpa)) return false;
    uint8_t* p = mem_.ptr(gpa, chunk);
    if (!p) return false;
    std::memcpy(p, s, chunk);
    s += chunk;
    gva += chunk;
    n -= chunk;
  }
  return true;
}

// A guest's VMMCALL (AMD, 0F 01 D9) raises #UD on an Intel CPU and its VMCALL (0F 01 C1) #UD on
// an AMD one (SDM vol. 2B, APM vol. 3): the backend that intercepts #UD (VMX) brings it here, and
// either instruction is the hypercall, so one guest binary runs on both. Any other #UD is the
// guest's own: re-injected into it.
Vm::After Vm::handle_ud(const ExitEvent& e) {
  // The instruction bytes through the guest's own page tables (never copy_from_guest: its test-only
  // kHvTestHypercallPhysical concerns hypercall buffers, not the guest's code).
  const uint64_t rip = vcpu_->rip();
  uint8_t insn[3] = {};
  bool read = true;
  for (unsigned i = 0; i < 3 && read; ++i) {
    uint64_t gpa = 0;
    const uint8_t* p = gva_to_gpa(rip + i, false, gpa) ? mem_.ptr(gpa, 1) : nullptr;
    read = p != nullptr;
    if (p) insn[i] = *p;
  }
  if (read && insn[0] == 0x0F && insn[1] == 0x01 && (insn[2] == 0xD9 || insn[2] == 0xC1)) {
    ExitEvent h = e;
    h.kind = ExitKind::hypercall;
    h.next_rip = rip + 3;
    return handle_hypercall(h);
  }
  vcpu_->inject_exception(6, false, 0, false, 0);
  return After::resume;
}

}  // namespace redoubt::hv
