// Issue 12: the verifier knows Intel TXT. One real `redoubt quote --platform intel --no-guests` (GETSEC
// [SENTER] with a SINIT ACM signed by this test's chipset key, sl.bin as the MLE continuing SINIT's log,
// hv.bin): tpm2_checkquote accepts the quote, tpm2_eventlog replays the log to the quoted PCR17/18 in
// every bank, and the appraisal is affirming with reference values naming the ACM, its signer and the
// MLE (`verifier sign-reference --sinit-acm`); contraindicated, naming the finding, for another ACM
// (or an older release of it), another ACM signer, another MLE, and for events SINIT does not log on
// PCR17/18 (the PCR values then those of a TPM that did extend them: only the grammar can catch them).
#define BOOST_TEST_MODULE attest_txt_test
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <regex>
#include <sstream>

#include "arch/intel/txt_evtypes.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/verifier/eventlog_appraiser.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/keys.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
namespace fs = std::filesystem;
namespace tx = arch::txt::evtype;

namespace {

std::string slurp(const fs::path& p) {
  const Bytes b = read_file(p);
  return std::string(b.begin(), b.end());
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const char* openssl_name(HashAlg a) {
  switch (a) {
    case HashAlg::sha1: return "SHA1";
    case HashAlg::sha256: return "SHA256";
    case HashAlg::sha384: return "SHA384";
    case HashAlg::sha512: return "SHA512";
  }
  return "";
}

const char* kNonce = "1e7e1a7e00112233445566778899aabbccddeeff";

struct World {
  TempDir d;
  fs::path q = d / "q", state = d / "state";
  CliResult quote;
  Bytes log, mle;
  attest::QuotedPcrs quoted;
  json pcrs;
  World() {
    // The chipset key (fused) and the ACM it signs, TXT SVN 3; a second ACM of the same key, SVN 4.
    BOOST_TEST_REQUIRE(run_program({"openssl", "genrsa", "-out", (d / "chipset.pem").string(), "2048"}).exit_code == 0);
    for (const char* svn : {"3", "4"}) {
      CliResult a = run_redoubt({"sign", "acm", "--key", (d / "chipset.pem").string(), "--svn", svn, "--out", (d / (std::string("sinit") + svn + ".acm")).string()});
      BOOST_TEST_REQUIRE(a.exit_code == 0, a.out + a.err);
    }
    const auto t0 = std::chrono::steady_clock::now();
    quote = run_redoubt({"quote", "--platform", "intel", "--no-guests", "--nonce", kNonce, "--state", state.string(), "--out", q.string(),
                         "--acm", (d / "sinit3.acm").string(), "--chipset-key", (d / "chipset.pem").string(), "--sinit-svn-floor", "3"});
    BOOST_TEST_MESSAGE("redoubt quote --platform intel: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    BOOST_TEST_REQUIRE(quote.exit_code == 0, quote.out + quote.err);
    log = read_file(q / "eventlog.bin");
    quoted = attest::read_pcr_file(read_file(q / "quote.pcrs"));
    pcrs = json::parse(slurp(q / "pcrs.json"));
    const json launch = json::parse(slurp(q / "launch.json"));
    const Bytes slb = read_file(q / "slb.bin");
    mle.assign(slb.begin(), slb.begin() + launch["slb"]["length"].get<long>());
    // The policy authority and reference values as an operator makes them.
    policy::generate_key_files("P-256", (d / "authority").string());
    const std::string ref = json{{"type", "redoubt.reference-values/1"}, {"id", "intel-ref"}, {"hypervisor", {{"min_svn", 1}}},
                                 {"txt", {{"mle_sha256", {hex(sha("SHA256", mle))}}}}}
                                .dump();
    write_file(d / "ref.json", Bytes(ref.begin(), ref.end()));
  }
  // Reference values signed with `verifier sign-reference` (allowing `acm`), verified and parsed.
  attest::ReferenceValues reference(const std::string& acm, const std::string& mle_hex = "") {
    if (!mle_hex.empty()) {
      json j = json::parse(slurp(d / "ref.json"));
      j["txt"]["mle_sha256"] = {mle_hex};
      const std::string s = j.dump();
      write_file(d / "ref2.json", Bytes(s.begin(), s.end()));
    }
    CliResult r = run_redoubt({"verifier", "sign-reference", "--force", "--in", (d / (mle_hex.empty() ? "ref.json" : "ref2.json")).string(), "--key",
                               (d / "authority.key.pem").string(), "--out", (d / "ref.cose").string(), "--hypervisor-signer",
                               (state / "demo" / "hv-signing.pub.pem").string(), "--sinit-acm", (d / acm).string()});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out + r.err);
    return attest::verify_reference_values(read_file(d / "ref.cose"), policy::load_public_key((d / "authority.pub.pem").string()));
  }
};

World& world() {
  static World w;
  return w;
}

struct Verdict {
  attest::LogAppraisal a;
  attest::Findings f;
  std::vector<std::string> codes() const {
    std::vector<std::string> c;
    for (const auto& x : f.failures) c.push_back(x.code);
    return c;
  }
  bool has(const std::string& code) const {
    for (const auto& x : f.failures)
      if (x.code == code) return true;
    return false;
  }
  std::string text() const {
    std::string s;
    for (const auto& x : f.failures) s += x.code + ": " + x.message + "\n";
    return s;
  }
};

Verdict appraise(const Bytes& log, const attest::QuotedPcrs& q, const attest::ReferenceValues& ref) {
  Verdict v;
  v.a = attest::appraise_event_log(log, q, &ref, v.f);
  return v;
}

// One TCG_PCR_EVENT2 record (TCG PC Client PFP §10.2.2) with digest = H(data) in each of the log's banks.
Bytes record(const policy::EventLog& log, uint32_t pcr, uint32_t type, const Bytes& data) {
  Bytes r;
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) r.push_back(uint8_t(v >> (8 * i))); };
  u32(pcr);
  u32(type);
  u32(static_cast<uint32_t>(log.banks.size()));
  for (const auto& [alg, size] : log.banks) {
    r.push_back(uint8_t(uint16_t(alg)));
    r.push_back(uint8_t(uint16_t(alg) >> 8));
    const Bytes h = sha(openssl_name(alg), data);
    r.insert(r.end(), h.begin(), h.end());
  }
  u32(static_cast<uint32_t>(data.size()));
  r.insert(r.end(), data.begin(), data.end());
  return r;
}

// The log with `rec` inserted before event `before`.
Bytes insert_at(const Bytes& bytes, const policy::EventLog& log, size_t before, const Bytes& rec) {
  Bytes out(bytes.begin(), bytes.begin() + static_cast<long>(log.events.at(before).offset));
  out.insert(out.end(), rec.begin(), rec.end());
  out.insert(out.end(), bytes.begin() + static_cast<long>(log.events.at(before).offset), bytes.end());
  return out;
}

// The quote of a TPM that extended exactly this log: the selection of `q`, values from the replay.
attest::QuotedPcrs quote_of(const Bytes& log, const attest::QuotedPcrs& q) {
  auto replay = policy::replay_event_log(policy::parse_event_log(log));
  attest::QuotedPcrs out;
  out.selection = q.selection;
  for (uint32_t i = 0; i < q.selection.count; ++i) {
    const auto bank = static_cast<HashAlg>(q.selection.pcrSelections[i].hash);
    for (uint32_t pcr : attest::selected_pcrs(q.selection.pcrSelections[i])) {
      auto it = replay[bank].find(pcr);
      out.values.push_back(it != replay[bank].end() ? it->second : zeros(digest_size(bank)));
    }
  }
  return out;
}

size_t index_of(const policy::EventLog& log, uint32_t pcr, uint32_t type) {
  for (const auto& e : log.events)
    if (e.pcr == pcr && e.type == type) return e.index;
  BOOST_FAIL("no event of type " << type << " on PCR" << pcr);
  return 0;
}

// tpm2-tools' YAML PCR listing after `from`: bank -> pcr -> lowercase hex.
std::map<std::string, std::map<std::string, std::string>> yaml_pcrs(const std::string& text, size_t from) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream in(text.substr(from));
  std::string bank;
  const std::regex bank_re("^\\s{1,4}(sha1|sha256|sha384|sha512):\\s*$");
  const std::regex pcr_re("^\\s+([0-9]{1,2})\\s*:\\s*0x([0-9a-fA-F]+)\\s*$");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, bank_re)) bank = m[1].str();
    else if (!bank.empty() && std::regex_match(line, m, pcr_re)) out[bank][m[1].str()] = lower(m[2].str());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tpm2_checkquote_accepts_the_intel_quote) {
  World& w = world();
  auto check = [&](const std::string& nonce) {
    return run_program({"tpm2_checkquote", "-u", (w.q / "ak.pub.pem").string(), "-m", (w.q / "quote.msg").string(), "-s",
                        (w.q / "quote.sig").string(), "-f", (w.q / "quote.pcrs").string(), "-g", "sha256", "-q", nonce});
  };
  CliResult c = check(kNonce);
  BOOST_TEST(c.exit_code == 0, c.out + c.err);
  BOOST_TEST(check("00").exit_code != 0);  // not vacuous: another nonce is refused
  const json launch = json::parse(slurp(w.q / "launch.json"));
  BOOST_TEST(launch["platform"] == "intel");
  BOOST_TEST(launch["drtm"] == "senter");
}

// tpm2_eventlog parses the one log (SINIT's TXT events, then the SL's) and replays it to PCR17/18 in
// every bank, as pcrs.json read them from the TPM.
BOOST_AUTO_TEST_CASE(tpm2_eventlog_replays_the_intel_log) {
  World& w = world();
  CliResult r = run_program({"tpm2_eventlog", (w.q / "eventlog.bin").string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const size_t at = r.out.find("\npcrs:");
  BOOST_TEST_REQUIRE(at != std::string::npos, r.out);
  const auto got = yaml_pcrs(r.out, at);
  size_t compared = 0;
  for (const char* bank : {"sha1", "sha256", "sha384", "sha512"}) {
    if (!w.pcrs.contains(bank)) continue;
    for (const char* p : {"17", "18"}) {
      BOOST_TEST_REQUIRE(got.count(bank) == 1u, r.out);
      BOOST_TEST(got.at(bank).at(p) == lower(w.pcrs[bank][p].get<std::string>()), bank << " PCR" << p);
      ++compared;
    }
  }
  BOOST_TEST(compared >= 4u);
  // It lists every record (the Spec ID header and each event; the TXT types it calls "Unknown event type").
  size_t listed = 0;
  for (size_t at2 = r.out.find("EventType:"); at2 != std::string::npos; at2 = r.out.find("EventType:", at2 + 1)) ++listed;
  BOOST_TEST(listed == policy::parse_event_log(w.log).events.size() + 1);
}

BOOST_AUTO_TEST_CASE(a_good_intel_launch_is_affirming_with_its_claims) {
  World& w = world();
  Verdict v = appraise(w.log, w.quoted, w.reference("sinit3.acm"));
  BOOST_TEST(v.f.failures.empty(), v.text());
  BOOST_TEST(v.a.launched);
  BOOST_TEST(v.a.drtm["method"] == "senter");
  const json& t = v.a.launch["txt"];
  BOOST_TEST(t["acm"]["sha256"] == hex(sha("SHA256", read_file(w.d / "sinit3.acm"))));
  BOOST_TEST(t["mle"]["sha256"] == hex(sha("SHA256", w.mle)));
  BOOST_TEST(t["policy_control"] == 0);
  BOOST_TEST(v.a.launch["slb"]["sha256"] == hex(sha("SHA256", w.mle)));  // the MLE is the SLB's bytes
}

BOOST_AUTO_TEST_CASE(another_acm_or_an_older_release_is_contraindicated) {
  World& w = world();
  // Reference values that allow only the SVN 4 release: the launch's SVN 3 module is not in them.
  Verdict v = appraise(w.log, w.quoted, w.reference("sinit4.acm"));
  BOOST_TEST(v.codes() == std::vector<std::string>{"txt_acm_not_allowed"}, boost::test_tools::per_element());
  BOOST_TEST(v.text().find("PCR17") != std::string::npos, v.text());
}

BOOST_AUTO_TEST_CASE(another_acm_signer_is_contraindicated) {
  World& w = world();
  // An ACM of the same code signed by another chipset key: its module digest and its signer both differ.
  BOOST_TEST_REQUIRE(run_program({"openssl", "genrsa", "-out", (w.d / "other.pem").string(), "2048"}).exit_code == 0);
  BOOST_TEST_REQUIRE(run_redoubt({"sign", "acm", "--key", (w.d / "other.pem").string(), "--svn", "3", "--out", (w.d / "other.acm").string()}).exit_code == 0);
  Verdict v = appraise(w.log, w.quoted, w.reference("other.acm"));
  BOOST_TEST(v.has("txt_acm_not_allowed"), v.text());
  BOOST_TEST(v.has("txt_acm_signer_not_allowed"), v.text());
}

BOOST_AUTO_TEST_CASE(another_mle_is_contraindicated) {
  World& w = world();
  Verdict v = appraise(w.log, w.quoted, w.reference("sinit3.acm", hex(sha("SHA256", "another sl.bin"))));
  BOOST_TEST(v.codes() == std::vector<std::string>{"txt_mle_not_allowed"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reference_values_without_txt_refuse_an_intel_launch) {
  World& w = world();
  attest::ReferenceValues ref = w.reference("sinit3.acm");
  ref.txt_given = false;  // as if the authority had issued AMD-only reference values
  Verdict v = appraise(w.log, w.quoted, ref);
  BOOST_TEST(v.has("txt_not_referenced"), v.text());
}

// Events SINIT does not log where it logs them, on a TPM that extended them (the replay matches): the
// PCR map's grammar names each; none of them is a claim.
BOOST_AUTO_TEST_CASE(unexpected_events_on_pcr17_and_pcr18_are_named) {
  World& w = world();
  const attest::ReferenceValues ref = w.reference("sinit3.acm");
  const policy::EventLog log = policy::parse_event_log(w.log);
  const size_t mle17 = index_of(log, 17, tx::kMleHash), key18 = index_of(log, 18, tx::kSinitPubkeyHash), stm = index_of(log, 17, tx::kStmHash);
  struct Case {
    const char* what;
    Bytes log;
    const char* code;
  };
  const Bytes stm_data = log.events[stm].data;
  std::vector<Case> cases = {
      {"a legacy-mapping EV_TXT_LCP_HASH on PCR17", insert_at(w.log, log, mle17, record(log, 17, tx::kLcpHash, Bytes(32, 7))), "event_unknown_type"},
      {"a second EV_TXT_STM_HASH on PCR17", insert_at(w.log, log, mle17, record(log, 17, tx::kStmHash, stm_data)), "event_duplicated"},
      {"EV_TXT_SINIT_PUBKEY_HASH on PCR17", insert_at(w.log, log, mle17, record(log, 17, tx::kSinitPubkeyHash, Bytes(260, 1))), "event_wrong_pcr"},
      {"an EV_TXT_MLE_HASH on PCR18", insert_at(w.log, log, key18, record(log, 18, tx::kMleHash, Bytes(16, 2))), "event_wrong_pcr"},
      {"an SKINIT SLB event in an Intel log", insert_at(w.log, log, key18, record(log, 17, 0x601, Bytes(16, 3))), "event_out_of_order"},
      {"an event on PCR22, which no quote covers", insert_at(w.log, log, key18, record(log, 22, tx::kStmHash, Bytes(20, 0))), "event_unquoted_pcr"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      Verdict v = appraise(c.log, quote_of(c.log, w.quoted), ref);
      BOOST_TEST(v.has(c.code), v.text());
      BOOST_TEST(!v.has("pcr_replay_mismatch"), v.text());  // the TPM extended it: only the grammar catches it
    }
  }
  // And the unmodified log with that same construction of the quote is affirming (the cases are not vacuous).
  Verdict good = appraise(w.log, quote_of(w.log, w.quoted), ref);
  BOOST_TEST(good.f.failures.empty(), good.text());
}

// SINIT's legacy PCR mapping (MLE DG "PCR Usage"; what tboot asks for unless `pcr_map=da`): the same
// launch's log rewritten to the legacy layout, on a TPM that extended it (the replay matches):
// PCR17 = HASH_START, one EV_TXT_COMBINED_HASH of the 84-byte details, the SL's events; PCR18 = the
// MLE, the SL's events. Refused by name (docs/attestation.md "Intel TXT"), never affirming, and not
// passed off as an unknown event type.
BOOST_AUTO_TEST_CASE(a_legacy_mapping_log_is_refused_by_name) {
  World& w = world();
  const attest::ReferenceValues ref = w.reference("sinit3.acm");
  const policy::EventLog log = policy::parse_event_log(w.log);
  auto raw = [&](size_t i) {
    const size_t from = log.events[i].offset, to = i + 1 < log.events.size() ? log.events[i + 1].offset : w.log.size();
    return Bytes(w.log.begin() + static_cast<long>(from), w.log.begin() + static_cast<long>(to));
  };
  Bytes out(w.log.begin(), w.log.begin() + static_cast<long>(log.events.at(0).offset));
  Bytes mle18;
  size_t sinit17 = 0, sinit18 = 0;
  for (const auto& e : log.events) {
    const bool sinit = e.type >= tx::kBase && e.type < tx::kBase + 0x100;
    if (sinit && e.type != tx::kHashStart) {
      (e.pcr == 17 ? sinit17 : sinit18)++;
      if (e.type == tx::kMleHash) {  // SINIT's MLE event, moved to PCR18 as the legacy mapping puts it
        mle18 = raw(e.index);
        mle18[0] = 18;
      }
      continue;
    }
    if (e.pcr == 18 && !mle18.empty()) {  // in front of PCR18's first SL event
      out.insert(out.end(), mle18.begin(), mle18.end());
      mle18.clear();
    }
    const Bytes r = raw(e.index);
    out.insert(out.end(), r.begin(), r.end());
    if (e.type == tx::kHashStart) {  // the details: BiosAcmID, SENTER flags, MSEG, STM, PolicyControl, LCP hash, caps, 0
      const Bytes c = record(log, 17, tx::kCombinedHash, Bytes(84, 0));
      out.insert(out.end(), c.begin(), c.end());
    }
  }
  BOOST_TEST_REQUIRE(sinit17 >= 6u);  // the D/A details were there to take out
  BOOST_TEST_REQUIRE(sinit18 >= 4u);
  const policy::EventLog legacy = policy::parse_event_log(out);
  BOOST_TEST(index_of(legacy, 17, tx::kCombinedHash) == index_of(legacy, 17, tx::kHashStart) + 1);
  BOOST_TEST(legacy.events.at(index_of(legacy, 18, tx::kMleHash) + 1).pcr == 18u);  // an SL event follows it on PCR18
  Verdict v = appraise(out, quote_of(out, w.quoted), ref);
  BOOST_TEST(v.has("txt_legacy_pcr_mapping"), v.text());
  BOOST_TEST(!v.has("event_unknown_type"), v.text());
  BOOST_TEST(!v.has("pcr_replay_mismatch"), v.text());
  BOOST_TEST(!v.f.failures.empty());
  bool says_why = false;
  for (const auto& x : v.f.failures)
    if (x.code == "txt_legacy_pcr_mapping") says_why = x.message.find("details/authorities") != std::string::npos;
  BOOST_TEST(says_why, v.text());
}
