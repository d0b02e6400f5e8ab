// The measured images run: the simulated CPU executes sl.bin (stage 1, then the
// pinned sl2.bin) and hv.bin (engine "full-system", the default; "native-sl"
// runs the native SL and then hv.bin). Checked against the native build of the
// same sources, and with hypervisor images that are signed but wrong: what runs
// is what was measured, faults included.
#define BOOST_TEST_MODULE measured_hv
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "abi/hv_image.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

// `state`: share keys, PKI and TPM state between runs; `policy`: the launch policy to reuse
// (the demo policy is dated now, so two runs only measure the same PCR17 with the same file).
std::unique_ptr<GuestRun> run_with(const std::string& engine, const fs::path* hypervisor = nullptr,
                                   const fs::path* state = nullptr, const fs::path* policy = nullptr) {
  tools::RunOptions o;
  o.launch.engine = engine;
  if (hypervisor) o.launch.hypervisor = hypervisor->string();
  return run_in_state(std::move(o), state, policy);
}

}  // namespace

BOOST_AUTO_TEST_CASE(hv_bin_runs_the_demo_guests_like_the_native_build) {
  TempDir shared;
  const fs::path state = shared / "state";
  auto native = run_with("native", nullptr, &state);
  const fs::path policy = native->dir / "out/launch.policy";
  for (const char* engine : {"native-sl", "full-system"}) {
  BOOST_TEST_CONTEXT("engine " << engine) {
  auto measured = run_with(engine, nullptr, &state, &policy);
  const auto& a = native->result;
  const auto& b = measured->result;
  BOOST_TEST(b.launch.report.launched);
  BOOST_TEST(b.launch.report.mode == engine);
  BOOST_TEST(b.ran);
  BOOST_TEST_REQUIRE(a.guests.size() == 4u);
  BOOST_TEST_REQUIRE(b.guests.size() == a.guests.size());
  for (size_t i = 0; i < a.guests.size(); ++i) {
    BOOST_TEST_INFO("guest " << a.guests[i].name);
    BOOST_TEST(b.guests[i].status == "exited");
    BOOST_TEST(b.guests[i].status == a.guests[i].status);
    BOOST_TEST(b.guests[i].exit_code == a.guests[i].exit_code);
    BOOST_TEST(without_tsc_line(b.guests[i].serial) == without_tsc_line(a.guests[i].serial));
    BOOST_TEST(!b.guests[i].serial.empty());
    BOOST_TEST(b.guests[i].scrubbed);
    BOOST_TEST(b.guests[i].instructions > 0u);
  }
  // The same measurements, made by hv.bin's own TIS driver at locality 2: PCR17-20 equal in every bank.
  for (const auto& [bank, pcrs] : a.launch.pcrs)
    for (uint32_t pcr : {17u, 18u, 19u, 20u}) {
      BOOST_TEST_INFO("bank " << hash_alg_name(bank) << " PCR" << pcr);
      BOOST_TEST((b.launch.pcrs.at(bank).at(pcr) == pcrs.at(pcr)));
    }
  // The hypervisor's console came from hv.bin through the simulated 16550.
  bool entry = false;
  for (const auto& l : measured->console) entry = entry || l.find("[hv] bare-metal entry: image at 0x1100000") != std::string::npos;
  BOOST_TEST(entry);
  }
  }
}

BOOST_AUTO_TEST_CASE(a_signed_int3_hypervisor_faults_and_runs_no_guest) {
  TempDir t;
  // A valid image header, then int3 everywhere; the demo key signs it (a trusted signer, wrong code).
  std::vector<uint8_t> img(4096, 0xCC);
  hv::HvImageHeader h{};
  std::memcpy(h.magic, hv::kHvImageMagic, 8);
  h.header_size = sizeof h;
  h.entry_offset = 0x100;
  h.image_size = img.size();
  std::memcpy(img.data(), &h, sizeof h);
  const fs::path file = t / "int3-hv.bin";
  write_file(file, img);
  auto r = run_with("full-system", &file);
  const auto& rep = r->result.launch.report;
  BOOST_TEST(!rep.launched);
  BOOST_TEST(rep.hypervisor_entered);  // measured and entered ...
  BOOST_TEST(rep.stage == "hypervisor");
  BOOST_TEST(rep.reason.find("#BP") != std::string::npos, rep.reason);  // ... and it faulted where the int3 is
  BOOST_TEST(rep.reason.find("0x1100100") != std::string::npos, rep.reason);
  BOOST_TEST(r->result.guests.empty());  // no guest ran
  BOOST_TEST(!r->result.ran);
}

BOOST_AUTO_TEST_CASE(one_changed_byte_of_hv_code_changes_what_runs) {
  TempDir t;
  std::vector<uint8_t> img = read_file(build_dir() / "hv.bin");
  hv::HvImageHeader h;
  std::memcpy(&h, img.data(), sizeof h);
  BOOST_TEST_REQUIRE(int(img[h.entry_offset]) == 0xFA);  // hv_entry64 starts with CLI
  img[h.entry_offset] = 0xF4;                            // HLT, with interrupts off: nothing will ever wake it
  const fs::path file = t / "hlt-hv.bin";
  write_file(file, img);
  auto r = run_with("full-system", &file);  // re-signed by the demo key: measured as it is, and it runs as it is
  const auto& rep = r->result.launch.report;
  BOOST_TEST(!rep.launched);
  BOOST_TEST(rep.stage == "hypervisor");
  BOOST_TEST(rep.reason.find("halted at RIP 0x1100021 with nothing that could wake it") != std::string::npos, rep.reason);
  BOOST_TEST(r->result.guests.empty());
}
