// EPT on the simulated CPU (Intel SDM vol. 3C §29.3): guests translated through
// 4-level EPT paging structures with 4 KiB, 2 MiB and 1 GiB pages, accessed/dirty
// flags (§29.3.5), EPT violations (exit reason 48) with the qualification bits of
// §28.2.1 Table 28-7 and the guest-physical / guest-linear address fields,
// EPT misconfigurations (49, §29.3.3.1), and INVEPT.
#define BOOST_TEST_MODULE vmx_ept
#include <boost/test/unit_test.hpp>

#include "arch/vmx/ept.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace op = test::op;
namespace v = redoubt::vmx;
namespace ept = redoubt::vmx::ept;
namespace q = redoubt::vmx::ept_qual;
using sim::cpu::RAX;
using sim::cpu::RCX;

namespace {

// The guest program (offsets: where a test starts the guest).
constexpr uint64_t kRead4K = 0, kRead2M = 17, kRead1G = 27, kFetch = 37;
const std::vector<uint8_t> kProgram = {
    0x8B, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00,  // +0  mov eax, [0x600000]   (4 KiB page)
    0x89, 0x04, 0x25, 0x08, 0x00, 0x60, 0x00,  // +7  mov [0x600008], eax
    0x0F, 0x01, 0xC1,                          // +14 vmcall
    0x8B, 0x04, 0x25, 0x10, 0x00, 0xA0, 0x00,  // +17 mov eax, [0xA00010]   (2 MiB page)
    0x0F, 0x01, 0xC1,                          // +24 vmcall
    0x8B, 0x04, 0x25, 0x00, 0x00, 0x70, 0x40,  // +27 mov eax, [0x40700000] (1 GiB page)
    0x0F, 0x01, 0xC1,                          // +34 vmcall
    0xB8, 0x00, 0x00, 0x60, 0x00,              // +37 mov eax, 0x600000
    0xFF, 0xE0,                                // +42 jmp rax
};

// EPT paging structures (host-physical): identity for 0-4 GiB except the test pages.
struct EptRig : VmxRig {
  static constexpr uint64_t kPml4e = 0x800000, kPdpt = 0x801000, kPd = 0x802000, kPtLow = 0x803000, kPt6 = 0x804000;
  static constexpr uint64_t kRwx = ept::kRead | ept::kWrite | ept::kExecute, kWb = uint64_t(ept::kWb) << ept::kMemTypeShift;
  static constexpr uint64_t kData4K = 0x700000;  // gpa 0x600000 -> hpa 0x700000 (4 KiB)
  static constexpr uint64_t kData2M = 0xC00000;  // gpa 0xA00000 -> hpa 0xC00000 (2 MiB)

  explicit EptRig(bool ad = false) {
    valid_vmcs();  // enable EPT and VPID 1
    wr64(kPml4e, kPdpt | kRwx);
    wr64(kPdpt, kPd | kRwx);
    wr64(kPdpt + 8, 0x00000000 | kRwx | kWb | ept::kLargePage);  // gpa 1 GiB -> hpa 0 (1 GiB page)
    for (uint64_t i = 2; i < 4; ++i) wr64(kPdpt + 8 * i, (i << 30) | kRwx | kWb | ept::kLargePage);
    for (uint64_t i = 0; i < 512; ++i) wr64(kPd + 8 * i, (i << 21) | kRwx | kWb | ept::kLargePage);
    wr64(kPd, kPtLow | kRwx);          // 0-2 MiB in 4 KiB pages
    wr64(kPd + 8 * 3, kPt6 | kRwx);    // 6-8 MiB in 4 KiB pages
    wr64(kPd + 8 * 5, kData2M | kRwx | kWb | ept::kLargePage);
    for (uint64_t i = 0; i < 512; ++i) {
      wr64(kPtLow + 8 * i, (i << 12) | kRwx | kWb);
      wr64(kPt6 + 8 * i, (0x600000 + (i << 12)) | kRwx | kWb);
    }
    wr64(kPt6, kData4K | kRwx | kWb);
    set(v::kEptPointer, ept::eptp::make(kPml4e, ept::kWb, ad));
    mem.write(kGuestRip, kProgram);
    wr64(kData4K, 0x11223344);
    wr64(kData2M + 0x10, 0x55667788);
    wr64(0x700000 + 0 /* hpa of gpa 0x40700000 */, 0x11223344);
  }
  void start_at(uint64_t off) { set(v::kGuestRip, kGuestRip + off); }
  void launch_at(uint64_t off) {
    start_at(off);
    run(op::vmlaunch);
  }
  uint64_t reason() { return field(v::kExitReason); }
  uint64_t qual() { return field(v::kExitQualification); }
  void set_pte6(uint64_t e) { wr64(kPt6, e); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(guest_runs_through_ept_and_reads_a_remapped_4k_page) {
  EptRig r;
  r.launch_at(kRead4K);
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x11223344u);                   // read from hpa 0x700000
  BOOST_TEST(r.rd64(EptRig::kData4K + 8) == 0x11223344u);              // the write went there too
  BOOST_TEST(r.rd64(0x600008) == 0u);                                  // not to the identity page
}

BOOST_AUTO_TEST_CASE(two_mib_and_one_gib_ept_pages) {
  EptRig r;
  r.launch_at(kRead2M);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x55667788u);  // gpa 0xA00010 -> hpa 0xC00010
  EptRig g;
  g.launch_at(kRead1G);
  BOOST_TEST(g.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(uint32_t(g.c.gpr[RAX]) == 0x11223344u);  // gpa 0x40700000 -> hpa 0x700000
}

BOOST_AUTO_TEST_CASE(write_to_a_read_only_page_is_violation_48) {
  EptRig r;
  r.set_pte6(EptRig::kData4K | ept::kRead | EptRig::kWb);
  r.launch_at(kRead4K);
  BOOST_TEST(r.reason() == uint64_t(v::kExitEptViolation));
  // Table 28-7: write (bit 1), readable (bit 3), guest-linear valid (bit 7), final translation (bit 8).
  BOOST_TEST(r.qual() == (q::kWrite | q::kEntryReadable | q::kLinearValid | q::kFinalTranslation));
  BOOST_TEST(r.qual() == 0x18Au);
  BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0x600008u);
  BOOST_TEST(r.field(v::kGuestLinearAddress) == 0x600008u);
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip + 7);  // the faulting MOV, not retired
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x11223344u);            // the read before it worked
}

BOOST_AUTO_TEST_CASE(read_of_a_not_present_page_is_violation_48) {
  EptRig r;
  r.set_pte6(0);
  r.launch_at(kRead4K);
  BOOST_TEST(r.reason() == uint64_t(v::kExitEptViolation));
  BOOST_TEST(r.qual() == 0x181u);  // read, nothing permitted (bits 5:3 = 0), linear valid, final
  BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0x600000u);
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
}

BOOST_AUTO_TEST_CASE(fetch_from_a_non_executable_page_is_violation_48) {
  EptRig r;
  r.set_pte6(EptRig::kData4K | ept::kRead | ept::kWrite | EptRig::kWb);
  r.launch_at(kFetch);
  BOOST_TEST(r.reason() == uint64_t(v::kExitEptViolation));
  BOOST_TEST(r.qual() == 0x19Cu);  // fetch (bit 2), readable + writable (bits 3, 4), linear valid, final
  BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0x600000u);
  BOOST_TEST(r.field(v::kGuestRip) == 0x600000u);
}

BOOST_AUTO_TEST_CASE(guest_paging_structure_access_violation_has_bit_8_clear) {
  EptRig r;
  r.wr64(EptRig::kPtLow + 8 * 4, 0);  // gpa 0x4000: the guest's PDPT
  r.launch_at(kRead4K);
  BOOST_TEST(r.reason() == uint64_t(v::kExitEptViolation));
  BOOST_TEST(r.qual() == 0x81u);  // a data read of a guest paging entry, linear address valid, bit 8 = 0
  BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0x4000u);  // PDPTE 0
  BOOST_TEST(r.field(v::kGuestLinearAddress) == VmxRig::kGuestRip);  // the fetch being translated
}

BOOST_AUTO_TEST_CASE(misconfigured_entries_give_reason_49) {
  {
    EptRig r;
    r.set_pte6(EptRig::kData4K | ept::kWrite | EptRig::kWb);  // writable, not readable (§29.3.3.1)
    r.launch_at(kRead4K);
    BOOST_TEST(r.reason() == uint64_t(v::kExitEptMisconfig));
    BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0x600000u);
  }
  {
    EptRig r;
    r.set_pte6(EptRig::kData4K | ept::kExecute | EptRig::kWb);  // execute-only without support
    r.launch_at(kRead4K);
    BOOST_TEST(r.reason() == uint64_t(v::kExitEptMisconfig));
  }
  {
    EptRig r;
    r.wr64(EptRig::kPd + 8 * 5, EptRig::kData2M | EptRig::kRwx | (2ull << 3) | ept::kLargePage);  // memory type 2
    r.launch_at(kRead2M);
    BOOST_TEST(r.reason() == uint64_t(v::kExitEptMisconfig));
    BOOST_TEST(r.field(v::kGuestPhysicalAddress) == 0xA00010u);
  }
  {
    EptRig r;
    r.wr64(EptRig::kPdpt + 8, EptRig::kRwx | EptRig::kWb | ept::kLargePage | 0x1000);  // 1 GiB page, bit 12 reserved
    r.launch_at(kRead1G);
    BOOST_TEST(r.reason() == uint64_t(v::kExitEptMisconfig));
  }
}

BOOST_AUTO_TEST_CASE(accessed_and_dirty_flags_with_eptp_bit_6) {
  EptRig r(/*ad=*/true);
  r.launch_at(kRead4K);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST((r.rd64(EptRig::kPt6) & (ept::kAccessed | ept::kDirty)) == (ept::kAccessed | ept::kDirty));
  BOOST_TEST((r.rd64(EptRig::kPd + 8 * 3) & ept::kAccessed) != 0u);
  BOOST_TEST((r.rd64(EptRig::kPml4e) & ept::kAccessed) != 0u);
  // §29.3.5: with A/D, the guest's paging-structure reads count as writes (its PDPT page is dirty).
  BOOST_TEST((r.rd64(EptRig::kPtLow + 8 * 4) & ept::kDirty) != 0u);
  // Without A/D nothing is written.
  EptRig n;
  n.launch_at(kRead4K);
  BOOST_TEST((n.rd64(EptRig::kPt6) & (ept::kAccessed | ept::kDirty)) == 0u);
}

BOOST_AUTO_TEST_CASE(invept_drops_cached_translations) {
  EptRig r;
  r.launch_at(kRead4K);  // gpa 0x600000 now cached (VPID-tagged)
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  r.set_pte6(0);  // revoke; without INVEPT the cached translation may still be used (§29.4.3)
  r.start_at(kRead4K);
  r.run(op::vmresume);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  r.wr64(VmxRig::kOperand, r.field(v::kEptPointer));  // INVEPT single-context for this EPTP
  r.wr64(VmxRig::kOperand + 8, 0);
  r.c.gpr[RAX] = 1;
  r.c.gpr[RCX] = VmxRig::kOperand;
  r.run(op::invept_rax_mrcx);
  BOOST_TEST(r.vm_succeed());
  r.start_at(kRead4K);
  r.run(op::vmresume);
  BOOST_TEST(r.reason() == uint64_t(v::kExitEptViolation));
  BOOST_TEST(r.qual() == 0x181u);
}

// The 2-D walk (§29.3.2): with 4-level guest paging in 4 KiB pages and 4 KiB EPT pages every
// guest translation reads 4 guest entries, each located through a 4-entry EPT walk, plus the
// 4-entry EPT walk of the final address: 4 * (4 + 1) + 4 = 24 references (the NPT figure too;
// the model has no paging-structure caches).
BOOST_AUTO_TEST_CASE(two_dimensional_walk_is_24_references_for_4k_guest_and_4k_ept_pages) {
  EptRig r;
  // Guest page tables in EPT-4K-mapped memory: PML4 1A0000, PDPT 1A1000, PD 1A2000,
  // PT 1A3000 (0-2 MiB identity), PT 1A4000 (6-8 MiB identity); all 4 KiB guest pages.
  constexpr uint64_t P = 1 | 2;  // present, writable
  r.wr64(0x1A0000, 0x1A1000 | P);
  r.wr64(0x1A1000, 0x1A2000 | P);
  r.wr64(0x1A2000, 0x1A3000 | P);
  r.wr64(0x1A2000 + 8 * 3, 0x1A4000 | P);
  for (uint64_t i = 0; i < 512; ++i) {
    r.wr64(0x1A3000 + 8 * i, (i << 12) | P);
    r.wr64(0x1A4000 + 8 * i, (0x600000 + (i << 12)) | P);
  }
  r.set(v::kGuestCr3, 0x1A0000);
  r.mem.write(VmxRig::kGuestRip, std::vector<uint8_t>{0x8B, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00,  // mov eax, [0x600000]
                                                      0x0F, 0x01, 0xC1});                        // vmcall
  const uint64_t refs0 = r.c.counters.walk_refs, nested0 = r.c.counters.nested_walk_refs;
  r.launch_at(0);
  BOOST_TEST(r.reason() == uint64_t(v::kExitVmcall));
  BOOST_TEST(uint32_t(r.c.gpr[RAX]) == 0x11223344u);  // gpa 0x600000 -> hpa 0x700000
  // Two guest walks (the code page, the data page): 2 * 20 EPT references.
  BOOST_TEST(r.c.counters.nested_walk_refs - nested0 == 40u);
  // 2 * 24 for the guest, plus the host's own 2-level walk of its 1 GiB page at VMLAUNCH; the
  // HLT at HOST_RIP after the exit is in that page, still cached: with VPIDs on, the exit keeps
  // VPID 0000H's translations (§28.5.5; tests/platform/sim/vmx/vmx_vpid_tlb_test.cpp).
  BOOST_TEST(r.c.counters.walk_refs - refs0 == 2u * 24u + 2u);
}
