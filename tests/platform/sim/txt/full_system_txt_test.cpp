// The SL as MLE: the full-system machine executes GETSEC[SENTER] with a simulated SINIT ACM, and the
// real sl.bin runs from SINIT's launch state (MLE DG §2.3) through its MLE entry, both stages, and
// hv.bin — PCR17/18 computed here with OpenSSL from the ACM, sl.bin, the manifest, hv.bin and the
// key; a revoked ACM stops the launch before any byte of sl.bin runs (docs/intel.md).
#define BOOST_TEST_MODULE full_system_txt
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <tuple>

#include "arch/intel/mle.hpp"
#include "arch/intel/sinit_errors.hpp"
#include "arch/intel/txt_heap.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/txt/senter.hpp"
#include "policy/host/acm_build.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "platform/sim/txt/txt_layout.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/txt_da_pcrs.hpp"

using namespace redoubt;
using namespace redoubt::test;
namespace at = redoubt::arch::txt;

namespace {

const policy::EvpKey& chipset_key() {
  static policy::EvpKey k = policy::generate_chipset_key();
  return k;
}

struct Run {
  sim::LaunchReport report;
  std::vector<std::string> console;
  std::map<std::pair<HashAlg, uint32_t>, Bytes> pcr;
  Bytes sinit_log;
  uint32_t errorcode = 0;
  bool has(const std::string& s) const {
    for (const std::string& l : console)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
};

Run run_txt(const sim::LaunchInputs& in, const Bytes& acm, const fs::path& state) {
  auto tpm = fresh_inproc_tpm(state);
  sim::Machine m;
  sim::TxtChipset chipset;
  chipset.fuses().acm_key_hash = policy::chipset_key_hash(chipset_key());
  chipset.fuses().sinit_svn_floor = 2;
  Run r;
  sim::FullSystem system(m, *tpm, [&](std::string_view l) { r.console.emplace_back(l); },
                         sim::FullSystemOptions{2'000'000'000ull});
  sim::TxtLaunchInputs txt;
  txt.acm = acm;
  r.report = system.launch_txt(in, txt, chipset);
  for (HashAlg a : {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512})
    for (uint32_t p : {17u, 18u}) r.pcr[{a, p}] = read_pcr(*tpm, a, p);
  r.sinit_log = sim::sinit_log(m, txt.layout);  // [0, the heap element's NextRecordOffset)
  r.errorcode = static_cast<uint32_t>(chipset.read(at::kErrorCode));
  return r;
}

Bytes make_acm(uint16_t svn) {
  policy::AcmOptions o;
  o.txt_svn = svn;
  o.code.assign(2048 + 16, 0x90);
  return policy::build_sinit_acm(chipset_key(), o);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sl_bin_runs_as_the_mle_of_senter_and_hands_off_to_hv_bin) {
  LaunchKit kit;
  Bytes acm = make_acm(2);
  Run r = run_txt(kit.inputs(), acm, kit.dir / "tpm");
  for (const std::string& l : r.console) BOOST_TEST_MESSAGE(l);
  BOOST_TEST_MESSAGE("reason: " << r.report.reason);
  BOOST_TEST(r.has("[cpu] SENTER: SINIT ACM"));
  BOOST_TEST(r.has("[sl] stage 1 in long mode: SLB at 0x1000000"));
  BOOST_TEST(r.has("[sl] Redoubt secure loader entered, SLB at 0x1000000"));
  BOOST_TEST(r.has("[hv] Redoubt hypervisor redoubt-hypervisor 1.2.3 entered"));
  BOOST_TEST(r.report.drtm == "senter");
  BOOST_TEST(r.report.hypervisor_entered);
  BOOST_TEST(r.report.launched);
  BOOST_TEST(r.errorcode == 0u);
  // Details/authorities mapping (tests/support/txt_da_pcrs.hpp), then the SL's events on the same PCRs:
  // PCR17 = SINIT's details and the MLE, then the manifest, image and separator; PCR18 = the ACM signer
  // and SINIT's authorities, then the hypervisor signer and separator — in every bank.
  uint16_t length;
  std::memcpy(&length, kit.sl_sealed.data() + 2, 2);
  Bytes mle(kit.sl_sealed.begin(), kit.sl_sealed.begin() + length);
  const uint32_t caps = at::mle_caps::kTcg2EventLog | at::mle_caps::kPcrMapDa;
  Bytes sep{0, 0, 0, 0};
  Bytes key(kit.pub.bytes().begin(), kit.pub.bytes().end());
  for (auto [alg, bank, n] : {std::tuple{"SHA1", HashAlg::sha1, 20}, {"SHA256", HashAlg::sha256, 32}, {"SHA384", HashAlg::sha384, 48},
                              {"SHA512", HashAlg::sha512, 64}}) {
    Bytes p17 = txt_da_pcr17(alg, n, acm, mle, caps);
    p17 = extend(alg, p17, sha(alg, kit.payload));
    p17 = extend(alg, p17, sha(alg, kit.hv_image));
    p17 = extend(alg, p17, sha(alg, sep));
    BOOST_TEST(hex(r.pcr[{bank, 17}]) == hex(p17), alg);
    Bytes p18 = txt_da_pcr18(alg, n, acm, caps);
    p18 = extend(alg, p18, sha(alg, key));
    p18 = extend(alg, p18, sha(alg, sep));
    BOOST_TEST(hex(r.pcr[{bank, 18}]) == hex(p18), alg);
  }
  // One log: SINIT's TXT events first (its part is sinit-eventlog.bin), then the SL's, with no second
  // header and no SKINIT event; it replays to the TPM's PCR17/18 in every bank.
  policy::EventLog sinit = policy::parse_event_log(r.sinit_log);
  BOOST_REQUIRE_EQUAL(sinit.events.size(), 11u);
  BOOST_TEST(sinit.events[0].type == at::evtype::kHashStart);
  BOOST_TEST(sinit.events[6].type == at::evtype::kMleHash);
  BOOST_TEST(sinit.events[6].pcr == 17u);
  BOOST_TEST(sinit.events[7].type == at::evtype::kSinitPubkeyHash);
  BOOST_TEST(sinit.events[7].pcr == 18u);
  policy::EventLog log = policy::parse_event_log(r.report.event_log);
  BOOST_REQUIRE(log.events.size() >= 16u);
  BOOST_TEST(std::memcmp(r.report.event_log.data(), r.sinit_log.data(), r.sinit_log.size()) == 0);
  BOOST_TEST(log.events[11].type == 0x602u);  // EV_REDOUBT_HV_MANIFEST right after SINIT's last event
  for (const auto& e : log.events) BOOST_TEST(e.type != 0x601u);  // no EV_REDOUBT_SKINIT_SLB
  auto replay = policy::replay_event_log(log);
  for (HashAlg a : {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512})
    for (uint32_t p : {17u, 18u}) BOOST_TEST(hex(replay[a][p]) == hex(r.pcr[{a, p}]));
}

BOOST_AUTO_TEST_CASE(a_revoked_sinit_stops_the_launch_before_sl_bin_runs) {
  LaunchKit kit;
  Run r = run_txt(kit.inputs(), make_acm(1), kit.dir / "tpm");
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  BOOST_TEST(r.report.stage == "senter");
  BOOST_TEST(r.report.reason.find("acm_revoked") != std::string::npos, r.report.reason);
  BOOST_TEST(r.errorcode == static_cast<uint32_t>(at::TxtError::acm_revoked));
  BOOST_TEST(!r.has("[sl]"));
  BOOST_TEST(hex(r.pcr[{HashAlg::sha256, 17}]) == hex(ones(32)));
  BOOST_TEST(hex(r.pcr[{HashAlg::sha256, 18}]) == hex(ones(32)));
}
