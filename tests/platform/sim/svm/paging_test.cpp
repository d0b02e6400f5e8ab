// Guest paging, nested paging (#NPF) and the ASID-tagged TLB.
#define BOOST_TEST_MODULE svm_paging
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "tests/platform/sim/svm/guest_env.hpp"

using namespace redoubt;
using namespace redoubt::x86;
using redoubt::test::GuestEnv;

constexpr uint64_t kFault = 0xFA17;

namespace {
GuestEnv& paging_env(GuestEnv& g) {
  g.guest_map(0x500000, 0x500000, 12, kPtePresent);                        // read-only
  g.guest_map(0x600000, 0x600000, 12, kPtePresent | kPteWrite | kPteNx);   // no-execute
  g.guest_map(0x80000000, 0x400000, 21, kPtePresent | kPteWrite);          // 2 MiB
  g.guest_map(0xC0000000, 0x0, 30, kPtePresent | kPteWrite);               // 1 GiB
  g.wr64(0x400000 + 0x12345, 0x2222222222222222ull);
  g.wr64(0x234567, 0x1111111111111111ull);
  return g;
}
}  // namespace

BOOST_AUTO_TEST_CASE(guest_page_fault_not_present_sets_cr2_and_error_code) {
  GuestEnv g("paging");
  paging_env(g);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.vmcb().save.rax == kFault);
  BOOST_TEST(g.result(0) == 14u);
  BOOST_TEST(g.result(1) == 0u);                       // not present, read, supervisor
  BOOST_TEST(g.result(2) == 0x7000000000ull);          // CR2
  BOOST_TEST(g.vmcb().save.cr2 == 0x7000000000ull);
  BOOST_TEST(g.result(3) == g.step(0) + 10);            // the faulting MOV
}

BOOST_AUTO_TEST_CASE(guest_page_fault_on_write_to_read_only_page) {
  GuestEnv g("paging");
  paging_env(g);
  g.restart_at(1);
  g.run();
  BOOST_TEST(g.result(0) == 14u);
  BOOST_TEST(g.result(1) == 3u);  // P | W
  BOOST_TEST(g.result(2) == 0x500000u);
}

BOOST_AUTO_TEST_CASE(two_mib_and_one_gib_guest_pages) {
  GuestEnv g("paging");
  paging_env(g);
  g.restart_at(2);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  BOOST_TEST(g.vmcb().save.rax == 0x2222222222222222ull);
  BOOST_TEST(g.gpr(3) == 0x1111111111111111ull);
  BOOST_TEST(g.result(4) == 0u);
  // Accessed bits were set by the walk on the large leaf entries.
  const uint64_t pml4 = g.guest_pml4();
  const uint64_t pdpt = g.rd64(pml4) & kPteAddrMask;
  BOOST_TEST((g.rd64(pdpt + 3 * 8) & kPteAccessed) != 0u);  // 1 GiB leaf for 0xC0000000
}

BOOST_AUTO_TEST_CASE(nx_fetch_faults_with_instruction_fetch_bit) {
  GuestEnv g("paging");
  paging_env(g);
  g.restart_at(3);
  g.run();
  BOOST_TEST(g.result(0) == 14u);
  BOOST_TEST(g.result(1) == 0x11u);  // P | I/D
  BOOST_TEST(g.result(2) == 0x600000u);
  BOOST_TEST(g.result(3) == 0x600000u);
}

BOOST_AUTO_TEST_CASE(npf_during_guest_walk_vs_on_final_address) {
  GuestEnv g("npf");
  const uint64_t pt = g.guest_map(0x40000000, 0x300000, 12, kPtePresent | kPteWrite);
  g.nested_unmap_4k(pt);
  g.guest_map(0x40201000, 0x900000, 12, kPtePresent | kPteWrite);  // beyond the nested map (8 MiB)
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitNpf);
  BOOST_TEST(g.vmcb().control.exitinfo1 == (svm::npf::kPageWalk | svm::npf::kUser));
  BOOST_TEST(g.vmcb().control.exitinfo2 == pt + pt_index(0x40000000) * 8);
  BOOST_TEST(g.vmcb().save.rip == g.step(0));
  g.restart_at(1);
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitNpf);
  BOOST_TEST(g.vmcb().control.exitinfo1 == (svm::npf::kFinalAddress | svm::npf::kUser | svm::npf::kWrite));
  BOOST_TEST(g.vmcb().control.exitinfo2 == 0x900000u);
}

BOOST_AUTO_TEST_CASE(two_dimensional_walk_costs_24_references_with_4k_pages) {
  GuestEnv g("tlb");
  g.run();
  auto& c = g.svm.counters();
  BOOST_TEST(c.walks > 64u);
  BOOST_TEST(c.walk_refs == 24 * c.walks);
  GuestEnv h("tlb", {21, 21});
  h.run();
  auto& d = h.svm.counters();
  BOOST_TEST(d.walk_refs == 15 * d.walks);  // 3 guest levels x (3 nested + 1) + 3 nested
}

BOOST_AUTO_TEST_CASE(same_asid_tlb_entries_survive_a_world_switch) {
  GuestEnv g("tlb");
  g.run();
  BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
  auto& a = g.svm.counters().per_asid[1];
  const uint64_t m1 = a.tlb_misses, h1 = a.tlb_hits;
  BOOST_TEST(m1 >= 64u);
  const uint64_t w1 = g.svm.counters().walks, f1 = g.svm.counters().soft_tlb_fills;
  g.resume_at_nrip();
  g.run();  // TLB_CONTROL = 0, same ASID: no page is walked again
  BOOST_TEST(a.tlb_misses == m1);
  BOOST_TEST(g.svm.counters().walks == w1);
  // The per-page fast path in front of the TLB keeps the ASID's bank across the world switch:
  // the 64 pages are not even looked up in the TLB again (its hits are not counted as TLB hits).
  BOOST_TEST(g.svm.counters().soft_tlb_fills < f1 + 64);
  BOOST_TEST(a.tlb_hits >= h1);
  for (uint8_t ctl : {uint8_t(svm::kTlbFlushAsid), uint8_t(svm::kTlbFlushAll)}) {
    BOOST_TEST_CONTEXT("TLB_CONTROL=" << int(ctl)) {
      const uint64_t m = a.tlb_misses, f = g.svm.counters().soft_tlb_fills;
      g.vmcb().control.tlb_control = ctl;
      g.resume_at_nrip();
      g.run();
      BOOST_TEST(a.tlb_misses >= m + 64);
      BOOST_TEST(g.svm.counters().soft_tlb_fills >= f + 64);  // the bank went with the flushed entries
    }
  }
  // Another ASID misses; ASID 1 entries remain (TLB_CONTROL=0 again).
  g.vmcb().control.tlb_control = 0;
  g.resume_at_nrip();
  g.run();
  const uint64_t m = a.tlb_misses;
  g.vmcb().control.guest_asid = 2;
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(g.svm.counters().per_asid[2].tlb_misses >= 64u);
  g.vmcb().control.guest_asid = 1;
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(a.tlb_misses == m);
  // INVLPGA drops one page of ASID 1.
  g.svm.invlpga(0x300000, 1);
  g.resume_at_nrip();
  g.run();
  BOOST_TEST(a.tlb_misses == m + 1);
}
