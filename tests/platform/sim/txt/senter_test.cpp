// GETSEC[SENTER] on the simulated machine with a simulated SINIT ACM (docs/intel.md "TXT launch"):
// a good launch's PCR17/18 computed here with OpenSSL from the ACM, the MLE and the policy, the TCG
// DRTM log replayed, the MLE entry state, SinitMleData and the PMR writes; then each refusal (SDM
// vol. 2D GETSEC[SENTER]; MLE DG 315168 §2.1, App. C) with its TXT error code, the PCR cap and a message.
#define BOOST_TEST_MODULE senter
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <map>

#include "arch/intel/acm.hpp"
#include "arch/intel/lcp.hpp"
#include "arch/intel/mle.hpp"
#include "arch/intel/txt_heap.hpp"
#include "platform/sim/machine.hpp"
#include "platform/sim/txt/senter.hpp"
#include "policy/host/acm_build.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/txt_da_pcrs.hpp"

using namespace redoubt;
using namespace redoubt::sim;
using namespace redoubt::test;
namespace at = redoubt::arch::txt;
using at::TxtError;

namespace {

constexpr uint64_t kSinit = 0x00800000, kHeap = 0x00900000, kHeapSize = 0x10000, kLog = 0x00A00000;
constexpr uint64_t kMle = 0x02000000, kMleSize = 0x2000, kTables = 0x02100000, kLcp = 0x00B00000;
constexpr uint32_t kHdrOff = 0x100, kEntry = 0x1000;

const policy::EvpKey& chipset_key() {
  static policy::EvpKey k = policy::generate_chipset_key();
  return k;
}
const policy::EvpKey& other_key() {
  static policy::EvpKey k = policy::generate_chipset_key();
  return k;
}

Bytes acm_image(const policy::EvpKey& key, uint16_t svn = 2) {
  policy::AcmOptions o;
  o.txt_svn = svn;
  o.code.resize(4096 + 16);
  for (size_t i = 0; i < o.code.size(); ++i) o.code[i] = static_cast<uint8_t>(i * 13 + 1);
  return policy::build_sinit_acm(key, o);
}

template <class T>
void put(Bytes& b, size_t off, const T& v) {
  if (b.size() < off + sizeof v) b.resize(off + sizeof v);
  std::memcpy(b.data() + off, &v, sizeof v);
}

struct Rig {
  TempDir state;
  std::unique_ptr<tpm::TpmDevice> tpm = fresh_inproc_tpm(state.path());
  Machine m;
  TxtChipset chipset;
  Bytes acm = acm_image(chipset_key());
  Bytes mle;
  at::MleHeader hdr{};
  at::OsSinitData os{};
  Bytes lcp;  // the owner policy (empty: none)
  std::vector<std::pair<uint64_t, uint64_t>> mmio_writes;  // (pa, value)
  TxtMachine::TestOnlyOff off;  // protections turned off (the "fails without it" runs)

  Rig() {
    chipset.fuses().acm_key_hash = policy::chipset_key_hash(chipset_key());
    chipset.fuses().sinit_svn_floor = 2;
    mle.resize(kMleSize);
    for (size_t i = 0; i < mle.size(); ++i) mle[i] = static_cast<uint8_t>((i * 31) ^ (i >> 7));
    std::memcpy(hdr.uuid, at::kMleHeaderUuid, 16);
    hdr.header_len = sizeof hdr;
    hdr.version = at::kMleHeaderVersion21;
    hdr.entry_point = kEntry;
    hdr.mle_start = 0;
    hdr.mle_end = kMleSize;
    hdr.capabilities = at::mle_caps::kEcxPageTable | at::mle_caps::kTcg2EventLog;
    os.version = 7;
    os.mle_page_table_base = kTables;
    os.mle_size = kMleSize;
    os.mle_header_base = kHdrOff;
    os.pmr_low_base = kMle;  // 2 MiB: the MLE and its page tables
    os.pmr_low_size = 2ull << 20;
    os.capabilities = at::mle_caps::kEcxPageTable;
    CpuState& c = m.bsp();
    c.bsp = true;
    c.cr0 = kCr0Pe | kCr0Pg | 0x10 | (1u << 5);
    c.cr4 = at::kCr4Smxe;
    c.rflags = 0x202;
    c.cpl = 0;
    for (auto& ap : m.aps()) ap.run = RunState::init_wait;
  }

  // Lays out RAM as an MLE loader would (docs/intel.md), then executes GETSEC[SENTER].
  SenterResult run() {
    std::memcpy(mle.data() + kHdrOff, &hdr, sizeof hdr);
    m.mem().write(kMle, mle);
    // PAE-format MLE page tables: PDPT -> PD -> PT, linear [0, kMleSize) -> kMle.
    Bytes pdpt(4096), pd(4096), pt(4096);
    put(pdpt, 0, uint64_t{(kTables + 0x1000) | 1});
    put(pd, 0, uint64_t{(kTables + 0x2000) | 3});
    for (uint64_t i = 0; i < kMleSize / 4096; ++i) put(pt, i * 8, uint64_t{(kMle + i * 4096) | 3});
    m.mem().write(kTables, pdpt);
    m.mem().write(kTables + 0x1000, pd);
    m.mem().write(kTables + 0x2000, pt);
    if (!lcp.empty()) {
      m.mem().write(kLcp, lcp);
      os.lcp_po_base = kLcp;
      os.lcp_po_size = lcp.size();
    }
    // The heap: BiosData, OsMleData, OsSinitData (+ event log pointer 2_1, END), room for SinitMleData.
    Bytes heap;
    at::BiosData bd{};
    bd.version = 5;
    bd.num_log_procs = 1 + static_cast<uint32_t>(m.aps().size());
    put(heap, 0, uint64_t{8 + sizeof bd});
    put(heap, 8, bd);
    size_t o = heap.size();
    at::OsMleData om{1, 0, 0x00F00000};
    put(heap, o, uint64_t{8 + sizeof om});
    put(heap, o + 8, om);
    o = heap.size();
    size_t os_size = 8 + sizeof(at::OsSinitData) + 32 + 8;
    put(heap, o, uint64_t{os_size});
    put(heap, o + 8, os);
    size_t e = o + 8 + sizeof(at::OsSinitData);
    put(heap, e, at::HeapExtElement{at::kHeapExtEventLogPointer2_1, 32});
    put(heap, e + 8, at::EventLogPointer2_1{kLog, 0x10000, 0, 0});
    put(heap, e + 32, at::HeapExtElement{at::kHeapExtEnd, 8});
    heap.resize(kHeapSize);
    m.mem().write(kHeap, heap);
    m.mem().write(kSinit, acm);
    chipset.write(at::kHeapBase, kHeap, true);
    chipset.write(at::kHeapSize, kHeapSize, true);
    CpuState& c = m.bsp();
    c.rbx = kSinit;
    c.rcx = acm.size();
    c.rdx = 0;
    TxtMachine tm{c, m.aps(), m.mem(), *tpm, chipset,
                  [this](uint64_t pa, unsigned, uint64_t v) { mmio_writes.emplace_back(pa, v); return true; }};
    tm.test_only_off = off;
    return getsec_senter(tm);
  }
  Bytes pcr(uint32_t i, HashAlg a = HashAlg::sha256) { return read_pcr(*tpm, a, i); }
};

// PCR17/18 of a good launch, from the ACM, the MLE and the policy alone (OpenSSL).
Bytes details_bytes(uint32_t policy_control, const Bytes& lcp, uint32_t os_caps) {
  Bytes d(20 + 4 + 8 + 20, 0);  // BiosAcmID, EDX (0), MsegValid, StmHash: zero on this platform
  Bytes pc(4);
  std::memcpy(pc.data(), &policy_control, 4);
  d.insert(d.end(), pc.begin(), pc.end());
  Bytes lh = lcp.empty() ? Bytes(20, 0) : sha("SHA1", lcp);
  d.insert(d.end(), lh.begin(), lh.end());
  Bytes caps(8, 0);
  std::memcpy(caps.data(), &os_caps, 4);
  d.insert(d.end(), caps.begin(), caps.end());
  return d;
}

void expect_refused_by_sinit(Rig& rig, TxtError code, const std::string& fragment) {
  SenterResult r = rig.run();
  BOOST_TEST_INFO("message: " << r.message);
  BOOST_REQUIRE(!r.fault);
  BOOST_TEST(static_cast<uint32_t>(r.error) == static_cast<uint32_t>(code));
  BOOST_TEST(r.message.find(fragment) != std::string::npos);
  BOOST_TEST(rig.chipset.read(at::kErrorCode) == static_cast<uint32_t>(code));
  BOOST_TEST((rig.chipset.read(at::kEsts) & at::ests::kTxtResetSts) != 0u);
  BOOST_TEST(!rig.chipset.senter_done());
  // The cap: PCR17 = H(H(0 || H(ACM)) || H(text)), PCR18 = H(0 || H(text)), text = "<code>: <why>".
  std::string text = r.message.substr(r.message.find('(') + 1);
  text.pop_back();
  for (const char* alg : {"SHA256", "SHA384"}) {
    HashAlg a = std::string(alg) == "SHA256" ? HashAlg::sha256 : HashAlg::sha384;
    size_t n = a == HashAlg::sha256 ? 32 : 48;
    Bytes p17 = extend(alg, extend(alg, zeros(n), sha(alg, rig.acm)), sha(alg, text));
    BOOST_TEST(hex(rig.pcr(17, a)) == hex(p17));
    BOOST_TEST(hex(rig.pcr(18, a)) == hex(extend(alg, zeros(n), sha(alg, text))));
  }
  BOOST_TEST(rig.m.bsp().rip != kMle + kEntry);  // the MLE never starts
  BOOST_TEST(rig.mmio_writes.empty());           // and no PMR was programmed for it
}

void expect_refused_by_processor(Rig& rig, TxtError code, const std::string& fragment) {
  SenterResult r = rig.run();
  BOOST_TEST_INFO("message: " << r.message);
  BOOST_REQUIRE(!r.fault);
  BOOST_TEST(static_cast<uint32_t>(r.error) == static_cast<uint32_t>(code));
  BOOST_TEST(r.message.find(fragment) != std::string::npos);
  BOOST_TEST(rig.chipset.read(at::kErrorCode) == static_cast<uint32_t>(code));
  BOOST_TEST((rig.chipset.read(at::kErrorCode) & at::errorcode::kExternal) == 0u);  // processor-detected
  BOOST_TEST((rig.chipset.read(at::kEsts) & at::ests::kTxtResetSts) != 0u);
  // Never measured, never run: no HASH_START, PCR17-20 keep the power-on all-ones.
  for (uint32_t p : {17u, 18u, 19u, 20u}) BOOST_TEST(hex(rig.pcr(p)) == hex(ones(32)));
  BOOST_TEST(rig.mmio_writes.empty());
}

}  // namespace

BOOST_AUTO_TEST_CASE(good_launch_measures_acm_details_and_mle) {
  Rig rig;
  SenterResult r = rig.run();
  BOOST_TEST_INFO("message: " << r.message);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(rig.tpm->locality() == 2);  // the MLE starts at locality 2 (read before the PCR reads below)
  BOOST_TEST(r.mle_base == kMle);
  BOOST_TEST(hex(r.mle_measured) == hex(rig.mle));
  Bytes det = details_bytes(0, {}, at::mle_caps::kEcxPageTable);
  BOOST_TEST(hex(r.details) == hex(det));
  for (const char* alg : {"SHA1", "SHA256", "SHA384", "SHA512"}) {
    HashAlg a = std::string(alg) == "SHA1" ? HashAlg::sha1 : std::string(alg) == "SHA256" ? HashAlg::sha256
              : std::string(alg) == "SHA384" ? HashAlg::sha384 : HashAlg::sha512;
    size_t n = digest_size(a);
    BOOST_TEST(hex(rig.pcr(17, a)) == hex(extend(alg, extend(alg, zeros(n), sha(alg, rig.acm)), sha(alg, det))));
    BOOST_TEST(hex(rig.pcr(18, a)) == hex(extend(alg, zeros(n), sha(alg, rig.mle))));
    BOOST_TEST(hex(rig.pcr(19, a)) == hex(zeros(n)));
  }
  // The TCG DRTM log SINIT wrote replays to the TPM's PCRs, with the TXT event types in order.
  policy::EventLog log = policy::parse_event_log(rig.m.mem().read(kLog, r.log_bytes));
  BOOST_REQUIRE(log.events.size() == 3u);
  BOOST_TEST(log.events[0].type == at::evtype::kHashStart);
  BOOST_TEST(log.events[0].pcr == 17u);
  BOOST_TEST(log.events[1].type == at::evtype::kCombinedHash);
  BOOST_TEST(hex(log.events[1].data) == hex(det));
  BOOST_TEST(log.events[2].type == at::evtype::kMleHash);
  BOOST_TEST(log.events[2].pcr == 18u);
  BOOST_TEST(std::string(policy::event_type_name(log.events[0].type)) == "EV_TXT_HASH_START");
  BOOST_TEST(std::string(policy::event_type_name(log.events[2].type)) == "EV_TXT_MLE_HASH");
  auto replay = policy::replay_event_log(log);
  BOOST_TEST(hex(replay[HashAlg::sha256][17]) == hex(rig.pcr(17)));
  BOOST_TEST(hex(replay[HashAlg::sha256][18]) == hex(rig.pcr(18)));
  // The element's next_record_offset tells the MLE where to continue the log.
  uint32_t next = 0;
  uint64_t el = kHeap + 8 + sizeof(at::BiosData) + 8 + sizeof(at::OsMleData) + 8 + sizeof(at::OsSinitData);
  std::memcpy(&next, rig.m.mem().read(el + 8 + 16, 4).data(), 4);
  BOOST_TEST(next == r.log_bytes);
  // MLE DG §2.3 launch state.
  const CpuState& c = rig.m.bsp();
  BOOST_TEST(c.rip == kMle + kEntry);
  BOOST_TEST(c.rbx == kMle + kEntry);
  BOOST_TEST(c.rcx == kTables);
  BOOST_TEST((c.cr0 & kCr0Pe) != 0u);
  BOOST_TEST((c.cr0 & kCr0Pg) == 0u);
  BOOST_TEST((c.rflags & kRflagsIf) == 0u);
  BOOST_TEST(c.cs.base == 0u);
  BOOST_TEST(c.cs.limit == 0xFFFFFFFFu);
  BOOST_TEST(c.efer == 0u);
  BOOST_TEST(rig.chipset.senter_done());
  BOOST_TEST(rig.chipset.read(at::kErrorCode) == 0u);
  // SinitMleData (C.5) after OsSinitData's region: version 9, SHA-1 of the ACM and of the MLE.
  uint64_t smd_at = kHeap + 8 + sizeof(at::BiosData) + 8 + sizeof(at::OsMleData) + 8 + sizeof(at::OsSinitData) + 40;
  uint64_t smd_size = 0;
  std::memcpy(&smd_size, rig.m.mem().read(smd_at, 8).data(), 8);
  BOOST_TEST(smd_size == 8 + sizeof(at::SinitMleData));
  Bytes smd = rig.m.mem().read(smd_at + 8, sizeof(at::SinitMleData));
  BOOST_TEST(smd[0] == 9);
  BOOST_TEST(hex(Bytes(smd.begin() + 0x24, smd.begin() + 0x38)) == hex(sha("SHA1", rig.acm)));
  BOOST_TEST(hex(Bytes(smd.begin() + 0x38, smd.begin() + 0x4C)) == hex(sha("SHA1", rig.mle)));
  // The VT-d PMR writes (VT-d §11.4.11-12) at the remapping unit, then PMEN.EPM.
  std::vector<std::pair<uint64_t, uint64_t>> want = {{0xFED90068, kMle}, {0xFED9006C, kMle + 0x1FFFFF}, {0xFED90064, 0x80000000}};
  BOOST_TEST((rig.mmio_writes == want));
  // TXT.STS in the public space shows SENTER.DONE; a second SENTER is #GP(0).
  BOOST_TEST((rig.chipset.read(at::kSts) & at::sts::kSenterDone) != 0u);
}

BOOST_AUTO_TEST_CASE(getsec_needs_cr4_smxe_and_reports_capabilities) {
  Rig rig;
  rig.m.bsp().cr4 = 0;
  SenterResult r = rig.run();
  BOOST_REQUIRE(r.fault.has_value());
  BOOST_TEST(r.fault->name() == "#UD");
  BOOST_TEST(hex(rig.pcr(17)) == hex(ones(32)));
  BOOST_TEST(rig.chipset.read(at::kErrorCode) == 0u);
  rig.m.bsp().cr4 = at::kCr4Smxe;
  rig.m.bsp().cpl = 3;
  BOOST_TEST(rig.run().fault->name() == "#GP(0)");
  rig.m.bsp().cpl = 0;
  rig.m.bsp().rbx = 0;
  TxtMachine tm{rig.m.bsp(), rig.m.aps(), rig.m.mem(), *rig.tpm, rig.chipset, {}};
  GetsecResult g = getsec_capabilities(tm);
  BOOST_REQUIRE(!g.fault);
  BOOST_TEST(g.eax == 0x171u);  // chipset present, SENTER, SEXIT, PARAMETERS, WAKEUP
  tm.cpu.cr4 = 0;
  BOOST_TEST(getsec_capabilities(tm).fault->name() == "#UD");
}

BOOST_AUTO_TEST_CASE(refused_acm_signed_by_another_key) {
  Rig rig;
  rig.acm = acm_image(other_key());
  expect_refused_by_processor(rig, TxtError::acm_signature, "not the chipset's");
}

BOOST_AUTO_TEST_CASE(without_the_checks_the_bad_launches_would_run) {
  // The refusal tests below fail with the protection off: the same inputs then launch the MLE.
  {
    Rig rig;
    rig.acm[at::kAcmUserAreaOffset + 0x200] ^= 1;
    rig.off.acm_signature = true;
    BOOST_TEST(rig.run().ok());
    BOOST_TEST(rig.m.bsp().rip == kMle + kEntry);
  }
  {
    Rig rig;
    rig.os.pmr_low_base = 0x04000000;
    rig.off.pmr_coverage = true;
    BOOST_TEST(rig.run().ok());
    BOOST_TEST(rig.m.bsp().rip == kMle + kEntry);
  }
  {
    Rig rig;
    rig.m.aps()[0].run = RunState::running;
    rig.off.rlp_state = true;
    BOOST_TEST(rig.run().ok());
    BOOST_TEST(rig.m.bsp().rip == kMle + kEntry);
  }
}

BOOST_AUTO_TEST_CASE(refused_acm_with_a_modified_byte) {
  Rig rig;
  rig.acm[at::kAcmUserAreaOffset + 0x200] ^= 1;  // in "SINIT's code": the signature no longer verifies
  expect_refused_by_processor(rig, TxtError::acm_signature, "signature does not verify");
}

BOOST_AUTO_TEST_CASE(refused_revoked_acm) {
  Rig rig;
  rig.acm = acm_image(chipset_key(), 1);  // a correctly signed SINIT with TXT SVN 1 < floor 2
  expect_refused_by_processor(rig, TxtError::acm_revoked, "below the chipset's floor 2");
}

BOOST_AUTO_TEST_CASE(refused_mle_header_without_guid) {
  Rig rig;
  rig.hdr.uuid[3] ^= 0xFF;
  expect_refused_by_sinit(rig, TxtError::mle_header_guid, "no MLE header GUID");
}

BOOST_AUTO_TEST_CASE(refused_mle_header_version_1) {
  Rig rig;
  rig.hdr.version = 0x00010001;
  expect_refused_by_sinit(rig, TxtError::mle_header_version, "MLE header version 0x10001");
}

BOOST_AUTO_TEST_CASE(refused_mle_entry_outside_the_measured_mle) {
  Rig rig;
  rig.hdr.mle_start = 0x1000;
  rig.hdr.entry_point = 0x800;  // would start in bytes PCR18 does not cover
  expect_refused_by_sinit(rig, TxtError::mle_header_range, "entry point 0x800 is outside");
}

BOOST_AUTO_TEST_CASE(refused_pmr_not_covering_the_mle) {
  Rig rig;
  rig.os.pmr_low_base = 0x04000000;  // a valid PMR elsewhere: the MLE stays DMA-reachable
  expect_refused_by_sinit(rig, TxtError::pmr_not_covering, "is not inside the requested PMRs");
}

BOOST_AUTO_TEST_CASE(refused_ap_not_in_wait_for_sipi) {
  Rig rig;
  BOOST_REQUIRE(!rig.m.aps().empty());
  rig.m.aps()[0].run = RunState::running;
  expect_refused_by_sinit(rig, TxtError::rlp_not_wfs, "is not in wait-for-SIPI");
}

Bytes lcp_policy(const std::vector<Bytes>& allowed, uint32_t control) {
  at::LcpPolicyHeader h{};
  std::memcpy(h.magic, at::kLcpMagic, 8);
  h.version = at::kLcpVersion;
  h.policy_control = control;
  h.mle_count = static_cast<uint32_t>(allowed.size());
  Bytes b(sizeof h);
  std::memcpy(b.data(), &h, sizeof h);
  for (const Bytes& d : allowed) b.insert(b.end(), d.begin(), d.end());
  return b;
}

BOOST_AUTO_TEST_CASE(lcp_policy_allowing_the_mle_is_measured) {
  Rig rig;
  // The MLE bytes as Rig::run will lay them out (header included) decide the allowed hash.
  Bytes mle = rig.mle;
  std::memcpy(mle.data() + kHdrOff, &rig.hdr, sizeof rig.hdr);
  rig.lcp = lcp_policy({sha("SHA256", "another MLE"), sha("SHA256", mle)}, 0x5);
  SenterResult r = rig.run();
  BOOST_TEST_INFO("message: " << r.message);
  BOOST_REQUIRE(r.ok());
  Bytes det = details_bytes(0x5, rig.lcp, at::mle_caps::kEcxPageTable);
  BOOST_TEST(hex(rig.pcr(17)) == hex(extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", rig.acm)), sha("SHA256", det))));
}

BOOST_AUTO_TEST_CASE(refused_mle_not_in_the_lcp_policy) {
  Rig rig;
  rig.lcp = lcp_policy({sha("SHA256", "another MLE")}, 0);
  expect_refused_by_sinit(rig, TxtError::lcp_mle_not_allowed, "not in the owner's LCP policy");
}

// The details/authorities mapping (MLE DG "PCR Usage"; OsSinitData.Capabilities.PCR_MAP_DA, which
// lay_out_txt sets by default): PCR17/18 in every bank computed here with OpenSSL from the ACM, the
// MLE and the policy (tests/support/txt_da_pcrs.hpp), and SINIT's log naming each measurement.
BOOST_AUTO_TEST_CASE(details_authorities_mapping_in_every_bank) {
  for (bool with_policy : {false, true}) {
    BOOST_TEST_CONTEXT((with_policy ? "with an owner policy" : "without a policy")) {
      Rig rig;
      rig.os.capabilities = at::mle_caps::kEcxPageTable | at::mle_caps::kPcrMapDa;
      Bytes mle = rig.mle;
      std::memcpy(mle.data() + kHdrOff, &rig.hdr, sizeof rig.hdr);
      if (with_policy) rig.lcp = lcp_policy({sha("SHA256", mle)}, 0x5);
      SenterResult r = rig.run();
      BOOST_TEST_INFO("message: " << r.message);
      BOOST_REQUIRE(r.ok());
      BOOST_TEST((r.pcr_map == TxtPcrMap::details_authorities));
      BOOST_TEST(r.details.empty());
      const uint32_t caps = rig.os.capabilities, control = with_policy ? 0x5 : 0;
      for (auto [alg, a] : {std::pair{"SHA1", HashAlg::sha1}, {"SHA256", HashAlg::sha256}, {"SHA384", HashAlg::sha384}, {"SHA512", HashAlg::sha512}}) {
        const size_t n = digest_size(a);
        BOOST_TEST(hex(rig.pcr(17, a)) == hex(txt_da_pcr17(alg, n, rig.acm, mle, caps, control, rig.lcp)), alg);
        BOOST_TEST(hex(rig.pcr(18, a)) == hex(txt_da_pcr18(alg, n, rig.acm, caps, control, rig.lcp)), alg);
      }
      // The log: HASH_START, then SINIT's PCR17 details and MLE, then its PCR18 authorities.
      policy::EventLog log = policy::parse_event_log(rig.m.mem().read(kLog, r.log_bytes));
      std::vector<std::string> names;
      for (const auto& e : log.events) names.push_back(std::to_string(e.pcr) + ":" + policy::event_type_name(e.type));
      std::vector<std::string> want = {"17:EV_TXT_HASH_START", "17:EV_TXT_BIOSAC_REG_DATA", "17:EV_TXT_CPU_SCRTM_STAT", "17:EV_TXT_LCP_CONTROL_HASH"};
      if (with_policy) want.push_back("17:EV_TXT_LCP_DETAILS_HASH");
      for (const char* w : {"17:EV_TXT_STM_HASH", "17:EV_TXT_OSSINITDATA_CAP_HASH", "17:EV_TXT_MLE_HASH", "18:EV_TXT_SINIT_PUBKEY_HASH",
                            "18:EV_TXT_CPU_SCRTM_STAT", "18:EV_TXT_OSSINITDATA_CAP_HASH", "18:EV_TXT_LCP_CONTROL_HASH"})
        want.push_back(w);
      if (with_policy) want.push_back("18:EV_TXT_LCP_AUTHORITIES_HASH");
      BOOST_TEST(names == want, boost::test_tools::per_element());
      // The signer event's SHA-256 is the chipset's fused key hash (TXT.PUBLIC.KEY).
      for (const auto& e : log.events)
        if (e.type == at::evtype::kSinitPubkeyHash)
          for (const auto& [a, d] : e.digests)
            if (a == HashAlg::sha256) BOOST_TEST(hex(d) == hex(Bytes(rig.chipset.fuses().acm_key_hash.begin(), rig.chipset.fuses().acm_key_hash.end())));
      auto replay = policy::replay_event_log(log);
      for (HashAlg a : {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384, HashAlg::sha512})
        for (uint32_t p : {17u, 18u}) BOOST_TEST(hex(replay[a][p]) == hex(rig.pcr(p, a)));
    }
  }
}
