// Unit tests of the hypervisor core that need no CPU model: the physical page
// allocator, the 4-level page-table builder used for nested page tables, the
// IOPM/MSRPM formats, CPUID policy masking, the virtual UART and the guest ABI
// (C header vs C++ header).
#define BOOST_TEST_MODULE hypervisor_unit
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <set>
#include <vector>

#include "arch/svm/exit_codes.hpp"
#include "hypervisor/arch/svm/svm_vcpu.hpp"
#include "hypervisor/core/guest_abi.hpp"
#include "hypervisor/core/hypercall_abi.hpp"
#include "hypervisor/core/page_table.hpp"
#include "hypervisor/core/phys_alloc.hpp"
#include "hypervisor/core/policy.hpp"
#include "hypervisor/core/vm.hpp"
#include "hypervisor/core/vuart.hpp"

extern "C" {
#include "guests/include/redoubt.h"
}

using namespace redoubt;
using namespace redoubt::hv;

namespace {

// RAM for the tests: [0, size) of a vector.
class TestMem final : public hal::PhysMem {
 public:
  explicit TestMem(uint64_t size) : b_(size, 0xCC) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return pa <= b_.size() && n <= b_.size() - pa ? b_.data() + pa : nullptr; }
  std::vector<uint8_t> b_;
};

class TestConsole final : public hal::Console {
 public:
  void write(const char* s, size_t n) override { out.append(s, n); }
  std::string out;
};

constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

BOOST_AUTO_TEST_CASE(allocator_zeroes_aligns_and_tracks_pages) {
  TestMem m(8 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 1 * kMiB, 4 * kMiB));
  BOOST_TEST(a.total_pages() == 1024u);
  BOOST_TEST(a.bitmap_pages() == 1u);  // 1024 bits fit in one page
  BOOST_TEST(a.free_pages() == 1023u);
  uint64_t p1 = 0, p2 = 0, big = 0;
  BOOST_REQUIRE(a.alloc_page(p1, "t"));
  BOOST_TEST(p1 == 1 * kMiB + 4096);  // first page after the bitmap
  BOOST_TEST(m.b_[p1] == 0);          // zeroed (the RAM was 0xCC)
  BOOST_TEST(m.b_[p1 + 4095] == 0);
  BOOST_REQUIRE(a.alloc(512, 512, big, "2M"));  // 2 MiB aligned
  BOOST_TEST(big % (2 * kMiB) == 0u);
  BOOST_TEST(big == 2 * kMiB);
  BOOST_REQUIRE(a.alloc_page(p2, "t"));
  BOOST_TEST(p2 == p1 + 4096);
  BOOST_TEST(a.free_pages() == 1023u - 514u);
  BOOST_TEST(a.is_allocated(p2));
  std::memset(m.map(p2, 4096), 0xAB, 4096);
  BOOST_REQUIRE(a.free(p2, 1));
  BOOST_TEST(m.b_[p2] == 0);  // scrubbed on free
  BOOST_TEST(!a.is_allocated(p2));
  Status dbl = a.free(p2, 1);
  BOOST_TEST(!dbl);
  BOOST_TEST(std::string(dbl.message()).find("double free") != std::string::npos);
  BOOST_TEST(!a.free(1 * kMiB, 1));  // the bitmap page is never freeable
  uint64_t x;
  Status full = a.alloc(1024, 1, x, "too much");
  BOOST_TEST(!full);
  BOOST_TEST(std::string(full.message()).find("too much") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(allocator_rejects_bad_regions) {
  TestMem m(2 * kMiB);
  PageAllocator a;
  BOOST_TEST(!a.init(m, 100, 4096 * 4));
  BOOST_TEST(!a.init(m, 0, 4 * kMiB));  // outside RAM
  BOOST_TEST(!a.init(m, 0, 4096));      // no room after the bitmap
  uint64_t pa;
  PageAllocator b;
  BOOST_TEST(!b.alloc_page(pa, "uninitialised"));
}

BOOST_AUTO_TEST_CASE(npt_builder_uses_2m_and_4k_pages_and_walks_back) {
  TestMem m(16 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 8 * kMiB, 8 * kMiB));
  PhysTables tm(m, &a);
  PageTableBuilder pt(tm);
  BOOST_REQUIRE(pt.create());
  const uint64_t f = x86::kPteWrite | x86::kPteUser;
  // 4 MiB + 12 KiB at GPA 0 -> HPA 0x200000: two 2 MiB pages then three 4 KiB pages.
  BOOST_REQUIRE(pt.map(0, 0x200000, 4 * kMiB + 3 * 4096, f));
  // A 4 KiB-aligned but not 2 MiB-aligned pair: 4 KiB pages only.
  BOOST_REQUIRE(pt.map(0x40001000, 0x7000, 0x200000, f));
  std::vector<Leaf> leaves;
  pt.for_each_leaf([&](const Leaf& l) {
    leaves.push_back(l);
    return true;
  });
  BOOST_REQUIRE_EQUAL(leaves.size(), 2u + 3u + 512u);
  BOOST_TEST(leaves[0].va == 0u);
  BOOST_TEST(leaves[0].pa == 0x200000u);
  BOOST_TEST(leaves[0].size == 2 * kMiB);
  BOOST_TEST((leaves[0].flags & x86::kPteLarge) != 0u);
  BOOST_TEST(leaves[1].pa == 0x400000u);
  BOOST_TEST(leaves[2].va == 4 * kMiB);
  BOOST_TEST(leaves[2].size == 4096u);
  BOOST_TEST(leaves[2].pa == 0x600000u);
  BOOST_TEST(leaves[5].va == 0x40001000u);
  BOOST_TEST(leaves[5].pa == 0x7000u);
  for (const Leaf& l : leaves) {
    BOOST_TEST((l.flags & (x86::kPtePresent | x86::kPteWrite | x86::kPteUser)) == 7u);
    BOOST_TEST((l.flags & x86::kPteNx) == 0u);
  }
  // Tables: PML4, PDPT(0), PD(0), PT for [4M, 6M), PDPT entry 1 -> PD, PT x2 for the unaligned range.
  BOOST_TEST(pt.table_count() == 7u);
  Leaf l;
  BOOST_REQUIRE(pt.translate(0x123456, l));
  BOOST_TEST(l.pa + (0x123456 - l.va) == 0x323456u);
  BOOST_REQUIRE(pt.translate(4 * kMiB + 0x2FFF, l));
  BOOST_TEST(l.pa == 0x602000u);
  BOOST_TEST(!pt.translate(4 * kMiB + 0x3000, l));
  BOOST_TEST(!pt.translate(0xFED42000, l));
  // No double mapping.
  BOOST_TEST(!pt.map(0x1000, 0x9000, 4096, f));
  // All table pages came from the allocator.
  BOOST_TEST(a.is_allocated(pt.root()));
}

BOOST_AUTO_TEST_CASE(npt_builder_rejects_unaligned) {
  TestMem m(4 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 2 * kMiB, 2 * kMiB));
  PhysTables tm(m, &a);
  PageTableBuilder pt(tm);
  BOOST_TEST(!pt.map(0, 0, 4096, 0));  // before create
  BOOST_REQUIRE(pt.create());
  BOOST_TEST(!pt.map(0x800, 0, 4096, 0));
  BOOST_TEST(!pt.map(0, 0x10, 4096, 0));
}

BOOST_AUTO_TEST_CASE(iopm_and_msrpm_formats) {
  TestMem m(4 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 0, 4 * kMiB));
  IoGrant g{0x80, 2};
  uint64_t iopm, msrpm;
  BOOST_REQUIRE(svm::build_iopm(a, &g, 1, iopm));
  BOOST_TEST(iopm % 4096 == 0u);
  const uint8_t* io = m.map(iopm, svm::kIopmSize);
  BOOST_TEST(svm::iopm_intercepts(io, 0x3F8));
  BOOST_TEST(svm::iopm_intercepts(io, 0x7F));
  BOOST_TEST(!svm::iopm_intercepts(io, 0x80));
  BOOST_TEST(!svm::iopm_intercepts(io, 0x81));
  BOOST_TEST(svm::iopm_intercepts(io, 0x82));
  BOOST_TEST(io[0x80 / 8] == 0xFCu);  // APM §15.10.1: bit (port mod 8) of byte port/8
  BOOST_TEST(io[svm::kIopmSize - 1] == 0xFFu);
  BOOST_REQUIRE(svm::build_msrpm(a, msrpm));
  const uint8_t* ms = m.map(msrpm, svm::kMsrpmSize);
  uint32_t byte;
  unsigned bit;
  BOOST_REQUIRE(svm::msrpm_position(svm::kMsrFsBase, byte, bit));
  BOOST_TEST(byte == 0x800u + 0x100u * 2 / 8);  // APM §15.11: C000_0000h vector at 800h
  BOOST_TEST(((ms[byte] >> bit) & 3) == 0u);    // FS_BASE passes through
  BOOST_REQUIRE(svm::msrpm_position(0xC0000080, byte, bit));  // EFER is intercepted
  BOOST_TEST(byte == 0x800u + 0x80u * 2 / 8);
  BOOST_TEST(((ms[byte] >> bit) & 3) == 3u);
  BOOST_REQUIRE(svm::msrpm_position(0x10, byte, bit));
  BOOST_TEST(byte == 4u);
  BOOST_TEST(bit == 0u);
  BOOST_REQUIRE(svm::msrpm_position(0xC0010117, byte, bit));  // VM_HSAVE_PA
  BOOST_TEST(byte == 0x1000u + 0x117u * 2 / 8);
  BOOST_TEST(((ms[byte] >> bit) & 3) == 3u);
  BOOST_TEST(!svm::msrpm_position(0x40000000, byte, bit));
}

BOOST_AUTO_TEST_CASE(cpuid_policy_hides_hypervisor_and_svm) {
  CpuidPolicy p;
  default_cpuid(p);
  uint32_t r[4];
  cpuid_lookup(p, 0, 0, r);
  char vendor[13] = {};
  std::memcpy(vendor, &r[1], 4);
  std::memcpy(vendor + 4, &r[3], 4);
  std::memcpy(vendor + 8, &r[2], 4);
  BOOST_TEST(std::string(vendor) == "AuthenticAMD");
  cpuid_lookup(p, 1, 0, r);
  BOOST_TEST((r[2] & kCpuidHypervisorBit) == 0u);
  BOOST_TEST(r[3] == 0x178BFBFFu);
  cpuid_lookup(p, 0x80000001, 0, r);
  BOOST_TEST((r[2] & kCpuidSvmBit) == 0u);
  BOOST_TEST((r[3] & (1u << 29)) != 0u);  // long mode
  cpuid_lookup(p, 0x8000000A, 0, r);
  BOOST_TEST((r[0] | r[1] | r[2] | r[3]) == 0u);
  cpuid_lookup(p, 0x40000000, 0, r);
  BOOST_TEST((r[0] | r[1] | r[2] | r[3]) == 0u);
  cpuid_lookup(p, 0x12345, 0, r);  // unlisted leaf: zeros
  BOOST_TEST((r[0] | r[1] | r[2] | r[3]) == 0u);
  p.hide_hypervisor = p.hide_svm = false;
  cpuid_lookup(p, 1, 0, r);
  BOOST_TEST((r[2] & kCpuidHypervisorBit) != 0u);
  cpuid_lookup(p, 0x80000001, 0, r);
  BOOST_TEST((r[2] & kCpuidSvmBit) != 0u);
  cpuid_lookup(p, 0x40000000, 0, r);
  BOOST_TEST(r[1] == 0x6f646552u);  // "Redo"
}

BOOST_AUTO_TEST_CASE(virtual_uart_thr_lsr_and_log) {
  TestConsole con;
  uint8_t log[8];
  VirtualUart u;
  u.init(&con, "g1", log, sizeof log);
  BOOST_TEST(u.in(0x3FD) == 0x60u);  // THRE | TEMT
  for (char c : std::string("hi\n")) u.out(0x3F8, uint8_t(c));
  BOOST_TEST(con.out == "[g1] hi\n");
  u.out(0x3FB, 0x80);  // DLAB: 0x3F8 is the divisor latch now
  u.out(0x3F8, 0x01);
  BOOST_TEST(u.in(0x3F8) == 0x01u);
  u.out(0x3FB, 0x03);
  u.out(0x3FF, 0x5A);
  BOOST_TEST(u.in(0x3FF) == 0x5Au);
  const uint8_t more[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g'};
  u.write_bytes(more, sizeof more);
  u.flush();
  // Once the log is full the rest is counted only, not echoed either (a flood costs the host nothing).
  BOOST_TEST(con.out == "[g1] hi\n[g1] abcde\n[g1] (serial log of 8 bytes full: further output dropped)\n");
  BOOST_TEST(u.log_len() == 8u);  // capped
  BOOST_TEST(u.dropped() == 2u);
  BOOST_TEST(std::string(reinterpret_cast<char*>(log), 8) == "hi\nabcde");
}

BOOST_AUTO_TEST_CASE(guest_c_header_matches_the_hypervisor_abi) {
  BOOST_TEST(RD_HC_CONSOLE_WRITE == kHcConsoleWrite);
  BOOST_TEST(RD_HC_YIELD == kHcYield);
  BOOST_TEST(RD_HC_SHUTDOWN == kHcShutdown);
  BOOST_TEST(RD_HC_GET_LAUNCH_INFO == kHcGetLaunchInfo);
  BOOST_TEST(RD_HC_SET_TIMER == kHcSetTimer);
  BOOST_TEST(RD_MAX_TIMER_TICKS == kMaxTimerTicks);
  BOOST_TEST(RD_HC_EFAULT == kHcEFault);
  BOOST_TEST(RD_HC_EINVAL == kHcEInval);
  BOOST_TEST(RD_HC_ENOSYS == kHcENosys);
  BOOST_TEST(RD_BOOT_INFO_GPA == kGuestBootInfoGpa);
  BOOST_TEST(RD_IMAGE_GPA == kGuestImageGpa);
  BOOST_TEST(RD_PML4_GPA == kGuestPml4Gpa);
  BOOST_TEST(sizeof(struct rd_boot_info) == sizeof(GuestBootInfo));
  BOOST_TEST(offsetof(struct rd_boot_info, args) == offsetof(GuestBootInfo, args));
  BOOST_TEST(offsetof(struct rd_boot_info, name) == offsetof(GuestBootInfo, name));
  BOOST_TEST(offsetof(struct rd_boot_info, cmdline_gpa) == offsetof(GuestBootInfo, cmdline_gpa));
  BOOST_TEST(offsetof(struct rd_boot_info, svn) == offsetof(GuestBootInfo, svn));
  BOOST_TEST(sizeof(struct rd_launch_info) == sizeof(LaunchInfo));
  BOOST_TEST(offsetof(struct rd_launch_info, guest_id) == offsetof(LaunchInfo, guest_id));
}

BOOST_AUTO_TEST_CASE(exit_code_names) {
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitIoio)) == "IOIO");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitNpf)) == "NPF");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitCpuid)) == "CPUID");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitVmmcall)) == "VMMCALL");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitHlt)) == "HLT");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitIntr)) == "INTR");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitMsr)) == "MSR");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitExcp0 + 14)) == "EXCP_PF");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitEferWriteTrap)) == "EFER_WRITE_TRAP");
  BOOST_TEST(std::string(svm::exit_code_name(svm::kExitInvalid)) == "INVALID");
}
