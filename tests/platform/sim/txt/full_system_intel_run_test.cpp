// `redoubt run --platform intel` (issue 12 "Must show"): the four demo guests on the Intel TXT
// machine — GETSEC[SENTER] with a SINIT ACM this test builds and signs, sl.bin as the MLE on the
// PMRs SINIT set, hv.bin taking DMA protection over with VT-d and running the guests on VMX/EPT —
// against the same guests on the AMD machine (SKINIT, DEV, SVM/NPT): the same serial output (the
// sha256 guest's TSC line aside), statuses and exit codes; PCR19/20 equal in every bank; PCR17/18
// computed here with OpenSSL from the ACM, the MLE (sl.bin as loaded), the SINIT details and the
// SL's own measurements. docs/intel.md "The Intel platform".
#define BOOST_TEST_MODULE full_system_intel_run
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstring>

#include "arch/intel/mle.hpp"
#include "arch/intel/txt_regs.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/txt/senter.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/acm_build.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/pki_build.hpp"
#include "tests/hypervisor/run_support.hpp"
#include "tests/support/txt_da_pcrs.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

std::unique_ptr<GuestRun> run_on(const std::string& platform, const fs::path& state, const fs::path* policy,
                                 const fs::path* acm = nullptr, const fs::path* chipset_key = nullptr) {
  tools::RunOptions o;
  o.launch.platform = platform;
  o.launch.engine = "full-system";
  if (acm) {
    o.launch.acm = acm->string();
    o.launch.chipset_key = chipset_key->string();
    o.launch.sinit_svn_floor = 2;
  }
  return run_in_state(std::move(o), &state, policy);
}

// The SL's own measurements (everything after the CPU's first record), as digests the test
// recomputes from each event's data with OpenSSL, per PCR, in order.
std::map<uint32_t, std::vector<Bytes>> sl_measurements(const Bytes& log_bytes) {
  policy::EventLog log = policy::parse_event_log(log_bytes);
  std::map<uint32_t, std::vector<Bytes>> out;
  BOOST_REQUIRE(!log.events.empty());
  BOOST_REQUIRE_EQUAL(log.events[0].type, policy::kEvSkinitSlb);  // the AMD run's log: SKINIT's record first
  for (size_t i = 1; i < log.events.size(); ++i) {
    const policy::LogEvent& e = log.events[i];
    if (e.pcr != 17 && e.pcr != 18) continue;
    Bytes d = sha("SHA256", Bytes(e.data.begin(), e.data.end()));
    if (e.type == policy::kEvHvImage) d = sha("SHA256", read_file(build_dir() / "hv.bin"));  // event data names it
    for (const auto& [alg, dig] : e.digests)
      if (alg == HashAlg::sha256) BOOST_TEST(hex(Bytes(dig.begin(), dig.end())) == hex(d), "event " << i);
    out[e.pcr].push_back(d);
  }
  return out;
}

// PCR17/18 of a TXT launch, in one place: SINIT's details/authorities measurements (docs/pcr-map.md
// "Intel TXT (SENTER)", computed by tests/support/txt_da_pcrs.hpp from the ACM, the MLE and the
// capabilities the loader asks for: a TCG 2.0 log and the D/A mapping), then the SL's own PCR17 and
// PCR18 events appended to SINIT's log.
std::pair<Bytes, Bytes> expected_txt_pcr17_18(const Bytes& acm, const Bytes& mle,
                                              std::map<uint32_t, std::vector<Bytes>>& sl) {
  const uint32_t caps = arch::txt::mle_caps::kTcg2EventLog | arch::txt::mle_caps::kPcrMapDa;
  Bytes p17 = txt_da_pcr17("SHA256", 32, acm, mle, caps);
  for (const Bytes& d : sl[17]) p17 = extend("SHA256", p17, d);
  Bytes p18 = txt_da_pcr18("SHA256", 32, acm, caps);
  for (const Bytes& d : sl[18]) p18 = extend("SHA256", p18, d);
  return {p17, p18};
}

}  // namespace

BOOST_AUTO_TEST_CASE(demo_guests_on_the_intel_platform_match_the_amd_run) {
  TempDir shared;
  const fs::path state = shared / "state";
  // The chipset key and the SINIT ACM, made here (TXT SVN 2, chipset floor 2).
  policy::EvpKey chipset = policy::generate_chipset_key();
  const fs::path key_pem = shared / "chipset.pem", acm_path = shared / "sinit.acm";
  policy::write_private_key_pem(key_pem.string(), chipset);
  policy::AcmOptions ao;
  ao.txt_svn = 2;
  const Bytes acm = policy::build_sinit_acm(chipset, ao);
  write_file(acm_path, acm);

  auto amd = run_on("amd", state, nullptr);
  BOOST_TEST_REQUIRE(amd->result.ran, amd->result.launch.report.reason);
  const fs::path policy = amd->dir / "out/launch.policy";
  auto intel = run_on("intel", state, &policy, &acm_path, &key_pem);
  for (const auto& l : intel->console) BOOST_TEST_MESSAGE(l);
  BOOST_TEST_REQUIRE(intel->result.ran, intel->result.launch.report.reason);
  BOOST_TEST(intel->result.hv_status == "ok");
  BOOST_TEST(intel->result.launch.launch_json["platform"] == "intel");
  BOOST_TEST(intel->result.launch.launch_json["drtm"] == "senter");

  // The Intel machine, end to end: SENTER, the SL on SINIT's PMRs, VT-d taken over, VMX.
  BOOST_TEST(console_has(*intel, "[cpu] SENTER: SINIT ACM"));
  BOOST_TEST(console_has(*intel, "[chipset] VT-d PMRs enabled: low [0x0, 0xfe00000]"));
  BOOST_TEST(console_has(*intel, "[sl] DMA protection: VT-d PMR enabled"));
  BOOST_TEST(console_has(*intel, "[sl] DMA protection: VT-d PMRs (TXT) attached"));
  BOOST_TEST(console_has(*intel, "[hv] VT-d translation on: every requester blocked"));
  BOOST_TEST(console_has(*intel, "[hv] Intel VT-x: VMX root operation, guests on EPT with VPID"));
  BOOST_TEST(!console_has(*intel, "AMD DEV"));
  BOOST_TEST(!console_has(*amd, "[hv] Intel VT-x"));

  const auto& a = amd->result.guests;
  const auto& b = intel->result.guests;
  BOOST_TEST_REQUIRE(a.size() == 4u);
  BOOST_TEST_REQUIRE(b.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST_CONTEXT("guest " << a[i].name) {
      BOOST_TEST(b[i].name == a[i].name);
      BOOST_TEST(a[i].status == "exited", a[i].reason);
      BOOST_TEST(b[i].status == a[i].status, b[i].reason);
      BOOST_TEST(b[i].exit_code == a[i].exit_code);
      BOOST_TEST(!b[i].serial.empty());
      BOOST_TEST(without_tsc_line(b[i].serial) == without_tsc_line(a[i].serial));
      BOOST_TEST(b[i].hypercalls == a[i].hypercalls);
      BOOST_TEST(b[i].scrubbed);
      BOOST_TEST_REQUIRE(!b[i].exit_trace.empty());
      for (const auto& [code, info] : b[i].exit_trace) BOOST_TEST((code >> 16) == 1u, "VMX exit code 0x" << std::hex << code);
    }
  }

  // PCR19/20: the guests' chains and manifests do not depend on the vendor.
  for (const auto& [bank, pcrs] : amd->result.launch.pcrs)
    for (uint32_t pcr : {19u, 20u}) {
      BOOST_TEST_INFO("bank " << hash_alg_name(bank) << " PCR" << pcr);
      BOOST_TEST((intel->result.launch.pcrs.at(bank).at(pcr) == pcrs.at(pcr)));
      BOOST_TEST((pcrs.at(pcr) != Bytes(pcrs.at(pcr).size(), 0)));
    }

  // PCR17/18 from the ACM, the MLE and the SL's measurements (the same policy and manifest as the
  // AMD run: their events are recomputed from the AMD run's log data).
  Bytes slb = read_file(intel->dir / "out/slb.bin");
  uint16_t len;
  std::memcpy(&len, slb.data() + 2, 2);  // SLB header word 1: the measured length = MleEnd
  const Bytes mle(slb.begin(), slb.begin() + len);
  const Bytes amd_slb = read_file(amd->dir / "out/slb.bin");
  BOOST_TEST(mle == Bytes(amd_slb.begin(), amd_slb.begin() + len));  // the bytes SKINIT measured on AMD
  auto sl = sl_measurements(read_file(amd->dir / "out/eventlog.bin"));
  BOOST_TEST(sl[17].size() >= 4u);  // manifest, image, launch policy, separator
  auto [p17, p18] = expected_txt_pcr17_18(acm, mle, sl);
  const auto& ip = intel->result.launch.pcrs.at(HashAlg::sha256);
  BOOST_TEST(hex(ip.at(17)) == hex(p17));
  BOOST_TEST(hex(ip.at(18)) == hex(p18));
  // ... and the AMD run's from SKINIT's SLB digest and the same SL events: the lists are complete.
  Bytes a17 = extend("SHA256", zeros(32), sha("SHA256", mle));
  for (const Bytes& d : sl[17]) a17 = extend("SHA256", a17, d);
  Bytes a18 = zeros(32);
  for (const Bytes& d : sl[18]) a18 = extend("SHA256", a18, d);
  BOOST_TEST(hex(amd->result.launch.pcrs.at(HashAlg::sha256).at(17)) == hex(a17));
  BOOST_TEST(hex(amd->result.launch.pcrs.at(HashAlg::sha256).at(18)) == hex(a18));
}

BOOST_AUTO_TEST_CASE(other_engines_are_refused_on_the_intel_platform) {
  TempDir t;
  for (const char* engine : {"native", "native-sl"}) {
    tools::RunOptions o = default_run_options(t / "out", t / "state");
    o.launch.platform = "intel";
    o.launch.engine = engine;
    auto tpm = fresh_inproc_tpm(t / "state");
    try {
      tools::run_guests_job(o, *tpm, [](const std::string&) {});
      BOOST_FAIL("--engine " << engine << " ran on --platform intel");
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find("--platform intel executes the measured images after GETSEC[SENTER]: --engine " +
                                            std::string(engine)) == 0u, e.what());
    }
  }
}

// The PMRs must cover what the SL hands the hypervisor: with the default TXT layout's 2 MiB PMR (the
// SLB, boot params, stage 2 and the MLE page tables only) on the Intel machine, stage 2 refuses when it
// protects hypervisor memory outside it; PCR17/18 are capped and hv.bin never runs.
BOOST_AUTO_TEST_CASE(a_pmr_that_misses_hypervisor_memory_is_refused_by_the_sl) {
  LaunchKit kit;
  policy::EvpKey chipset = policy::generate_chipset_key();
  policy::AcmOptions ao;
  ao.txt_svn = 2;
  auto tpm = fresh_inproc_tpm(kit.dir / "tpm");
  sim::Machine m;
  sim::TxtChipset cs;
  cs.fuses().acm_key_hash = policy::chipset_key_hash(chipset);
  cs.fuses().sinit_svn_floor = 2;
  std::vector<std::string> console;
  sim::FullSystem system(m, *tpm, [&](std::string_view l) { console.emplace_back(l); },
                         sim::FullSystemOptions::intel_platform(2'000'000'000ull));
  sim::TxtLaunchInputs txt;
  txt.acm = policy::build_sinit_acm(chipset, ao);  // default layout: PMR 0x1000000 + 2 MiB
  sim::LaunchReport r = system.launch_txt(kit.inputs(), txt, cs);
  for (const auto& l : console) BOOST_TEST_MESSAGE(l);
  BOOST_TEST(!r.launched);
  BOOST_TEST(!r.hypervisor_entered);
  BOOST_TEST(r.stage == "sl");
  BOOST_TEST(r.reason.find("is not protected") != std::string::npos, r.reason);
  auto seen = [&](const std::string& s) {
    return std::any_of(console.begin(), console.end(), [&](const std::string& l) { return l.find(s) != std::string::npos; });
  };
  BOOST_TEST(seen("[chipset] VT-d PMRs enabled: low [0x1000000, 0x1000000]"));
  BOOST_TEST(seen("[sl] DMA protection: VT-d PMR enabled"));
  BOOST_TEST(seen("[sl] LAUNCH REFUSED"));
  BOOST_TEST(!seen("[hv]"));
  BOOST_TEST(cs.read(arch::txt::kErrorCode) == 0u);  // SINIT was satisfied: the SL refused
  // PCR17 went on past SINIT's two events (the SL's cap), and PCR18 past the MLE digest.
  Bytes details(84, 0);
  details[77] = 0x02;
  const Bytes sinit17 = extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", txt.acm)), sha("SHA256", details));
  const Bytes p17 = read_pcr(*tpm, HashAlg::sha256, 17), p18 = read_pcr(*tpm, HashAlg::sha256, 18);
  BOOST_TEST(hex(p17) != hex(sinit17));
  BOOST_TEST(hex(p17) != hex(ones(32)));
  uint16_t len;
  std::memcpy(&len, kit.sl_sealed.data() + 2, 2);
  const Bytes mle18 = extend("SHA256", zeros(32), sha("SHA256", Bytes(kit.sl_sealed.begin(), kit.sl_sealed.begin() + len)));
  BOOST_TEST(hex(p18) != hex(mle18));
}
