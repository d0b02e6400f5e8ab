// Unit tests of the VMX backend's pieces that need no CPU: the I/O and MSR bitmap formats
// (SDM vol. 3C §25.6.4, §25.6.9), control selection from a capability MSR (App. A.3), the EPT
// entries the core's page-table builder writes with the VMX leaf flags (§29.3.2, §29.3.3.1),
// and the exit-reason names (App. C).
#define BOOST_TEST_MODULE vmx_unit
#include <boost/test/unit_test.hpp>
#include <vector>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/ept.hpp"
#include "hypervisor/arch/vmx/vmx_vcpu.hpp"
#include "hypervisor/core/vm.hpp"

using namespace redoubt;
using namespace redoubt::hv;

namespace {

class TestMem final : public hal::PhysMem {
 public:
  explicit TestMem(uint64_t size) : b_(size, 0xCC) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return pa <= b_.size() && n <= b_.size() - pa ? b_.data() + pa : nullptr; }
  std::vector<uint8_t> b_;
};

constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

BOOST_AUTO_TEST_CASE(io_bitmaps_a_and_b) {
  TestMem m(4 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 0, 4 * kMiB));
  IoGrant g{0x80, 2};
  uint64_t pa = 0;
  BOOST_REQUIRE(vmx::build_io_bitmaps(a, &g, 1, pa));
  BOOST_TEST(pa % 4096 == 0u);
  const uint8_t* io = m.map(pa, 8192);
  BOOST_TEST(vmx::io_bitmap_exits(io, 0x3F8));
  BOOST_TEST(vmx::io_bitmap_exits(io, 0x7F));
  BOOST_TEST(!vmx::io_bitmap_exits(io, 0x80));
  BOOST_TEST(!vmx::io_bitmap_exits(io, 0x81));
  BOOST_TEST(vmx::io_bitmap_exits(io, 0x82));
  BOOST_TEST(io[0x80 / 8] == 0xFCu);          // bitmap A: bit (port mod 8) of byte port/8
  BOOST_TEST(io[4096] == 0xFFu);              // bitmap B starts at port 8000H
  BOOST_TEST(vmx::io_bitmap_exits(io, 0xFFFF));
  BOOST_TEST(io[8191] == 0xFFu);
}

BOOST_AUTO_TEST_CASE(msr_bitmap_quadrants) {
  TestMem m(4 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 0, 4 * kMiB));
  uint64_t pa = 0;
  BOOST_REQUIRE(vmx::build_msr_bitmap(a, pa));
  const uint8_t* b = m.map(pa, 4096);
  uint32_t byte;
  unsigned bit;
  BOOST_REQUIRE(vmx::msr_bitmap_position(0xC0000100, byte, bit));  // FS_BASE
  BOOST_TEST(byte == 1024u + 0x100u / 8);                           // read bitmap for high MSRs at 1024
  BOOST_TEST(bit == 0u);
  BOOST_TEST(((b[byte] >> bit) & 1) == 0u);         // read passes through
  BOOST_TEST(((b[byte + 2048] >> bit) & 1) == 0u);  // write bitmap for high MSRs at 3072
  BOOST_REQUIRE(vmx::msr_bitmap_position(0xC0000102, byte, bit));  // KERNEL_GS_BASE: exits (not in the VMCS)
  BOOST_TEST(((b[byte] >> bit) & 1) == 1u);
  BOOST_TEST(((b[byte + 2048] >> bit) & 1) == 1u);
  BOOST_REQUIRE(vmx::msr_bitmap_position(0xC0000080, byte, bit));  // EFER
  BOOST_TEST(byte == 1024u + 0x10u);
  BOOST_TEST(((b[byte] >> bit) & 1) == 1u);
  BOOST_REQUIRE(vmx::msr_bitmap_position(0x10, byte, bit));  // TSC: read bitmap for low MSRs at 0
  BOOST_TEST(byte == 2u);
  BOOST_TEST(bit == 0u);
  BOOST_TEST(!vmx::msr_bitmap_position(0xC0010117, byte, bit));  // AMD's range: always exits (§26.1.3)
  BOOST_TEST(!vmx::msr_bitmap_position(0x40000000, byte, bit));
}

BOOST_AUTO_TEST_CASE(controls_follow_allowed0_and_allowed1) {
  namespace pin = redoubt::vmx::pin;
  // App. A.3.1: bits 31:0 allowed-0 (1 = must be 1), bits 63:32 allowed-1 (0 = must be 0).
  const uint64_t cap = (uint64_t(pin::kDefault1 | pin::kExternalInterruptExiting | pin::kPreemptionTimer) << 32) | pin::kDefault1;
  uint32_t out = 0;
  BOOST_REQUIRE(vmx::adjust_controls(cap, pin::kExternalInterruptExiting, pin::kPreemptionTimer | pin::kVirtualNmis, out));
  BOOST_TEST(out == (pin::kDefault1 | pin::kExternalInterruptExiting | pin::kPreemptionTimer));  // vNMI not allowed: dropped
  BOOST_TEST(!vmx::adjust_controls(cap, pin::kNmiExiting, 0, out));  // a required control the CPU does not allow
  const uint64_t no_timer = (uint64_t(pin::kDefault1 | pin::kExternalInterruptExiting) << 32) | pin::kDefault1;
  BOOST_REQUIRE(vmx::adjust_controls(no_timer, pin::kExternalInterruptExiting, pin::kPreemptionTimer, out));
  BOOST_TEST((out & pin::kPreemptionTimer) == 0u);
}

BOOST_AUTO_TEST_CASE(ept_built_by_the_core_builder_is_well_formed) {
  namespace ept = redoubt::vmx::ept;
  TestMem m(16 * kMiB);
  PageAllocator a;
  BOOST_REQUIRE(a.init(m, 8 * kMiB, 8 * kMiB));
  PhysTables tm(m, &a);
  PageTableBuilder pt(tm);
  BOOST_REQUIRE(pt.create());
  const uint64_t ram = x86::kPteWrite | x86::kPteUser | (6ull << 3);  // Hypervisor::init's EPT RAM flags
  const uint64_t mmio = x86::kPteWrite | x86::kPteUser;               // and MMIO (UC)
  BOOST_REQUIRE(pt.map(0, 0x200000, 4 * kMiB + 4096, ram));           // two 2 MiB pages and one 4 KiB page
  BOOST_REQUIRE(pt.map(0xFEB00000, 0xFEB00000, 0x2000, mmio, false));
  int leaves = 0;
  pt.for_each_leaf([&](const Leaf& l) {
    const uint64_t e = l.flags;
    ++leaves;
    BOOST_TEST((e & ept::kPermMask) == ept::kPermMask);  // R W X
    BOOST_TEST(!ept::rwx_misconfigured(e, false));
    BOOST_TEST(!ept::memtype_reserved(e));
    BOOST_TEST(((e & ept::kMemTypeMask) >> ept::kMemTypeShift) == (l.va >= 0xFEB00000 ? uint64_t(ept::kUc) : uint64_t(ept::kWb)));
    BOOST_TEST((e & ept::kSuppressVe) == 0u);
    BOOST_TEST(bool(e & ept::kLargePage) == (l.size == 2 * kMiB));
    return true;
  });
  BOOST_TEST(leaves == 2 + 1 + 2);
  // Non-leaf entries: R W X and nothing in the PML4E's reserved bits 7:3 (§29.3.3.1).
  const uint64_t pml4e = tm.table(pt.root())[0];
  BOOST_TEST((pml4e & 0xFF) == 7u);
  BOOST_TEST(redoubt::vmx::ept::eptp::make(pt.root(), ept::kWb, false) == (pt.root() | 0x1E));
  // The NPT's MMIO flags (PCD) would be EPT memory type 2: a misconfiguration, hence the VMX flags.
  BOOST_TEST(ept::memtype_reserved(x86::kPteWrite | x86::kPteUser | x86::kPtePcd));
}

BOOST_AUTO_TEST_CASE(exit_reason_names) {
  BOOST_TEST(std::string(vmx::exit_reason_name(48)) == "EPT violation");
  BOOST_TEST(std::string(vmx::exit_reason_name(49)) == "EPT misconfiguration");
  BOOST_TEST(std::string(vmx::exit_reason_name(2)) == "triple fault");
  BOOST_TEST(std::string(vmx::exit_reason_name(18)) == "VMCALL");
  BOOST_TEST(std::string(vmx::exit_reason_name(52)) == "VMX-preemption timer expired");
  BOOST_TEST(std::string(vmx::exit_reason_name(1000)) == "?");
}
