// The SL as MLE: the full-system machine executes GETSEC[SENTER] with a simulated SINIT ACM, and the
// real sl.bin runs from SINIT's launch state (MLE DG §2.3) through its MLE entry, both stages, and
// hv.bin — PCR17/18 computed here with OpenSSL from the ACM, sl.bin, the manifest, hv.bin and the
// key; a revoked ACM stops the launch before any byte of sl.bin runs (docs/intel.md).
#define BOOST_TEST_MODULE full_system_txt
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "arch/intel/sinit_errors.hpp"
#include "arch/intel/txt_heap.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/txt/senter.hpp"
#include "policy/host/acm_build.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "tests/support/launch_fixture.hpp"

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
  std::map<uint32_t, Bytes> pcr;
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
  for (uint32_t p : {17u, 18u}) r.pcr[p] = read_pcr(*tpm, HashAlg::sha256, p);
  // HEAP_EVENT_LOG_POINTER_ELEMENT2_1.NextRecordOffset: where SINIT's records end (txt_heap.hpp).
  uint64_t el = txt.layout.heap + (8 + sizeof(at::BiosData)) + (8 + sizeof(at::OsMleData)) + 8 + sizeof(at::OsSinitData);
  uint32_t next = 0;
  std::memcpy(&next, m.mem().read(el + 8 + 16, 4).data(), 4);
  r.sinit_log = m.mem().read(txt.layout.log, next);
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
  // PCR17: HASH_START (the ACM), SINIT's details, then the SL's manifest, image and separator.
  uint16_t length;
  std::memcpy(&length, kit.sl_sealed.data() + 2, 2);
  Bytes mle(kit.sl_sealed.begin(), kit.sl_sealed.begin() + length);
  Bytes details(84, 0);
  details[76] = 0x00;
  details[77] = 0x02;  // OsSinitData.Capabilities = 0x200 (TCG 2.0 log), little-endian at offset 76
  Bytes sep{0, 0, 0, 0};
  Bytes p17 = extend("SHA256", zeros(32), sha("SHA256", acm));
  p17 = extend("SHA256", p17, sha("SHA256", details));
  p17 = extend("SHA256", p17, sha("SHA256", kit.payload));
  p17 = extend("SHA256", p17, sha("SHA256", kit.hv_image));
  p17 = extend("SHA256", p17, sha("SHA256", sep));
  BOOST_TEST(hex(r.pcr[17]) == hex(p17));
  // PCR18: the MLE (sl.bin's measured bytes, the same SKINIT would measure), then signer and separator.
  Bytes key(kit.pub.bytes().begin(), kit.pub.bytes().end());
  Bytes p18 = extend("SHA256", zeros(32), sha("SHA256", mle));
  p18 = extend("SHA256", p18, sha("SHA256", key));
  p18 = extend("SHA256", p18, sha("SHA256", sep));
  BOOST_TEST(hex(r.pcr[18]) == hex(p18));
  // SINIT's own log: the three TXT events.
  policy::EventLog log = policy::parse_event_log(r.sinit_log);
  BOOST_REQUIRE(log.events.size() >= 3u);
  BOOST_TEST(log.events[0].type == at::evtype::kHashStart);
  BOOST_TEST(log.events[1].type == at::evtype::kCombinedHash);
  BOOST_TEST(log.events[2].type == at::evtype::kMleHash);
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
  BOOST_TEST(hex(r.pcr[17]) == hex(ones(32)));
  BOOST_TEST(hex(r.pcr[18]) == hex(ones(32)));
}
