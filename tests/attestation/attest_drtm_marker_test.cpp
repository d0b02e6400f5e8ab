// The emulated-DRTM marker (policy/host/drtm_marker.hpp, docs/attestation.md
// "Emulated DRTM (QEMU)") on a real launch: the inproc TPM measures the LaunchKit
// launch and quotes it, the test inserts the marker into that launch's log as the
// QEMU harness does (it is not extended, so the same quote covers both logs) and
// the verifier appraises the result. Expected bytes and PCR values are built here
// by hand and with OpenSSL (test::sha / test::extend), never by the code under test.
#define BOOST_TEST_MODULE attest_drtm_marker
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <regex>
#include <tuple>

#include "attestation/agent/endpoint_state.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/drtm_origin.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "platform/sim/machine.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/keys.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt;
using namespace redoubt::attest;
using nlohmann::json;

namespace {

const std::string kText = "qemu: SKINIT emulated by the host harness (swtpm control channel HASH_START/DATA/END)";

// One TPM for the process, launched once with the LaunchKit inputs (as attest_tpm_test).
struct World {
  test::LaunchKit kit;
  test::TempDir state;
  std::unique_ptr<tpm::TpmDevice> tpm;
  std::unique_ptr<TpmIdentity> id;
  Bytes log;
  World() {
    tpm = test::fresh_inproc_tpm(state.path());
    sim::Machine m;
    auto r = sim::measured_launch(m, *tpm, kit.inputs(), [](std::string_view) {});
    BOOST_TEST_REQUIRE(r.launched);
    log = r.event_log;
    tpm->set_locality(0);
    id = std::make_unique<TpmIdentity>(*tpm);
  }
  // Parsed through the JSON parser, as a verifier loads them.
  ReferenceValues ref(std::optional<bool> allow_emulated) const {
    json j = {{"type", kReferenceValuesType}, {"id", allow_emulated.value_or(false) ? "test-qemu" : "test-default"},
              {"hypervisor", {{"signers", {policy::key_id_hex(kit.key)}}}}};
    if (allow_emulated) j["drtm"] = {{"allow_emulated", *allow_emulated}};
    return parse_reference_values(j);
  }
};

World& world() {
  static World w;
  return w;
}

AppraisalOutcome appraise_log(const Bytes& log, const ReferenceValues* ref, uint8_t nonce_seed) {
  World& w = world();
  const Bytes nonce(32, nonce_seed);
  EndpointQuote q = make_evidence(*w.tpm, *w.id, nonce, log);
  AppraisalInput in;
  in.ak_public = marshal_public(w.id->ak_public());
  in.ak_bound_to_ek = true;
  in.nonce = nonce;
  in.selection = default_quote_selection();
  in.ref = ref;
  return appraise(q.evidence, in, 1700000000);
}

json sub(const AppraisalOutcome& a) { return a.ear()["submods"]["redoubt-drtm"]; }

std::vector<std::string> codes(const std::vector<Finding>& v) {
  std::vector<std::string> c;
  for (const Finding& f : v) c.push_back(f.code);
  return c;
}

void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}

// A TCG_PCR_EVENT2 record (PFP §10.2.2) written by hand: zero digests for the four banks of the
// simulator's log (sha1, sha256, sha384, sha512), `poke` sets byte 0 of the sha256 one.
Bytes record(uint32_t pcr, uint32_t type, const Bytes& data, bool poke = false) {
  Bytes r;
  put_u32(r, pcr);
  put_u32(r, type);
  put_u32(r, 4);
  for (auto [id, size] : {std::pair<uint16_t, size_t>{0x0004, 20}, {0x000b, 32}, {0x000c, 48}, {0x000d, 64}}) {
    put_u16(r, id);
    const size_t at = r.size();
    r.insert(r.end(), size, 0);
    if (poke && id == 0x000b) r[at] = 1;
  }
  put_u32(r, static_cast<uint32_t>(data.size()));
  r.insert(r.end(), data.begin(), data.end());
  return r;
}

Bytes marker_data(const std::string& sig16, uint32_t version, const std::string& text) {
  Bytes d(sig16.begin(), sig16.end());
  BOOST_TEST_REQUIRE(d.size() == 16u);
  put_u32(d, version);
  d.insert(d.end(), text.begin(), text.end());
  return d;
}
const std::string kSig("RedoubtEmulDRTM\0", 16);

// The launch's log with `extra` records inserted before record `at` (0 = right after the header).
Bytes with_records(size_t at, const std::vector<Bytes>& extra) {
  const Bytes& raw = world().log;
  const policy::EventLog parsed = policy::parse_event_log(raw);
  const size_t off = at < parsed.events.size() ? parsed.events[at].offset : raw.size();
  Bytes out(raw.begin(), raw.begin() + static_cast<long>(off));
  for (const Bytes& r : extra) out.insert(out.end(), r.begin(), r.end());
  out.insert(out.end(), raw.begin() + static_cast<long>(off), raw.end());
  return out;
}

}  // namespace

// The builder writes exactly the documented record, right after the Spec ID header, and the
// parser reads it back; the log is otherwise unchanged and replays to the same PCRs.
BOOST_AUTO_TEST_CASE(marker_is_the_documented_record_after_the_header) {
  World& w = world();
  const Bytes marked = policy::insert_emulated_drtm_marker(w.log, kText);
  const Bytes want = with_records(0, {record(17, 3, marker_data(kSig, 1, kText))});
  BOOST_TEST(marked == want, boost::test_tools::per_element());
  BOOST_TEST(marked.size() == w.log.size() + 4 + 4 + 4 + 4 * 2 + 20 + 32 + 48 + 64 + 4 + 16 + 4 + kText.size());
  // Byte-level spot checks against the text of the brief: PCR 17, type 3, then the signature.
  const size_t at = policy::parse_event_log(w.log).events.front().offset;
  BOOST_TEST((Bytes(marked.begin() + static_cast<long>(at), marked.begin() + static_cast<long>(at) + 8) == Bytes{17, 0, 0, 0, 3, 0, 0, 0}));

  const policy::EventLog a = policy::parse_event_log(w.log), b = policy::parse_event_log(marked);
  BOOST_TEST_REQUIRE(b.events.size() == a.events.size() + 1);
  BOOST_TEST(b.events[0].pcr == 17u);
  BOOST_TEST(b.events[0].type == policy::kEvNoAction);
  BOOST_TEST(b.events[1].type == policy::kEvSkinitSlb);
  BOOST_TEST((policy::replay_event_log(a) == policy::replay_event_log(b)));

  const auto m = policy::find_emulated_drtm_marker(b);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->version == 1u);
  BOOST_TEST(m->text == kText);
  BOOST_TEST(!policy::find_emulated_drtm_marker(a).has_value());

  // Refusals, each naming its cause.
  auto cause_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const policy::DrtmMarkerError& e) {
      BOOST_TEST(std::string(e.what()).rfind("emulated-DRTM marker: ", 0) == 0u, e.what());
      return e.cause() + ": " + e.what();
    }
    return "accepted";
  };
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(marked, kText); }) ==
             "duplicated: emulated-DRTM marker: the log already has one (event #0, PCR17)");
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(w.log, ""); }).rfind("text: ", 0) == 0u);
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(w.log, std::string("a\0b", 3)); }) ==
             "text: emulated-DRTM marker: the text has a NUL at byte 1");
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(w.log, "qemu \xC3\x28"); }) ==
             "text: emulated-DRTM marker: the text has invalid UTF-8 at byte 5");
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(w.log, std::string(1025, 'q')); }) ==
             "text: emulated-DRTM marker: the text is 1025 bytes, more than 1024");
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(w.log, "qemu: \xE2\x9C\x93 ok"); }) == "accepted");  // UTF-8 is fine
  BOOST_TEST(cause_of([&] { policy::insert_emulated_drtm_marker(Bytes(w.log.begin(), w.log.begin() + 40), kText); }).rfind("log: ", 0) == 0u);
  // The whole-log finder names a second marker and one after the SKINIT event.
  const Bytes rec = record(17, 3, marker_data(kSig, 1, kText));
  BOOST_TEST(cause_of([&] { policy::find_emulated_drtm_marker(policy::parse_event_log(with_records(0, {rec, rec}))); }) ==
             "duplicated: emulated-DRTM marker: event #1 is a second marker; event #0 is the first");
  BOOST_TEST(cause_of([&] { policy::find_emulated_drtm_marker(policy::parse_event_log(with_records(0, {record(18, 3, marker_data(kSig, 1, kText))}))); }) ==
             "pcr: emulated-DRTM marker: on PCR18, the marker belongs on PCR17 (the DRTM PCR SKINIT extends)");
  BOOST_TEST(cause_of([&] { policy::find_emulated_drtm_marker(policy::parse_event_log(with_records(1, {rec}))); }) ==
             "position: emulated-DRTM marker: event #1: the marker is the first event after the Spec ID header, before the SKINIT measurement");
}

// Default reference values (and none) refuse an emulated DRTM; drtm.allow_emulated accepts it.
// The EAR says how the DRTM was made in every case, and the signed JWS carries it.
BOOST_AUTO_TEST_CASE(emulated_drtm_is_contraindicated_by_default_and_affirming_when_allowed) {
  World& w = world();
  const Bytes marked = policy::insert_emulated_drtm_marker(w.log, kText);
  const ReferenceValues absent = w.ref(std::nullopt), refused = w.ref(false), allowed = w.ref(true);
  BOOST_TEST(!absent.drtm_allow_emulated);
  BOOST_TEST(allowed.drtm_allow_emulated);
  const json marker_event = {{"index", 0}, {"pcr", 17}, {"type", "EV_NO_ACTION"}, {"type_id", 3}, {"sha256", std::string(64, '0')}};

  for (const ReferenceValues* ref : {&absent, &refused, static_cast<const ReferenceValues*>(nullptr)}) {
    BOOST_TEST_CONTEXT((ref ? ref->id : std::string("no reference values"))) {
      AppraisalOutcome a = appraise_log(marked, ref, 1);
      BOOST_TEST(a.status == "contraindicated");
      BOOST_TEST_REQUIRE(codes(a.findings.failures) == std::vector<std::string>{"drtm_emulated"}, boost::test_tools::per_element());
      const Finding& f = a.findings.failures[0];
      BOOST_TEST(f.detail["event"] == marker_event);
      BOOST_TEST(f.detail["text"] == kText);
      BOOST_TEST(f.message == "event #0 (PCR17, EV_NO_ACTION, sha256 0000000000000000…): the event log declares an emulated DRTM (\"" + kText +
                                  "\"): a harness, not the CPU's SKINIT, measured the SLB into the TPM; " +
                                  (ref ? "reference values " + ref->id + " do not allow it (drtm.allow_emulated)" : "no reference values allow it"),
                 f.message);
      BOOST_TEST(sub(a)["ear.trustworthiness-vector"]["hardware"] == 97);
      BOOST_TEST(sub(a)["ear.trustworthiness-vector"]["configuration"] == 2);  // the log replays and is in order
      BOOST_TEST(sub(a)["redoubt.drtm"] == (json{{"method", "harness-emulated"}, {"allowed", false},
                                                  {"marker", {{"event", marker_event}, {"version", 1}, {"text", kText}}}}));
      BOOST_TEST(sub(a)["redoubt.launch"]["hypervisor"]["svn"] == 2);  // the launch is still appraised and claimed
    }
  }

  AppraisalOutcome ok = appraise_log(marked, &allowed, 2);
  BOOST_TEST(ok.status == "affirming", ok.ear().dump());
  BOOST_TEST(ok.findings.failures.empty());
  BOOST_TEST_REQUIRE(codes(ok.findings.notes) == std::vector<std::string>{"drtm_emulated"}, boost::test_tools::per_element());
  BOOST_TEST(ok.findings.notes[0].message.find("reference values test-qemu allow it (drtm.allow_emulated)") != std::string::npos, ok.findings.notes[0].message);
  BOOST_TEST(sub(ok)["ear.trustworthiness-vector"]["hardware"] == 2);
  BOOST_TEST(sub(ok)["redoubt.drtm"] == (json{{"method", "harness-emulated"}, {"allowed", true},
                                               {"marker", {{"event", marker_event}, {"version", 1}, {"text", kText}}}}));
  // The claim travels in the signed verdict.
  const policy::EvpKey ear_key = policy::generate_key("P-256");
  const json signed_claims = jws_verify_es256(jws_sign_es256(ok.ear(), ear_key, "k"), ear_key);
  BOOST_TEST(signed_claims["submods"]["redoubt-drtm"]["redoubt.drtm"]["method"] == "harness-emulated");
  BOOST_TEST(signed_claims["submods"]["redoubt-drtm"]["redoubt.drtm"]["marker"]["text"] == kText);

  // The same launch without the marker: SKINIT, affirming under either reference values.
  for (const ReferenceValues* ref : {&absent, &allowed}) {
    AppraisalOutcome a = appraise_log(w.log, ref, 3);
    BOOST_TEST(a.status == "affirming", a.ear().dump());
    BOOST_TEST(a.findings.notes.empty());
    BOOST_TEST(sub(a)["redoubt.drtm"] == json({{"method", "skinit"}}));
    BOOST_TEST(jws_verify_es256(jws_sign_es256(a.ear(), ear_key, "k"), ear_key)["submods"]["redoubt-drtm"]["redoubt.drtm"]["method"] == "skinit");
  }

  // A quote that does not verify: the log is not appraised, so nothing is claimed about it.
  Evidence bad = make_evidence(*w.tpm, *w.id, Bytes(32, 4), marked).evidence;
  bad.quote.back() ^= 1;
  AppraisalInput in;
  in.ak_public = marshal_public(w.id->ak_public());
  in.ak_bound_to_ek = true;
  in.nonce = Bytes(32, 4);
  in.selection = default_quote_selection();
  in.ref = &allowed;
  AppraisalOutcome nq = appraise(bad, in, 0);
  BOOST_TEST(nq.status == "contraindicated");
  BOOST_TEST(nq.ear()["submods"]["redoubt-drtm"]["redoubt.drtm"] == json({{"method", "unknown"}}));
}

// The marker counts only in exactly its place and form; anything else claiming to be it is a named
// failure (never an event_unknown_type, never ignored). The quote covers every variant (the marker
// is not extended), so the log always replays: the failures are the marker's alone. Reference
// values allow emulation here, so that only the marker's own problem fails.
BOOST_AUTO_TEST_CASE(misplaced_duplicated_and_malformed_markers_are_named) {
  const ReferenceValues allowed = world().ref(true);
  const Bytes good = marker_data(kSig, 1, kText);
  const size_t n = policy::parse_event_log(world().log).events.size();  // the launch's events: the marker appended is #n
  BOOST_TEST_REQUIRE(n >= 6u);
  struct Case {
    const char* name;
    Bytes log;
    const char* code;
    size_t index;  // of the event named
    json detail;   // members of the finding's detail that must match
    std::string message;
  };
  Bytes trunc(kSig.begin(), kSig.end());
  trunc.insert(trunc.end(), {1, 0});
  const Case cases[] = {
      {"on PCR18", with_records(0, {record(18, 3, good)}), "drtm_marker_wrong_pcr", 0, {{"expected_pcr", 17}},
       "emulated-DRTM marker: on PCR18, the marker belongs on PCR17 (the DRTM PCR SKINIT extends)"},
      {"on PCR23 (not quoted)", with_records(0, {record(23, 3, good)}), "drtm_marker_wrong_pcr", 0, {{"expected_pcr", 17}},
       "emulated-DRTM marker: on PCR23, the marker belongs on PCR17 (the DRTM PCR SKINIT extends)"},
      {"non-zero sha256 digest", with_records(0, {record(17, 3, good, true)}), "drtm_marker_malformed", 0, {{"cause", "digest"}},
       "emulated-DRTM marker: the sha256 digest is not zero: an EV_NO_ACTION event is not extended and carries zero digests (PFP §10.4.5)"},
      {"duplicated", with_records(0, {record(17, 3, good), record(17, 3, good)}), "drtm_marker_duplicated", 1, {{"first", {{"index", 0}}}},
       "a second emulated-DRTM marker; the log carries one, and event #0 is the first"},
      {"after the SKINIT event", with_records(1, {record(17, 3, good)}), "drtm_marker_misplaced", 1, {{"expected_index", 0}},
       "the emulated-DRTM marker is the first event after the Spec ID header, before EV_REDOUBT_SKINIT_SLB; here it is event #1"},
      {"at the end of the log", with_records(SIZE_MAX, {record(17, 3, good)}), "drtm_marker_misplaced", n, {{"expected_index", 0}},
       "here it is event #" + std::to_string(n)},
      {"signature without its NUL", with_records(0, {record(17, 3, marker_data(std::string("RedoubtEmulDRTM\x01", 16), 1, kText))}),
       "drtm_marker_malformed", 0, {{"cause", "signature"}},
       "emulated-DRTM marker: the event data does not begin with the 16-byte signature \"RedoubtEmulDRTM\\0\""},
      {"version 2", with_records(0, {record(17, 3, marker_data(kSig, 2, kText))}), "drtm_marker_malformed", 0, {{"cause", "version"}},
       "emulated-DRTM marker: version 2 (0x00000002), only version 1 is defined"},
      {"version 0x01000000 (big-endian 1)", with_records(0, {record(17, 3, marker_data(kSig, 0x01000000, kText))}), "drtm_marker_malformed", 0,
       {{"cause", "version"}}, "version 16777216 (0x01000000), only version 1 is defined"},
      {"truncated version", with_records(0, {record(17, 3, trunc)}), "drtm_marker_malformed", 0, {{"cause", "truncated"}},
       "emulated-DRTM marker: the event data is 18 bytes: no room for the 4-byte version after the signature"},
      {"no text", with_records(0, {record(17, 3, marker_data(kSig, 1, ""))}), "drtm_marker_malformed", 0, {{"cause", "text"}},
       "emulated-DRTM marker: the text is empty"},
      {"text with a NUL", with_records(0, {record(17, 3, marker_data(kSig, 1, std::string("qemu\0", 5)))}), "drtm_marker_malformed", 0,
       {{"cause", "text"}}, "emulated-DRTM marker: the text has a NUL at byte 4"},
      {"text not UTF-8", with_records(0, {record(17, 3, marker_data(kSig, 1, "qemu \xFF"))}), "drtm_marker_malformed", 0, {{"cause", "text"}},
       "emulated-DRTM marker: the text has invalid UTF-8 at byte 5"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      AppraisalOutcome a = appraise_log(c.log, &allowed, 5);
      BOOST_TEST(a.status == "contraindicated");
      BOOST_TEST_REQUIRE(codes(a.findings.failures) == std::vector<std::string>{c.code}, boost::test_tools::per_element());
      const Finding& f = a.findings.failures[0];
      BOOST_TEST(f.detail["event"]["index"] == c.index);
      BOOST_TEST(f.detail["event"]["type"] == "EV_NO_ACTION");
      for (const auto& [k, v] : c.detail.items()) {
        if (v.is_object())
          for (const auto& [k2, v2] : v.items()) BOOST_TEST(f.detail[k][k2] == v2, k << "." << k2 << ": " << f.detail.dump());
        else
          BOOST_TEST(f.detail[k] == v, k << ": " << f.detail.dump());
      }
      BOOST_TEST(f.message.find(c.message) != std::string::npos, f.message);
      BOOST_TEST(f.message.rfind("event #" + std::to_string(c.index) + " (PCR", 0) == 0u, f.message);
      BOOST_TEST(sub(a)["ear.trustworthiness-vector"]["configuration"] == 96);
      // The endpoint declared emulation, badly: claimed as such, with the problem instead of the text
      // (except for a duplicate, where the first marker is well-formed and in its place).
      const json claim = sub(a)["redoubt.drtm"];
      BOOST_TEST(claim["method"] == "harness-emulated");
      BOOST_TEST(claim["allowed"] == true);
      if (std::string(c.code) == "drtm_marker_duplicated") {
        BOOST_TEST(claim["marker"]["text"] == kText);
      } else {
        BOOST_TEST(!claim["marker"].contains("text"));
        BOOST_TEST(claim["marker"]["malformed"] ==
                   (std::string(c.code) == "drtm_marker_misplaced" ? json("position")
                    : std::string(c.code) == "drtm_marker_wrong_pcr" ? json("pcr")
                                                                      : c.detail["cause"]));
      }
      BOOST_TEST_REQUIRE(codes(a.findings.notes) == std::vector<std::string>{"drtm_emulated"}, boost::test_tools::per_element());
    }
  }
  // Not the marker at all (another signature): an ordinary unexpected EV_NO_ACTION, and the log does
  // not declare emulation.
  AppraisalOutcome other = appraise_log(with_records(0, {record(17, 3, marker_data(std::string("RedoubtEmulDRTX\0", 16), 1, kText))}), &allowed, 6);
  BOOST_TEST_REQUIRE(codes(other.findings.failures) == std::vector<std::string>{"event_unknown_type"}, boost::test_tools::per_element());
  BOOST_TEST(other.findings.failures[0].detail["event"]["index"] == 0);
  BOOST_TEST(sub(other)["redoubt.drtm"] == json({{"method", "skinit"}}));
  // A log flooded with markers gets a bounded verdict: the first duplicates named, the rest counted.
  AppraisalOutcome flood = appraise_log(with_records(0, std::vector<Bytes>(1001, record(17, 3, good))), &allowed, 8);
  std::vector<std::string> want(kMaxMarkerFindings, "drtm_marker_duplicated");
  want.push_back("drtm_marker_more");
  BOOST_TEST(codes(flood.findings.failures) == want, boost::test_tools::per_element());
  BOOST_TEST(flood.findings.failures.back().detail["count"] == 1000 - kMaxMarkerFindings);
  BOOST_TEST(flood.findings.failures[kMaxMarkerFindings - 1].detail["event"]["index"] == kMaxMarkerFindings);
  // Under default reference values a misplaced marker is both: named, and an emulated DRTM refused.
  const ReferenceValues refused = world().ref(std::nullopt);
  AppraisalOutcome both = appraise_log(with_records(1, {record(17, 3, good)}), &refused, 7);
  BOOST_TEST(codes(both.findings.failures) == (std::vector<std::string>{"drtm_marker_misplaced", "drtm_emulated"}), boost::test_tools::per_element());
}

// tpm2_eventlog (tpm2-tools, the oracle of the other log tests) parses a marked log and shows the
// marker. PCR18 replays to the TPM's value either way; PCR17 does too from tpm2-tools 5.6 on, while
// 5.4/5.5 (Debian 12 has 5.4) extend EV_NO_ACTION digests against PFP §10.4.5 (tpm2-tools#3224,
// fixed by PR #3230 in 5.6): there PCR17 is the TPM's sequence with one zero digest extended first.
BOOST_AUTO_TEST_CASE(tpm2_eventlog_parses_a_marked_log) {
  if (std::system("command -v tpm2_eventlog >/dev/null 2>&1") != 0) {
    BOOST_TEST_MESSAGE("tpm2_eventlog not installed: skipped");
    return;
  }
  World& w = world();
  test::CliResult ver = test::run_program({"tpm2_eventlog", "--version"});
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(ver.out, m, std::regex("version=\"([0-9]+)\\.([0-9]+)")), ver.out);
  const int major = std::stoi(m[1].str()), minor = std::stoi(m[2].str());
  const bool extends_no_action = major < 5 || (major == 5 && minor < 6);

  const Bytes marked = policy::insert_emulated_drtm_marker(w.log, kText);
  test::TempDir t;
  test::write_file(t / "plain.bin", w.log);
  test::write_file(t / "marked.bin", marked);
  // The PCR17 digests of the launch (the TPM extended exactly these), in order, per bank.
  const policy::EventLog parsed = policy::parse_event_log(w.log);
  for (const auto& [bank, alg, size] : {std::tuple{"sha256", HashAlg::sha256, size_t{32}}, std::tuple{"sha384", HashAlg::sha384, size_t{48}}}) {
    BOOST_TEST_CONTEXT(bank) {
      const Bytes tpm17 = test::read_pcr(*w.tpm, alg, 17), tpm18 = test::read_pcr(*w.tpm, alg, 18);
      Bytes buggy17 = test::extend(bank == std::string("sha256") ? "SHA256" : "SHA384", test::zeros(size), test::zeros(size));
      for (const auto& e : parsed.events)
        if (e.pcr == 17)
          for (const auto& [a, d] : e.digests)
            if (a == alg) buggy17 = test::extend(bank == std::string("sha256") ? "SHA256" : "SHA384", buggy17, d);
      BOOST_TEST(buggy17 != tpm17);
      for (const char* file : {"plain.bin", "marked.bin"}) {
        BOOST_TEST_CONTEXT(file) {
          test::CliResult r = test::run_program({"tpm2_eventlog", (t / file).string()});
          BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
          const bool is_marked = std::string(file) == "marked.bin";
          if (is_marked) {  // event 1 (0 is the Spec ID header) is the marker, its data shown in hex
            const std::string hex_data = test::hex(Bytes(kSig.begin(), kSig.end())) + "01000000" + test::hex(Bytes(kText.begin(), kText.end()));
            BOOST_TEST(std::regex_search(r.out, std::regex("- EventNum: 1\\n  PCRIndex: 17\\n  EventType: EV_NO_ACTION\\n")), r.out);
            BOOST_TEST(r.out.find("Event: \"" + hex_data + "\"") != std::string::npos, r.out);
          }
          std::string s = r.out.substr(r.out.find("pcrs:"));
          s = s.substr(s.find(std::string(bank) + ":"));
          s = s.substr(0, s.find("\n  sha", 3));
          const std::string hexlen = std::to_string(2 * size);
          BOOST_TEST_REQUIRE(std::regex_search(s, m, std::regex("17 : 0x([0-9a-fA-F]{" + hexlen + "})")), s);
          std::string got = m[1].str();
          std::transform(got.begin(), got.end(), got.begin(), ::tolower);
          BOOST_TEST(got == test::hex(is_marked && extends_no_action ? buggy17 : tpm17));
          BOOST_TEST_REQUIRE(std::regex_search(s, m, std::regex("18 : 0x([0-9a-fA-F]{" + hexlen + "})")), s);
          got = m[1].str();
          std::transform(got.begin(), got.end(), got.begin(), ::tolower);
          BOOST_TEST(got == test::hex(tpm18));
        }
      }
    }
  }
}

// The CLI: `verifier sign-reference --allow-emulated-drtm` (off by default) and `eventlog
// mark-emulated-drtm` (what a shell harness would call).
BOOST_AUTO_TEST_CASE(cli_signs_allow_emulated_and_marks_a_log) {
  World& w = world();
  test::TempDir t;
  policy::generate_key_files("P-256", (t / "authority").string());
  const policy::EvpKey authority = policy::load_public_key((t / "authority.pub.pem").string());
  test::write_file(t / "ref.json", [&] {
    const std::string s = json{{"type", kReferenceValuesType}, {"id", "cli"}, {"hypervisor", {{"signers", {policy::key_id_hex(w.kit.key)}}}}}.dump();
    return Bytes(s.begin(), s.end());
  }());
  for (bool allow : {false, true}) {
    std::vector<std::string> args = {"verifier", "sign-reference", "--in", (t / "ref.json").string(), "--key", (t / "authority.key.pem").string(),
                                     "--out", (t / "ref.cose").string(), "--force"};
    if (allow) args.push_back("--allow-emulated-drtm");
    test::CliResult r = test::run_redoubt(args);
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const ReferenceValues ref = verify_reference_values(test::read_file(t / "ref.cose"), authority);
    BOOST_TEST(ref.drtm_allow_emulated == allow);
    BOOST_TEST(ref.document.contains("drtm") == allow);
    if (allow) BOOST_TEST(ref.document["drtm"] == json({{"allow_emulated", true}}));
  }

  test::write_file(t / "eventlog.bin", w.log);
  test::CliResult r = test::run_redoubt({"eventlog", "mark-emulated-drtm", (t / "eventlog.bin").string(), "--text", kText, "--out", (t / "marked.bin").string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(test::read_file(t / "marked.bin") == policy::insert_emulated_drtm_marker(w.log, kText), boost::test_tools::per_element());
  r = test::run_redoubt({"eventlog", "mark-emulated-drtm", (t / "marked.bin").string(), "--text", kText, "--out", (t / "twice.bin").string()});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("emulated-DRTM marker: the log already has one (event #0, PCR17) (duplicated)") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists(t / "twice.bin"));
}

// "drtm" in reference values is type-checked like the rest: an object (or null) whose allow_emulated
// is a boolean; absent, null or {} = false. sign_reference_values refuses what the verifier would.
BOOST_AUTO_TEST_CASE(reference_values_drtm_member_is_type_checked) {
  const json base = {{"type", kReferenceValuesType}, {"id", "rv"}, {"hypervisor", {{"signers", {std::string(64, 'a')}}}}};
  auto with = [&](json drtm) {
    json j = base;
    j["drtm"] = std::move(drtm);
    return j;
  };
  BOOST_TEST(!parse_reference_values(base).drtm_allow_emulated);
  BOOST_TEST(!parse_reference_values(with(nullptr)).drtm_allow_emulated);
  BOOST_TEST(!parse_reference_values(with(json::object())).drtm_allow_emulated);
  BOOST_TEST(!parse_reference_values(with({{"allow_emulated", false}})).drtm_allow_emulated);
  BOOST_TEST(parse_reference_values(with({{"allow_emulated", true}})).drtm_allow_emulated);
  const policy::EvpKey authority = policy::generate_key("P-256");
  const struct {
    json drtm;
    const char* reason;
  } bad[] = {{true, "\"drtm\" must be an object {\"allow_emulated\": true|false} or null"},
             {json::array({true}), "\"drtm\" must be an object {\"allow_emulated\": true|false} or null"},
             {{{"allow_emulated", "true"}}, "drtm.allow_emulated must be true or false"},
             {{{"allow_emulated", 1}}, "drtm.allow_emulated must be true or false"},
             {{{"allow_emulated", nullptr}}, "drtm.allow_emulated must be true or false"}};
  for (const auto& b : bad) {
    BOOST_TEST_CONTEXT(b.drtm.dump()) {
      for (int signing = 0; signing < 2; ++signing) {
        try {
          if (signing)
            sign_reference_values(with(b.drtm), authority);
          else
            parse_reference_values(with(b.drtm));
          BOOST_FAIL("accepted");
        } catch (const AttestError& e) {
          BOOST_TEST(e.code() == "bad_reference_values");
          BOOST_TEST(e.reason() == b.reason);
        }
      }
    }
  }
}
