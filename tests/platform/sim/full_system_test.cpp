// What is measured is what runs: the full-system machine executes the real
// sl.bin from the state SKINIT leaves (32-bit protected mode, paging off), and
// a tampered SLB faults where the tampering is, with nothing launched and
// PCR17 exactly what the TPM holds for the tampered bytes (computed here with
// OpenSSL from the measured region).
#define BOOST_TEST_MODULE full_system
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "abi/launch_outcome.hpp"
#include "platform/sim/full_system.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

struct Run {
  sim::LaunchReport report;
  std::vector<std::string> console;
  Bytes pcr17_sha256;
  bool has(const std::string& s) const {
    for (const std::string& l : console)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
};

Run run_full_system(const sim::LaunchInputs& in, const fs::path& state) {
  auto tpm = fresh_inproc_tpm(state);
  sim::Machine m;
  Run r;
  sim::FullSystem system(m, *tpm, [&](std::string_view l) { r.console.emplace_back(l); },
                         sim::FullSystemOptions{2'000'000'000ull});
  r.report = system.launch(in);
  r.pcr17_sha256 = read_pcr(*tpm, HashAlg::sha256, 17);
  return r;
}

// PCR17 after SKINIT alone: H(0^32 || H(SLB[0:length])) (TCG D-RTM; platform-facts).
Bytes pcr17_after_skinit(const Bytes& slb_image) {
  uint16_t length;
  std::memcpy(&length, slb_image.data() + 2, 2);
  return extend("SHA256", zeros(32), sha("SHA256", Bytes(slb_image.begin(), slb_image.begin() + length)));
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_measured_sl_bin_executes_from_the_skinit_state) {
  LaunchKit kit;
  Run r = run_full_system(kit.inputs(), kit.dir / "tpm");
  BOOST_TEST(r.report.mode == "full-system");
  // The real image went 32-bit -> long mode -> relocated C++ (stage 1) -> stage 2,
  // checked against the pin, -> secure_loader_main on the TIS driver -> hv.bin.
  BOOST_TEST(r.has("[sl] stage 1 in long mode: SLB at 0x1000000"));
  BOOST_TEST(r.has("match the SLB's pin; entering it"));
  BOOST_TEST(r.has("[sl] Redoubt secure loader entered, SLB at 0x1000000"));
  BOOST_TEST(r.has("[hv] Redoubt hypervisor redoubt-hypervisor 1.2.3 entered"));
  // The simulator has a DEV: the first choice, in every stage (AMD-Vi is for DEV-less machines).
  BOOST_TEST(r.has("[sl] DMA protection: AMD DEV enabled"));
  BOOST_TEST(r.has("[sl] DMA protection: AMD DEV attached"));
  BOOST_TEST(r.has("[hv] DMA protection: AMD DEV attached"));
  BOOST_TEST(r.report.launched);
  BOOST_TEST(r.report.hypervisor_entered);
  BOOST_TEST(r.report.exit_status == 1);  // (ok << 1) | 1: powered off by hv.bin as "ok"
  // PCR17 from first principles (docs/pcr-map.md): SKINIT's measurement of the SLB
  // (the stage-2 pin inside it), then the SL's manifest, image and separator events.
  Bytes p17 = pcr17_after_skinit(kit.sl_sealed);
  p17 = extend("SHA256", p17, sha("SHA256", kit.payload));
  p17 = extend("SHA256", p17, sha("SHA256", kit.hv_image));
  p17 = extend("SHA256", p17, sha("SHA256", Bytes{0, 0, 0, 0}));
  BOOST_TEST(hex(r.pcr17_sha256) == hex(p17));
}

// Stage 2 is not in the SLB, so SKINIT does not hash it; the pin it does hash
// must stop a different stage 2 before its first instruction.
BOOST_AUTO_TEST_CASE(a_changed_stage_2_is_refused_by_stage_1_and_the_pcrs_are_capped) {
  LaunchKit kit;
  sim::LaunchInputs in = kit.inputs();
  in.sl_stage2[in.sl_stage2.size() / 2] ^= 0x01;
  Run r = run_full_system(in, kit.dir / "tpm");
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  BOOST_TEST(r.report.stage == "sl");
  BOOST_TEST(r.report.exit_status == ((static_cast<int>(redoubt::abi::ExitStatus::launch_refused) << 1) | 1));
  BOOST_TEST(r.report.reason.find("is not the pinned") != std::string::npos, r.report.reason);
  BOOST_TEST(!r.has("[sl] Redoubt secure loader entered"));  // stage 2 never ran
  // Capped: PCR17 = SKINIT's measurement, then TPM2_PCR_Event over the reason.
  const std::string why = r.report.reason;  // "<err>: <message>", as stage 1 formats it
  Bytes p17 = extend("SHA256", pcr17_after_skinit(in.sl_image), sha("SHA256", Bytes(why.begin(), why.end())));
  BOOST_TEST(hex(r.pcr17_sha256) == hex(p17));
  // No stage 2 at all: refused by name, too.
  sim::LaunchInputs none = kit.inputs();
  none.sl_stage2.clear();
  Run r2 = run_full_system(none, kit.dir / "tpm2");
  BOOST_TEST(!r2.report.launched);
  BOOST_TEST(r2.report.reason.find("no SL stage 2 region") != std::string::npos, r2.report.reason);
}

BOOST_AUTO_TEST_CASE(an_int3_slb_faults_at_its_entry_and_nothing_is_launched) {
  LaunchKit kit;
  sim::LaunchInputs in = kit.inputs();
  uint16_t entry;
  std::memcpy(&entry, in.sl_image.data(), 2);
  std::memset(in.sl_image.data() + entry, 0xCC, 4096);  // int3 over the entry point (the first case)
  Run r = run_full_system(in, kit.dir / "tpm");
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  BOOST_TEST(r.report.stage == "sl");
  BOOST_TEST_REQUIRE(r.report.fault.has_value());
  BOOST_TEST(int(r.report.fault->vector) == 3);  // #BP
  BOOST_TEST(r.report.fault_rip == in.layout.slb_base + entry);
  BOOST_TEST(r.report.reason.find("triple fault") != std::string::npos);
  BOOST_TEST(r.report.exit_status == -1);  // it never reached the power-off port
  BOOST_TEST(!r.has("[sl]"));              // not one instruction of the SL ran
  // PCR17 is what the TPM really holds: the measurement of the tampered bytes.
  BOOST_TEST(hex(r.pcr17_sha256) == hex(pcr17_after_skinit(in.sl_image)));
  BOOST_TEST(hex(r.pcr17_sha256) != hex(pcr17_after_skinit(kit.sl_sealed)));
}

BOOST_AUTO_TEST_CASE(one_byte_of_sl_code_changed_changes_what_runs) {
  LaunchKit kit;
  sim::LaunchInputs in = kit.inputs();
  uint16_t entry;
  std::memcpy(&entry, in.sl_image.data(), 2);
  // The SL's first instruction is `mov %eax, %ebp` (89 C5): make it `mov %eax, %esp` (89 C4).
  BOOST_TEST_REQUIRE(int(in.sl_image[entry]) == 0x89);
  BOOST_TEST_REQUIRE(int(in.sl_image[entry + 1]) == 0xC5);
  in.sl_image[entry + 1] = 0xC4;
  Run r = run_full_system(in, kit.dir / "tpm");
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.has("[sl] Redoubt secure loader entered"));  // the changed code did not reach C++
  BOOST_TEST(r.report.stage == "sl");
  BOOST_TEST(hex(r.pcr17_sha256) == hex(pcr17_after_skinit(in.sl_image)));
}
