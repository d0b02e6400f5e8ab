// SKINIT on the simulated machine (AMD APM vol. 2 §15.27, vol. 3 SKINIT):
// preconditions and their faults, the SL entry state, DEV protection of the
// SLB, and the locality-4 measurement — each checked against independent values.
#define BOOST_TEST_MODULE skinit
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "platform/fake/launch.hpp"
#include "platform/sim/skinit.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::sim;
using namespace redoubt::test;

namespace {

constexpr uint64_t kBase = 0x01000000;

// A machine whose BSP is in 64-bit kernel mode with SVM on, APs in INIT, and a
// small SLB (entry 0x40, length 0x200) at kBase.
struct Rig {
  TempDir state;
  std::unique_ptr<TpmDevice> tpm = fresh_inproc_tpm(state.path());
  Machine m;
  Bytes slb_bytes;
  Rig() {
    slb_bytes.resize(0x200);
    for (size_t i = 0; i < slb_bytes.size(); ++i) slb_bytes[i] = static_cast<uint8_t>(i * 7 + 3);
    uint16_t entry = 0x40, len = 0x200;
    std::memcpy(slb_bytes.data(), &entry, 2);
    std::memcpy(slb_bytes.data() + 2, &len, 2);
    m.mem().write(kBase, slb_bytes);
    CpuState& c = m.bsp();
    c.cr0 = kCr0Pe | kCr0Pg | 0x10;
    c.efer = kEferSvme | (1 << 8) | (1 << 10);
    c.rflags = 0x202;  // IF = 1
    c.cpl = 0;
    c.rax = kBase;
    for (auto& ap : m.aps()) ap.run = RunState::init_wait;
  }
  SkinitResult run() { return skinit(m.bsp(), m.aps(), m.mem(), m.dev(), *tpm); }
  Bytes pcr(uint32_t i) { return read_pcr(*tpm, HashAlg::sha256, i); }
};

void expect_fault_changes_nothing(Rig& rig, uint8_t vector, const std::string& why_fragment) {
  CpuState before = rig.m.bsp();
  SkinitResult r = rig.run();
  BOOST_REQUIRE(r.fault.has_value());
  BOOST_TEST(r.fault->vector == vector);
  BOOST_TEST(r.fault->error_code == 0u);
  BOOST_TEST_INFO("why: " << r.fault->why);
  BOOST_TEST(r.fault->why.find(why_fragment) != std::string::npos);
  // Nothing measured, nothing protected, CPU untouched.
  BOOST_TEST(hex(rig.pcr(17)) == hex(ones(32)));
  BOOST_TEST(hex(rig.pcr(18)) == hex(ones(32)));
  BOOST_TEST(rig.m.dev().protected_pages() == 0u);
  BOOST_TEST(rig.m.bsp().rip == before.rip);
  BOOST_TEST(rig.m.bsp().cr0 == before.cr0);
  BOOST_TEST(rig.m.bsp().gif == before.gif);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sl_entry_state_follows_the_apm) {
  Rig rig;
  rig.m.bsp().rax = kBase + 0x1234;  // EAX[15:0] are ignored
  SkinitResult r = rig.run();
  BOOST_REQUIRE(!r.fault);
  const CpuState& c = rig.m.bsp();
  BOOST_TEST(r.slb_base == kBase);
  BOOST_TEST(c.rax == kBase);                                  // EAX = SLB base
  BOOST_TEST(c.rsp == kBase + 0x10000);                        // ESP = SLB base + 64 KiB
  BOOST_TEST(c.rip == kBase + 0x40);                           // entry = base + word 0
  BOOST_TEST(c.rdx == kSimCpuidFamilyModelStepping);           // EDX = family/model/stepping
  BOOST_TEST((c.cr0 & kCr0Pe) != 0u);                          // protected mode
  BOOST_TEST((c.cr0 & kCr0Pg) == 0u);                          // paging off
  BOOST_TEST(c.efer == 0u);                                    // long mode (and SVME) off
  BOOST_TEST(!c.gif);                                          // GIF = 0
  BOOST_TEST((c.rflags & kRflagsIf) == 0u);                    // interrupts disabled
  BOOST_TEST(c.init_held);
  BOOST_TEST(c.nmi_held);
  BOOST_TEST(c.smi_held);
  BOOST_TEST(c.cs.base == 0u);                                 // flat 4 GiB 32-bit code
  BOOST_TEST(c.cs.limit == 0xFFFFFFFFu);
  BOOST_TEST((c.cs.attrib & 0x400) != 0);                      // D = 1
  BOOST_TEST((c.cs.attrib & 0x200) == 0);                      // L = 0
  BOOST_TEST(c.ss.base == 0u);
  BOOST_TEST(c.ss.limit == 0xFFFFFFFFu);
  BOOST_TEST(c.cpl == 0u);
}

BOOST_AUTO_TEST_CASE(measurement_is_slb_prefix_at_locality_4) {
  Rig rig;
  SkinitResult r = rig.run();
  BOOST_REQUIRE(!r.fault);
  BOOST_TEST(r.length == 0x200);
  BOOST_TEST(r.measured == rig.slb_bytes);
  BOOST_TEST(hex(rig.pcr(17)) == hex(extend("SHA256", zeros(32), sha("SHA256", rig.slb_bytes))));
  for (uint32_t p : {18u, 19u, 20u, 21u, 22u}) BOOST_TEST(hex(rig.pcr(p)) == hex(zeros(32)));
  Bytes p17_384 = read_pcr(*rig.tpm, HashAlg::sha384, 17);
  BOOST_TEST(hex(p17_384) == hex(extend("SHA384", zeros(48), sha("SHA384", rig.slb_bytes))));
}

BOOST_AUTO_TEST_CASE(whole_slb_is_dma_protected_and_dma_cannot_change_or_read_it) {
  Rig rig;
  BOOST_REQUIRE(!rig.run().fault);
  BOOST_TEST(rig.m.dev().all_protected(kBase, 0x10000));
  BOOST_TEST(rig.m.dev().protected_pages() == 16u);
  BOOST_TEST(!rig.m.dev().page_protected(kBase + 0x10000));
  BOOST_TEST(!rig.m.dev().page_protected(kBase - 1));
  Bytes before = rig.m.mem().read(kBase, 0x10000);
  // A write into the unmeasured tail of the SLB (the stack) is blocked too.
  BOOST_TEST(!rig.m.dma().write("nic0", kBase + 0xF000, Bytes(64, 0xCC)));
  BOOST_TEST(!rig.m.dma().write("nic0", kBase + 0xFFF0, Bytes(0x20, 0xCC)));  // straddles the end
  Bytes leak(32, 0x11);
  BOOST_TEST(!rig.m.dma().read("nic0", kBase + 0x40, leak));
  BOOST_TEST(hex(leak) == hex(Bytes(32, 0x11)));  // nothing leaked into the device buffer
  BOOST_TEST(rig.m.mem().read(kBase, 0x10000) == before);
  BOOST_TEST(rig.m.dma().faults().size() == 3u);
  BOOST_TEST(rig.m.dma().faults()[0].pa == kBase + 0xF000);
  // Outside the SLB, DMA works.
  BOOST_TEST(rig.m.dma().write("nic0", kBase + 0x20000, Bytes(64, 0xCC)));
}

BOOST_AUTO_TEST_CASE(svm_disabled_raises_ud) {
  Rig rig;
  rig.m.bsp().efer &= ~kEferSvme;
  expect_fault_changes_nothing(rig, 6, "EFER.SVME = 0");
}

BOOST_AUTO_TEST_CASE(skinit_unsupported_raises_ud) {
  Rig rig;
  CpuState before = rig.m.bsp();
  SkinitResult r = skinit(rig.m.bsp(), rig.m.aps(), rig.m.mem(), rig.m.dev(), *rig.tpm, false);
  BOOST_REQUIRE(r.fault);
  BOOST_TEST(r.fault->name() == "#UD");
  BOOST_TEST(rig.m.bsp().rip == before.rip);
}

BOOST_AUTO_TEST_CASE(real_mode_raises_ud) {
  Rig rig;
  rig.m.bsp().cr0 = 0x10;
  rig.m.bsp().efer = kEferSvme;
  expect_fault_changes_nothing(rig, 6, "protected mode");
}

BOOST_AUTO_TEST_CASE(cpl3_raises_gp0) {
  Rig rig;
  rig.m.bsp().cpl = 3;
  expect_fault_changes_nothing(rig, 13, "CPL 3");
  BOOST_TEST(rig.run().fault->name() == "#GP(0)");
}

BOOST_AUTO_TEST_CASE(ap_not_in_init_raises_gp0) {
  Rig rig;
  rig.m.aps().at(0).run = RunState::running;
  expect_fault_changes_nothing(rig, 13, "APIC id 1 is not in the INIT state");
}

// The pre-launch loader's checks of the SLB image, through measured_launch:
// refused before SKINIT, so PCR17/18 keep their power-on all-ones value, which
// no DRTM event log can ever replay to (docs/skinit.md).
namespace {
void expect_loader_refusal(const sim::LaunchInputs& in, const std::string& fragment) {
  TempDir state;
  auto tpm = fresh_inproc_tpm(state.path());
  Machine m;
  LaunchReport r = measured_launch(m, *tpm, in, [](std::string_view) {});
  BOOST_TEST(!r.launched);
  BOOST_TEST(!r.hypervisor_entered);
  BOOST_TEST(r.stage == "loader");
  BOOST_TEST_INFO("reason: " << r.reason);
  BOOST_TEST(r.reason.find(fragment) != std::string::npos);
  BOOST_TEST(hex(read_pcr(*tpm, HashAlg::sha256, 17)) == hex(ones(32)));
  BOOST_TEST(hex(read_pcr(*tpm, HashAlg::sha256, 18)) == hex(ones(32)));
  BOOST_TEST(m.dev().protected_pages() == 0u);
}
}  // namespace

BOOST_AUTO_TEST_CASE(loader_refuses_bad_slb_images) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.layout.slb_base = 0x01000100;
  expect_loader_refusal(in, "not 64 KiB aligned");

  in = kit.inputs();
  in.sl_image.resize(65537, 0);
  expect_loader_refusal(in, "the SLB is 64 KiB");

  in = kit.inputs();
  uint16_t len;
  std::memcpy(&len, in.sl_image.data() + 2, 2);
  std::memcpy(in.sl_image.data(), &len, 2);  // entry = length
  expect_loader_refusal(in, "is not below the measured length");

  in = kit.inputs();
  std::memset(in.sl_image.data() + 2, 0, 2);  // length = 0
  expect_loader_refusal(in, "length is 0");
}

BOOST_AUTO_TEST_CASE(launch_with_svm_off_reports_ud_and_caps_nothing) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.svm_enabled = false;
  TempDir state;
  auto tpm = fresh_inproc_tpm(state.path());
  Machine m;
  LaunchReport r = measured_launch(m, *tpm, in, [](std::string_view) {});
  BOOST_TEST(r.stage == "skinit");
  BOOST_REQUIRE(r.fault.has_value());
  BOOST_TEST(r.fault->name() == "#UD");
  BOOST_TEST(r.reason.find("SKINIT raised #UD") != std::string::npos);
  BOOST_TEST(hex(read_pcr(*tpm, HashAlg::sha256, 17)) == hex(ones(32)));
}
