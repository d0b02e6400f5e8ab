#include "platform/sim/svm/vmrun_checks.hpp"

#include "arch/svm/intercepts.hpp"
#include "arch/x86/paging.hpp"

namespace redoubt::sim::svm {

namespace rs = redoubt::svm;
using namespace redoubt::x86;

namespace {
constexpr uint64_t kCr0Cd = 1ull << 30, kCr0Nw = 1ull << 29;
constexpr uint64_t kEferValid = 0xFD01;            // SCE LME LMA NXE SVME LMSLE FFXSR TCE (§3.1.7)
constexpr uint64_t kCr4Valid = 0x3F07FF;           // CR4 bits this CPU implements
constexpr uint16_t kAttrL = 1u << 9, kAttrD = 1u << 10;

bool eventinj_illegal(uint64_t e) {
  using namespace rs::event_inj;
  if (!(e & kValid)) return false;
  const uint64_t type = (e >> kTypeShift) & 7, vec = e & kVectorMask;
  if (type == 1 || type >= 5) return true;             // reserved types
  if (type == kTypeException && (vec == 2 || vec > 31)) return true;  // NMI as exception, non-exception vector
  return false;
}
}  // namespace

const char* vmrun_check(const rs::Vmcb& v, uint64_t ram) {
  const auto& s = v.save;
  const auto& c = v.control;
  if (!(s.efer & kEferSvme)) return "EFER.SVME is zero";
  if (!(s.cr0 & kCr0Cd) && (s.cr0 & kCr0Nw)) return "CR0.CD is zero and CR0.NW is set";
  if (s.cr0 >> 32) return "CR0[63:32] are not zero";
  const bool lm_paging = (s.efer & kEferLme) && (s.cr0 & kCr0Pg);
  if (s.cr3 >> 52) return "CR3 MBZ bits set";
  if (s.cr4 & ~kCr4Valid) return "CR4 MBZ bits set";
  if (s.dr6 >> 32) return "DR6[63:32] are not zero";
  if (s.dr7 >> 32) return "DR7[63:32] are not zero";
  if (s.efer & ~kEferValid) return "EFER MBZ bits set";
  if (lm_paging && !(s.cr4 & kCr4Pae)) return "EFER.LME and CR0.PG set, CR4.PAE zero";
  if (lm_paging && !(s.cr0 & kCr0Pe)) return "EFER.LME and CR0.PG set, CR0.PE zero";
  if (lm_paging && (s.cr4 & kCr4Pae) && (s.cs.attrib & kAttrL) && (s.cs.attrib & kAttrD))
    return "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set";
  if (!(c.intercept_misc2 & rs::kInterceptVmrun)) return "VMRUN intercept bit clear";
  if (c.iopm_base_pa > ram || rs::kIopmSize > ram - (c.iopm_base_pa & ~0xFFFull))
    return "IOPM extends beyond physical memory";
  if (c.msrpm_base_pa > ram || rs::kMsrpmSize > ram - (c.msrpm_base_pa & ~0xFFFull))
    return "MSRPM extends beyond physical memory";
  if (c.guest_asid == 0) return "ASID is zero";
  if (eventinj_illegal(c.eventinj)) return "illegal event injection";
  return nullptr;
}

}  // namespace redoubt::sim::svm
