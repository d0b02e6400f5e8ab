// The Intel EPT walk (Intel SDM vol. 3C §29.3.2 "EPT Translation Mechanism"):
// guest-physical -> host-physical through the EPT paging structures of the EPTP,
// 4 levels, 1 GiB / 2 MiB / 4 KiB pages, accessed/dirty flags with EPTP[6]
// (§29.3.5), EPT misconfigurations (§29.3.3.1) and EPT violations (§29.3.3.2)
// as NestedFault with the exit qualification of §28.2.1 Table 28-7.
#include <cstring>

#include "arch/vmx/ept.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "arch/svm/exit_codes.hpp"
#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::cpu {

namespace {
namespace e = redoubt::vmx::ept;
namespace q = redoubt::vmx::ept_qual;
uint64_t load64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
void store64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
constexpr uint64_t kAddr = 0x0000FFFFFFFFF000ull;       // bits 47:12 (MAXPHYADDR 48)
constexpr uint64_t kBeyondWidth = 0x000F000000000000ull;  // bits 51:48: reserved (§29.3.3.1)

// §29.3.3.1: reserved bits of an entry that is present (bits 2:0 not all 0).
bool misconfigured(uint64_t ent, int level, bool leaf) {
  if (e::rwx_misconfigured(ent, /*execute-only supported=*/false)) return true;  // W without R; X only
  if (ent & kBeyondWidth) return true;
  if (level == 4) return ent & 0xF8;                  // PML4E bits 7:3
  if (!leaf) return ent & 0x78;                       // PDPTE/PDE referencing a table: bits 6:3
  if (e::memtype_reserved(ent)) return true;          // leaf memory type 2, 3, 7
  if (level == 3) return ent & 0x3FFFF000;            // 1 GiB page: bits 29:12
  if (level == 2) return ent & 0x1FF000;              // 2 MiB page: bits 20:12
  return false;
}
}  // namespace

uint64_t Cpu::ept_walk(uint64_t gpa, Access acc, bool walk, NestedResult& r) {
  r = NestedResult{};
  const bool ad = ctl.eptp & e::eptp::kAccessedDirty;
  // §29.3.5: with EPT A/D flags on, accesses to guest paging structures count as writes.
  const Access a = (walk && ad) ? kWrite : acc;
  // Table 28-7: bits 2:0 the access; bit 7 a guest-linear address exists (every access here comes
  // from a linear-address translation); bit 8 the final translation (1) or a guest paging entry (0).
  const uint64_t kind = (a == kWrite ? q::kWrite : a == kFetch ? q::kFetch : q::kRead) | q::kLinearValid |
                        (walk ? 0 : q::kFinalTranslation);
  uint64_t table = ctl.eptp & kAddr;
  uint8_t* ent[4];
  uint64_t val[4];
  int n = 0;
  uint64_t perm = e::kPermMask;
  unsigned shift = 12;
  for (int level = 4; level >= 1; --level) {
    const unsigned sh = 12 + 9 * (level - 1);
    uint8_t* p = host_ptr(table + ((gpa >> sh) & 0x1FF) * 8, 8);
    if (!p) throw CpuError("EPT paging structure outside RAM (EPTP chain)");
    const uint64_t x = load64(p);
    ++counters.walk_refs;
    ++counters.nested_walk_refs;
    if (!(x & e::kPermMask)) raise(NestedFault{kEptViolation | kind, gpa});  // not present: bits 5:3 = 0
    const bool leaf = level == 1 || ((level == 3 || level == 2) && (x & e::kLargePage));
    if (misconfigured(x, level, leaf)) raise(NestedFault{kEptMisconfig, gpa});
    perm &= x & e::kPermMask;
    ent[n] = p;
    val[n++] = x;
    if (leaf) {
      shift = sh;
      break;
    }
    table = x & kAddr;
  }
  const uint64_t need = a == kWrite ? e::kWrite : a == kFetch ? e::kExecute : e::kRead;
  // Bits 5:3 of the qualification: the AND of bits 2:0 over the entries used (§28.2.1).
  if (!(perm & need)) raise(NestedFault{kEptViolation | kind | (perm << 3), gpa});
  if (ad) {  // §29.3.5: accessed on every entry used, dirty on the leaf of a write
    for (int i = 0; i < n; ++i) {
      uint64_t nv = val[i] | e::kAccessed;
      if (i == n - 1 && a == kWrite) nv |= e::kDirty;
      if (nv != val[i]) store64(ent[i], nv);
    }
  }
  const uint64_t leaf = val[n - 1];
  r.shift = shift;
  r.writable = perm & e::kWrite;
  r.nx = !(perm & e::kExecute);
  r.dirty = !ad || (leaf & e::kDirty) || a == kWrite;
  const uint64_t mask = (1ull << shift) - 1;
  return ((leaf & kAddr) & ~mask) | (gpa & mask);
}

// A guest A/D-flag update whose guest-physical page is not writable in the nested tables.
void Cpu::nested_ad_fault(uint64_t gpa, bool nested_nx) {
  namespace npf = redoubt::svm::npf;
  if (ctl.ept)  // an EPT violation on a write to a guest paging entry: readable (it was read), X as mapped
    raise(NestedFault{kEptViolation | q::kWrite | q::kEntryReadable | (nested_nx ? 0 : q::kEntryExecutable) |
                          q::kLinearValid, gpa});
  raise(NestedFault{npf::kUser | npf::kWrite | npf::kPresent | npf::kPageWalk, gpa});
}

}  // namespace redoubt::sim::cpu
