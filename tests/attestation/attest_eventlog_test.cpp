// The event-log appraiser on crafted DRTM logs (no TPM): the launch claims come
// only from events on quoted, replayed PCRs at the place docs/pcr-map.md puts
// them; an event anywhere else is a named failure (issue 16, item 1). The quoted
// PCR values are computed here with OpenSSL from the events a TPM would have
// extended (PCR17-20 only), never by the code under test.
#define BOOST_TEST_MODULE attest_eventlog
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>

#include "attestation/tpm/pcr_file.hpp"
#include "attestation/verifier/event_order.hpp"
#include "attestation/verifier/eventlog_appraiser.hpp"
#include "attestation/verifier/replay_diagnosis.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "tests/attestation/crafted_log.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
using namespace redoubt::test::crafted;

namespace {

struct World {
  policy::EvpKey owner = policy::generate_key("P-256");
  policy::EvpKey attacker = policy::generate_key("P-256");
  Boot good{owner, 2, "good"}, old{owner, 1, "old"}, foreign{attacker, 2, "foreign"};
  attest::ReferenceValues ref;
  World() {
    ref.id = "crafted";
    ref.hv_signers.insert(policy::key_id_hex(owner));
    ref.min_svn = 2;
  }
};

World& world() {
  static World w;
  return w;
}

struct Result {
  attest::Findings f;
  attest::LogAppraisal a;
};

Result appraise(const CraftedLog& l) {
  Result r;
  r.a = attest::appraise_event_log(l.bytes(), l.quoted(), &world().ref, r.f);
  return r;
}

std::vector<std::string> codes(const attest::Findings& f) {
  std::vector<std::string> v;
  for (const auto& x : f.failures) v.push_back(x.code);
  return v;
}

std::string dump(const attest::Findings& f) {
  std::string s;
  for (const auto& x : f.failures) s += x.code + ": " + x.message + "\n";
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_good_launch_has_no_findings) {
  const World& w = world();
  CraftedLog l;
  w.good.sl(l);
  Boot::no_guests(l);
  Result r = appraise(l);
  BOOST_TEST(r.f.failures.empty(), dump(r.f));
  BOOST_TEST(r.a.log_matches_pcrs);
  BOOST_TEST(r.a.launched);
  BOOST_TEST(r.a.launch["hypervisor"]["svn"] == 2);
  BOOST_TEST(r.a.launch["hypervisor"]["signer"] == policy::key_id_hex(w.owner));
  BOOST_TEST(r.a.launch["hypervisor"]["sha256"] == hex(sha("SHA256", w.good.image)));
}

// The attack of issue 16 item 1: a tampered launch (SVN 1, or a foreign signer) on PCR17/18, and a
// good boot's launch events appended on PCR 23, which the quote does not cover.
BOOST_AUTO_TEST_CASE(good_launch_events_on_pcr23_do_not_hide_a_tampered_launch) {
  const World& w = world();
  struct Case {
    const Boot* launched;
    const char* code;
    uint32_t pcr;
    const char* type;
  } cases[] = {{&w.old, "hv_svn_below_minimum", 17, "EV_REDOUBT_HV_MANIFEST"},
               {&w.foreign, "hv_signer_not_allowed", 18, "EV_REDOUBT_HV_SIGNER"}};
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.code) {
      CraftedLog l;
      c.launched->sl(l);
      Boot::no_guests(l);
      const size_t first = l.count;
      w.good.launch_events_on(l, 23);
      Result r = appraise(l);
      BOOST_TEST(r.a.log_matches_pcrs);  // the quoted PCRs replay: PCR23 is simply not looked at by the replay
      const std::vector<std::string> want = {"event_unquoted_pcr", "event_unquoted_pcr", "event_unquoted_pcr", "event_unquoted_pcr", c.code};
      BOOST_TEST(codes(r.f) == want, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(r.f.failures.size() == 5u, dump(r.f));
      const char* types[] = {"EV_REDOUBT_SKINIT_SLB", "EV_REDOUBT_HV_MANIFEST", "EV_REDOUBT_HV_IMAGE", "EV_REDOUBT_HV_SIGNER"};
      for (size_t i = 0; i < 4; ++i) {
        const attest::Finding& u = r.f.failures[i];
        BOOST_TEST(u.detail["event"]["index"] == first + i);
        BOOST_TEST(u.detail["event"]["pcr"] == 23);
        BOOST_TEST(u.detail["event"]["type"] == types[i]);
        BOOST_TEST(u.message == "event #" + std::to_string(first + i) + " (PCR23, " + types[i] + ", sha256 " +
                                    u.detail["event"]["sha256"].get<std::string>().substr(0, 16) +
                                    "…): PCR23 is not in the quote (sha256:17,18,19,20+sha384:17,18,19,20): nothing shows the TPM measured it",
                   u.message);
      }
      // The tampered launch is what is appraised and claimed: the PCR17/18 events.
      const attest::Finding& t = r.f.failures[4];
      BOOST_TEST(t.detail["event"]["pcr"] == c.pcr);
      BOOST_TEST(t.detail["event"]["type"] == c.type);
      BOOST_TEST(r.a.launch["hypervisor"]["svn"] == c.launched->svn);
      BOOST_TEST(r.a.launch["hypervisor"]["signer"] == policy::key_id_hex(c.launched->key));
    }
  }
}

// A second manifest that *was* extended (into PCR17, after the SL closed it) is a duplicate:
// the first one, where the SL measures it, is the launch's.
BOOST_AUTO_TEST_CASE(a_duplicated_launch_event_on_a_quoted_pcr_is_named_and_not_used) {
  const World& w = world();
  CraftedLog l;
  w.old.sl(l);
  const size_t dup = l.add(17, policy::kEvHvManifest, w.good.payload);
  Boot::no_guests(l);
  Result r = appraise(l);
  BOOST_TEST(r.a.log_matches_pcrs);
  const std::vector<std::string> want = {"event_duplicated", "hv_svn_below_minimum"};
  BOOST_TEST(codes(r.f) == want, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(r.f.failures.size() == 2u, dump(r.f));
  BOOST_TEST(r.f.failures[0].detail["event"]["index"] == dup);
  BOOST_TEST(r.f.failures[0].detail["first"]["index"] == 1);
  BOOST_TEST(r.f.failures[0].message.find("a launch records one EV_REDOUBT_HV_MANIFEST on PCR17; event #1 is the first") != std::string::npos,
             r.f.failures[0].message);
  BOOST_TEST(r.f.failures[1].detail["event"]["index"] == 1);
  BOOST_TEST(r.a.launch["hypervisor"]["svn"] == 1);
}

// Events on a quoted PCR but of a type the PCR map puts elsewhere, of an unknown type, or in
// another order than the SL and the hypervisor record them.
BOOST_AUTO_TEST_CASE(wrong_pcr_unknown_type_and_out_of_order_events_are_named) {
  const World& w = world();
  {  // the signer key on PCR17 (where nothing checks it) as well as on PCR18
    CraftedLog l;
    w.good.sl(l);
    const size_t bad = l.add(17, policy::kEvHvSigner, w.good.signer);
    Boot::no_guests(l);
    Result r = appraise(l);
    BOOST_TEST_REQUIRE(codes(r.f) == std::vector<std::string>{"event_wrong_pcr"}, boost::test_tools::per_element());
    BOOST_TEST(r.f.failures[0].detail["event"]["index"] == bad);
    BOOST_TEST(r.f.failures[0].detail["expected_pcr"] == json({18}));
  }
  {  // an EV_NO_ACTION and an unregistered type after the SL
    CraftedLog l;
    w.good.sl(l);
    const size_t a = l.add(17, policy::kEvNoAction, text("vendor"));
    const size_t b = l.add(18, 0x6a0, text("?"));
    Boot::no_guests(l);
    Result r = appraise(l);
    BOOST_TEST_REQUIRE(codes(r.f) == (std::vector<std::string>{"event_unknown_type", "event_unknown_type"}), boost::test_tools::per_element());
    BOOST_TEST(r.f.failures[0].detail["event"]["index"] == a);
    BOOST_TEST(r.f.failures[1].detail["event"]["index"] == b);
    BOOST_TEST(r.f.failures[1].detail["event"]["type_id"] == 0x6a0);
  }
  {  // the signer logged before the image (each PCR's own order intact, so the log still replays)
    CraftedLog l;
    l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB"), &w.good.slb);
    l.add(17, policy::kEvHvManifest, w.good.payload);
    const size_t signer = l.add(18, policy::kEvHvSigner, w.good.signer);
    const size_t image = l.add(17, policy::kEvHvImage, text("hypervisor image"), &w.good.image);
    l.add(17, policy::kEvSeparator, kSep);
    l.add(18, policy::kEvSeparator, kSep);
    Boot::no_guests(l);
    Result r = appraise(l);
    BOOST_TEST(r.a.log_matches_pcrs);
    BOOST_TEST_REQUIRE(codes(r.f) == std::vector<std::string>{"event_out_of_order"}, boost::test_tools::per_element());
    BOOST_TEST(r.f.failures[0].detail["event"]["index"] == image);
    BOOST_TEST(r.f.failures[0].detail["after_event"]["index"] == signer);
  }
  {  // a guest event before the SL closed PCR17/18, and one after the hypervisor closed PCR19/20
    CraftedLog l;
    l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB"), &w.good.slb);
    l.add(17, policy::kEvHvManifest, w.good.payload);
    l.add(17, policy::kEvHvImage, text("hypervisor image"), &w.good.image);
    l.add(18, policy::kEvHvSigner, w.good.signer);
    const size_t early = l.add(19, policy::kEvGuestUnsigned, text("unsigned guest early"));
    l.add(17, policy::kEvSeparator, kSep);
    l.add(18, policy::kEvSeparator, kSep);
    Boot::no_guests(l);
    const size_t late = l.add(19, policy::kEvGuestRefused, text("guest late refused: x: y"));
    Result r = appraise(l);
    BOOST_TEST(r.a.log_matches_pcrs);
    BOOST_TEST_REQUIRE(codes(r.f) == (std::vector<std::string>{"event_out_of_order", "event_out_of_order"}), boost::test_tools::per_element());
    BOOST_TEST(r.f.failures[0].detail["event"]["index"] == early);
    BOOST_TEST(r.f.failures[0].message.find("logged before the SL closed PCR17 and PCR18") != std::string::npos, r.f.failures[0].message);
    BOOST_TEST(r.f.failures[1].detail["event"]["index"] == late);
    BOOST_TEST(r.f.failures[1].message.find("after PCR19's EV_SEPARATOR") != std::string::npos, r.f.failures[1].message);
    BOOST_TEST(r.f.warnings.empty());  // neither guest event is appraised as a guest
  }
}

// A refused launch: the guest PCRs hold nothing the hypervisor measured, since it never ran.
BOOST_AUTO_TEST_CASE(guest_events_after_a_refused_launch_are_named) {
  const World& w = world();
  CraftedLog l;
  l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB"), &w.good.slb);
  l.add(17, policy::kEvLaunchFailed, text("rollback: hypervisor SVN 1 is below the anti-rollback counter 2"));
  l.add(18, policy::kEvLaunchFailed, text("rollback: hypervisor SVN 1 is below the anti-rollback counter 2"));
  const size_t g = l.add(19, policy::kEvGuestChain, text("chain"));
  Result r = appraise(l);
  BOOST_TEST(r.a.log_matches_pcrs);
  BOOST_TEST(!r.a.launched);
  BOOST_TEST_REQUIRE(codes(r.f) == (std::vector<std::string>{"event_out_of_order", "launch_failed"}), boost::test_tools::per_element());
  BOOST_TEST(r.f.failures[0].detail["event"]["index"] == g);
  BOOST_TEST(r.f.failures[0].message.find("the launch was refused (event #1") != std::string::npos, r.f.failures[0].message);
  BOOST_TEST(r.f.failures[1].detail["event"]["index"] == 1);
}

// The signed guest events appraised are the ones on PCR19/20 in the hypervisor's order only.
BOOST_AUTO_TEST_CASE(guests_come_from_pcr19_and_20_only) {
  const World& w = world();
  CraftedLog l;
  w.good.sl(l);
  l.add(19, policy::kEvGuestUnsigned, text("unsigned guest lab"));
  const Bytes kernel = text("lab kernel");
  l.add(20, policy::kEvGuestImage, text("unsigned guest lab kernel (10 bytes)"), &kernel);
  Boot::no_guests(l);
  l.add(22, policy::kEvGuestUnsigned, text("unsigned guest ghost"));  // PCR22: reserved and not quoted
  Result r = appraise(l);
  BOOST_TEST_REQUIRE(codes(r.f) == std::vector<std::string>{"event_unquoted_pcr"}, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(r.a.guests.size() == 1u);
  BOOST_TEST(r.a.guests[0]["name"] == "lab");
  BOOST_TEST(r.a.guests[0]["images"] == json({hex(sha("SHA256", kernel))}));
  BOOST_TEST_REQUIRE(r.f.warnings.size() == 1u);
  BOOST_TEST(r.f.warnings[0].code == "guest_unsigned");
}

// An endpoint that floods the log with unexpected events gets a bounded verdict: the first ones
// named, then one count of the rest.
BOOST_AUTO_TEST_CASE(many_unexpected_events_give_a_bounded_list) {
  const World& w = world();
  CraftedLog l;
  w.good.sl(l);
  Boot::no_guests(l);
  for (int i = 0; i < 1000; ++i) l.add(23, policy::kEvHvManifest, w.good.payload);
  Result r = appraise(l);
  BOOST_TEST_REQUIRE(r.f.failures.size() == attest::kMaxEventOrderFindings + 1, dump(r.f));
  BOOST_TEST(r.f.failures.back().code == "event_unexpected_more");
  BOOST_TEST(r.f.failures.back().detail["count"] == 1000 - attest::kMaxEventOrderFindings);
}

// replay_diagnosis looks at the PCR's own events: a launch failure on another PCR (here 23, which
// nothing quotes) no longer hides the shape a launch records, so the missing event is still named.
BOOST_AUTO_TEST_CASE(replay_diagnosis_ignores_events_of_other_pcrs) {
  const World& w = world();
  CraftedLog l;
  l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB"), &w.good.slb);
  l.add(17, policy::kEvHvManifest, w.good.payload);
  const size_t sep = l.add(17, policy::kEvSeparator, kSep);  // the log lacks the image event the TPM saw
  l.add(18, policy::kEvHvSigner, w.good.signer);
  l.add(18, policy::kEvSeparator, kSep);
  l.add(23, policy::kEvLaunchFailed, text("decoy"));
  Bytes tpm17 = zeros(32);
  for (const Bytes& d : {w.good.slb, w.good.payload, w.good.image, kSep}) tpm17 = extend("SHA256", tpm17, sha("SHA256", d));
  const policy::EventLog parsed = policy::parse_event_log(l.bytes());
  auto dx = attest::diagnose_replay(parsed, 17, HashAlg::sha256, tpm17);
  BOOST_TEST_REQUIRE(dx.has_value());
  BOOST_TEST((dx->kind == attest::ReplayDiagnosis::Kind::missing));
  BOOST_TEST(dx->expected_type == policy::kEvHvImage);
  BOOST_TEST(dx->position == sep);
}

// Issue 11: the hypervisor's failure cap (hypervisor/core/fail_closed.cpp) on PCR17-20 after a complete
// launch is named `hypervisor_failed` with the reason; the launch claims stay. Out of place (before the SL
// closed its PCRs), twice on a PCR, or followed by a guest measurement, it is a named ordering failure.
BOOST_AUTO_TEST_CASE(a_hypervisor_failure_cap_is_named_and_must_be_in_its_place) {
  const World& w = world();
  const Bytes why = text("internal: TEST ONLY: injected hypervisor failure at slice 4");
  {
    CraftedLog l;
    w.good.sl(l);
    Boot::no_guests(l);
    const size_t first = l.add(17, policy::kEvHvFailed, why);
    for (uint32_t pcr = 18; pcr <= 20; ++pcr) l.add(pcr, policy::kEvHvFailed, why);
    Result r = appraise(l);
    BOOST_TEST(r.a.log_matches_pcrs);
    BOOST_TEST(r.a.launched);
    BOOST_TEST(r.a.launch["hypervisor_failed"] == "internal: TEST ONLY: injected hypervisor failure at slice 4");
    std::vector<std::string> c = codes(r.f);
    BOOST_TEST_REQUIRE(std::count(c.begin(), c.end(), "hypervisor_failed") == 1);
    for (const auto& f : r.f.failures)
      if (f.code == "hypervisor_failed") {
        BOOST_TEST(f.detail["event"]["index"] == first);
        BOOST_TEST(f.message.find("injected hypervisor failure at slice 4") != std::string::npos, f.message);
      }
    BOOST_TEST(std::count(c.begin(), c.end(), "event_out_of_order") == 0);
  }
  {  // before the SL's separators; then a second cap on PCR17; then a guest event after the cap
    CraftedLog l;
    l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB base=0x1000000 length=0x9000"), &w.good.slb);
    const size_t early = l.add(19, policy::kEvHvFailed, why);
    Result r = appraise(l);
    BOOST_TEST_REQUIRE(!r.f.failures.empty());
    BOOST_TEST(r.f.failures[0].code == "event_out_of_order");
    BOOST_TEST(r.f.failures[0].detail["event"]["index"] == early);
  }
  {
    CraftedLog l;
    w.good.sl(l);
    Boot::no_guests(l);
    l.add(17, policy::kEvHvFailed, why);
    const size_t dup = l.add(17, policy::kEvHvFailed, why);
    const size_t late = l.add(19, policy::kEvGuestUnsigned, text("unsigned guest late"));
    Result r = appraise(l);
    std::vector<std::string> c = codes(r.f);
    BOOST_TEST(std::count(c.begin(), c.end(), "event_duplicated") == 1);
    BOOST_TEST(std::count(c.begin(), c.end(), "event_out_of_order") == 1);
    for (const auto& f : r.f.failures) {
      if (f.code == "event_duplicated") BOOST_TEST(f.detail["event"]["index"] == dup);
      if (f.code == "event_out_of_order") {
        BOOST_TEST(f.detail["event"]["index"] == late);
        BOOST_TEST(f.message.find("after the hypervisor's failure cap") != std::string::npos, f.message);
      }
    }
  }
}
