// The VPID-tagged TLB of the simulated CPU (Intel SDM vol. 3C §29.1 "Virtual
// Processor Identifiers", older editions §28.1; invalidation §29.4.3, older
// §28.3.3; INVVPID in ch. 31), with exact hit/miss counts from the simulator's
// per-tag TLB statistics (Counters::per_asid, keyed by VPID; a guest without
// VPID gets a tag of its own, 0x10000, that every VM entry flushes).
//
// The guest reads 64 pages (gpa 0x600000.., 4 KiB EPT pages, so 64 combined
// 4 KiB translations) from one code page: 65 pages per pass. The simulator's
// per-page fast path in front of the TLB keeps a VPID's entries across world
// switches (it is flushed exactly when the TLB entries of its tag are), so a
// warm pass would not look anything up in the TLB; the test empties that fast
// path (a simulator cache, no architectural state) before each pass, so each
// pass looks each data page up in the TLB exactly once and the code page once
// per decoded block (start, loop body, VMCALL: 3): 67 lookups, each a hit if
// the tagged entry survived, else a miss and a 2-D walk (65 misses when cold:
// the code page's first lookup misses, its other two hit). The host runs in one
// 1 GiB page (its VMRESUME and HOST_RIP): 1 lookup per round trip. The SVM/ASID
// counterpart is tests/platform/sim/svm/asid_tlb_test.cpp.
#define BOOST_TEST_MODULE vmx_vpid_tlb
#include <boost/test/unit_test.hpp>

#include "arch/vmx/ept.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace op = test::op;
namespace v = redoubt::vmx;
namespace ept = redoubt::vmx::ept;
using sim::cpu::RAX;
using sim::cpu::RCX;

namespace {

constexpr uint64_t kPages = 64, kPerPass = kPages + 3;  // TLB lookups per pass: data pages + the code page x 3 blocks
constexpr uint64_t kColdMisses = kPages + 1, kColdHits = 2;  // every page walked once; the code page's 2nd/3rd lookups hit
constexpr uint32_t kNoVpidTag = 0x10000;

// start: mov edi, 0x600000; mov ecx, 64; loop: mov rax, [rdi]; add rdi, 4096; dec ecx; jnz loop;
// vmcall; jmp start
const std::vector<uint8_t> kTouch64 = {
    0xBF, 0x00, 0x00, 0x60, 0x00,              // +0  mov edi, 0x600000
    0xB9, 0x40, 0x00, 0x00, 0x00,              // +5  mov ecx, 64
    0x48, 0x8B, 0x07,                          // +10 mov rax, [rdi]
    0x48, 0x81, 0xC7, 0x00, 0x10, 0x00, 0x00,  // +13 add rdi, 4096
    0xFF, 0xC9,                                // +20 dec ecx
    0x75, 0xF2,                                // +22 jnz +10
    0x0F, 0x01, 0xC1,                          // +24 vmcall
    0xEB, 0xE3,                                // +27 jmp +0
};

// EPT: identity over 0-4 GiB in 1 GiB pages except 0-2 MiB and 6-8 MiB in 4 KiB pages
// (the code page 0x160000 and the 64 data pages are 4 KiB combined translations).
struct TlbRig : VmxRig {
  static constexpr uint64_t kEpml4 = 0x800000, kEpdpt = 0x801000, kEpd = 0x802000, kEptLow = 0x803000,
                            kEpt6 = 0x804000;
  static constexpr uint64_t kRwx = ept::kRead | ept::kWrite | ept::kExecute,
                            kWb = uint64_t(ept::kWb) << ept::kMemTypeShift;
  explicit TlbRig(bool vpid, uint16_t id = 1) {
    valid_vmcs();
    wr64(kEpml4, kEpdpt | kRwx);
    wr64(kEpdpt, kEpd | kRwx);
    for (uint64_t i = 1; i < 4; ++i) wr64(kEpdpt + 8 * i, (i << 30) | kRwx | kWb | ept::kLargePage);
    for (uint64_t i = 0; i < 512; ++i) wr64(kEpd + 8 * i, (i << 21) | kRwx | kWb | ept::kLargePage);
    wr64(kEpd, kEptLow | kRwx);
    wr64(kEpd + 8 * 3, kEpt6 | kRwx);
    for (uint64_t i = 0; i < 512; ++i) {
      wr64(kEptLow + 8 * i, (i << 12) | kRwx | kWb);
      wr64(kEpt6 + 8 * i, (0x600000 + (i << 12)) | kRwx | kWb);
    }
    set(v::kEptPointer, ept::eptp::make(kEpml4, ept::kWb, false));
    set(v::kSecondaryProcControls, v::proc2::kEnableEpt | (vpid ? v::proc2::kEnableVpid : 0));
    set(v::kVpid, id);
    mem.write(kGuestRip, kTouch64);
  }
  uint32_t tag() { return (field(v::kSecondaryProcControls) & v::proc2::kEnableVpid) ? uint32_t(field(v::kVpid)) : kNoVpidTag; }
  // One pass of the guest (VMLAUNCH the first time, VMRESUME after): the hits and misses of the
  // running tag during the pass, and of the host (VPID 0000H) around it.
  struct Pass { uint64_t hits, misses, walks, host_misses; };
  bool launched = false;
  Pass pass() {
    auto& a = c.counters.per_asid[tag()];
    auto& h = c.counters.per_asid[0];
    const uint64_t h0 = a.tlb_hits, m0 = a.tlb_misses, w0 = c.counters.walks, hm0 = h.tlb_misses;
    set(v::kGuestRip, kGuestRip);
    c.flush_soft_tlb();  // count every page's first lookup (see the header)
    run(launched ? op::vmresume : op::vmlaunch);
    launched = true;
    BOOST_TEST(field(v::kExitReason) == uint64_t(v::kExitVmcall));
    return {a.tlb_hits - h0, a.tlb_misses - m0, c.counters.walks - w0, h.tlb_misses - hm0};
  }
  void invvpid(uint64_t type, uint16_t vpid, uint64_t la = 0) {
    wr64(kOperand, vpid);
    wr64(kOperand + 8, la);
    c.gpr[RAX] = type;
    c.gpr[RCX] = kOperand;
    run(op::invvpid_rax_mrcx);
    BOOST_TEST(vm_succeed());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(vpid_on_second_pass_hits_every_page) {
  TlbRig r(true);
  const auto p1 = r.pass();
  BOOST_TEST(p1.misses == kColdMisses);  // cold: 65 2-D walks
  BOOST_TEST(p1.hits == kColdHits);
  for (int i = 0; i < 3; ++i) {
    const auto p = r.pass();  // §29.1: VPID-tagged entries survive VM exits and entries
    BOOST_TEST(p.misses == 0u);
    BOOST_TEST(p.hits == kPerPass);
    BOOST_TEST(p.walks == 0u);
    // §28.5.5: with VPIDs the exit leaves VPID 0000H alone: the host's page (VMRESUME's code
    // and the HLT at HOST_RIP, one 1 GiB page) stays cached too.
    BOOST_TEST(p.host_misses == 0u);
  }
}

BOOST_AUTO_TEST_CASE(vpid_off_every_entry_flushes) {
  TlbRig r(false);
  for (int i = 0; i < 4; ++i) {
    const auto p = r.pass();  // §27.3.3 / §28.5.5: without VPID, entries and exits flush
    BOOST_TEST(p.misses == kColdMisses);
    BOOST_TEST(p.hits == kColdHits);
    BOOST_TEST(p.walks >= kColdMisses);
    // The host's translation went at the exit: its 1 GiB page misses again after every exit
    // (and, on the first pass, before VMLAUNCH too: cold).
    BOOST_TEST(p.host_misses == (i == 0 ? 2u : 1u));
  }
}

BOOST_AUTO_TEST_CASE(invvpid_single_context_flushes_only_that_vpid) {
  TlbRig r(true, 1);
  r.pass();
  r.invvpid(1, 2);  // single context, another VPID: VPID 1's entries stay
  auto p = r.pass();
  BOOST_TEST(p.hits == kPerPass);
  BOOST_TEST(p.misses == 0u);
  r.invvpid(1, 1);  // single context, this VPID
  p = r.pass();
  BOOST_TEST(p.hits == kColdHits);
  BOOST_TEST(p.misses == kColdMisses);
  r.invvpid(3, 1);  // single context retaining globals: the guest's 1 GiB page is not global
  p = r.pass();
  BOOST_TEST(p.misses == kColdMisses);
}

BOOST_AUTO_TEST_CASE(invvpid_individual_address_drops_one_page) {
  TlbRig r(true, 1);
  r.pass();
  r.invvpid(0, 1, 0x605000);
  const auto p = r.pass();
  BOOST_TEST(p.misses == 1u);  // 0x605000 alone is walked again
  BOOST_TEST(p.hits == kPerPass - 1);
}

BOOST_AUTO_TEST_CASE(invvpid_all_context_flushes_every_vpid_but_keeps_the_hosts) {
  TlbRig r(true, 1);
  r.pass();
  r.set(v::kVpid, 2);
  r.pass();  // VPID 2 fills its own 65 entries
  BOOST_TEST(r.c.counters.per_asid[2].tlb_misses == kColdMisses);
  r.set(v::kVpid, 1);
  auto p = r.pass();
  BOOST_TEST(p.hits == kPerPass);  // VPID 1's entries survived VPID 2's run
  const uint64_t host_before = r.c.counters.per_asid[0].tlb_misses;
  r.invvpid(2, 0);  // all contexts (the descriptor's VPID is ignored)
  p = r.pass();
  BOOST_TEST(p.misses == kColdMisses);
  BOOST_TEST(p.host_misses == 0u);  // VPID 0000H is not invalidated by all-context INVVPID
  r.set(v::kVpid, 2);
  p = r.pass();
  BOOST_TEST(p.misses == kColdMisses);
  BOOST_TEST(r.c.counters.per_asid[0].tlb_misses == host_before);  // the host's 1 GiB page stayed throughout
}

BOOST_AUTO_TEST_CASE(hit_rate_over_ten_passes) {
  // The figure docs/intel.md quotes: 10 passes of 67 TLB lookups.
  TlbRig on(true), off(false);
  for (int i = 0; i < 10; ++i) {
    on.pass();
    off.pass();
  }
  const auto& a = on.c.counters.per_asid[1];
  const auto& b = off.c.counters.per_asid[kNoVpidTag];
  BOOST_TEST(a.tlb_hits == kColdHits + 9 * kPerPass);  // 605
  BOOST_TEST(a.tlb_misses == kColdMisses);               // 65: hit rate 605/670 = 90.3 %
  BOOST_TEST(b.tlb_hits == 10 * kColdHits);              // 20
  BOOST_TEST(b.tlb_misses == 10 * kColdMisses);          // 650: hit rate 20/670 = 3.0 %
}

// INVVPID single-context with VPID 0 is refused (INVVPID "Operation": VMfail(28)); the
// VPID-off case above is the negative control of the VPID-on hit counts.
BOOST_AUTO_TEST_CASE(invvpid_single_context_of_vpid_0_fails_valid) {
  TlbRig r(true);
  r.wr64(VmxRig::kOperand, 0);
  r.wr64(VmxRig::kOperand + 8, 0);
  r.c.gpr[RAX] = 1;
  r.c.gpr[RCX] = VmxRig::kOperand;
  r.run(op::invvpid_rax_mrcx);
  BOOST_TEST(r.vm_fail_valid());
  BOOST_TEST(r.field(v::kVmInstructionError) == uint64_t(v::kErrInvalidInvOperand));
}
