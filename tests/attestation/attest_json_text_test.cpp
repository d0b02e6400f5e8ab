// JSON written directly as text (attestation/common/json_text.hpp, ear_claims.cpp; issue 13
// throughput) against nlohmann, which wrote it before: every string escaped as dump() escapes it
// (RFC 8259 §7), invalid UTF-8 refused with dump()'s very error, and the EAR claims set and the
// verdict summary byte for byte what the trees appraise() and the service built used to dump to.
#define BOOST_TEST_MODULE attest_json_text
#include <boost/test/unit_test.hpp>

#include <limits>

#include "attestation/common/json_text.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/ear_result.hpp"

using namespace redoubt::attest;
using nlohmann::json;

namespace {

std::string text_of(std::string_view s) {
  std::string out = "x";  // appended to, not replaced
  append_json_string(out, s);
  return out.substr(1);
}

// What dump() says about `s`: its text, or its exception's message.
std::string nlohmann_of(const std::string& s) {
  try {
    return json(s).dump();
  } catch (const json::type_error& e) {
    return std::string("throws: ") + e.what();
  }
}
std::string ours_of(const std::string& s) {
  try {
    return text_of(s);
  } catch (const json::type_error& e) {
    return std::string("throws: ") + e.what();
  }
}

// The EAR claims set as appraise() built it before it was written as text (the tree, verbatim).
json reference_ear(const AppraisalOutcome& a, const LogAppraisal& la) {
  const EarClaims& c = a.claims;
  json tv = json::object();
  for (size_t i = 0; i < kTrustClaims.size(); ++i) tv[kTrustClaims[i]] = c.trust[i];
  auto list = [](const std::vector<Finding>& v) {
    json arr = json::array();
    for (const Finding& f : v) arr.push_back(finding_json(f));
    return arr;
  };
  json sub = {{"ear.status", a.status},
              {"ear.trustworthiness-vector", tv},
              {"ear.appraisal-policy-id", c.policy_id},
              {"redoubt.failures", list(a.findings.failures)},
              {"redoubt.warnings", list(a.findings.warnings)},
              {"redoubt.notes", list(a.findings.notes)},
              {"redoubt.ak", {{"binding", c.ak_enrolled ? "enrolled" : "none"}, {"name", c.ak_name}, {"position", c.ak_position}}},
              {"redoubt.clock", {{"clock", a.clock.clock}, {"reset_count", a.clock.reset_count}, {"restart_count", a.clock.restart_count}, {"safe", a.clock.safe}}},
              {"redoubt.drtm", la.drtm},
              {"redoubt.launch", la.launch},
              {"redoubt.guests", la.guests}};
  json ear = {{"eat_profile", kEarProfile},
              {"iat", c.iat},
              {"exp", c.exp},
              {"ear.verifier-id", {{"developer", "redoubt"}, {"build", "redoubt 0.1.0"}}},
              {"status", a.status},
              {"endpoint", c.endpoint},
              {"submods", {{"redoubt-drtm", sub}}}};
  if (c.eat_nonce) ear["eat_nonce"] = *c.eat_nonce;
  return ear;
}

// The stored summary as the service built it before (summary_of + update(extra)).
json reference_summary(const Findings& f, const json& extra) {
  auto list = [](const std::vector<Finding>& v) {
    json arr = json::array();
    for (const Finding& x : v) arr.push_back(finding_json(x));
    return arr;
  };
  json s = {{"failures", list(f.failures)}, {"warnings", list(f.warnings)}, {"notes", list(f.notes)}};
  if (extra.is_object()) s.update(extra);
  return s;
}

const std::vector<std::string> kTricky = {
    "",
    "plain",
    "quote \" and backslash \\ and solidus / stay as RFC 8259 §7 has them",
    std::string("nul \0 inside", 12),
    "\b\t\n\f\r",
    "\x01\x02\x1f\x7f",  // U+001F escaped, DEL not
    "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x94\x92 \xEF\xBF\xBD \xEF\xBB\xBF",  // 2-, 3- and 4-byte UTF-8, U+FFFD, a BOM
    "\xF4\x8F\xBF\xBF \xED\x9F\xBF \xEE\x80\x80",                          // U+10FFFF, U+D7FF, U+E000: the edges
    "</script><!-- \\u0000 -->",
};

}  // namespace

BOOST_AUTO_TEST_CASE(strings_are_escaped_as_dump_escapes_them) {
  for (const std::string& s : kTricky) BOOST_TEST(text_of(s) == json(s).dump(), s);
  for (int c = 0; c < 0x80; ++c) {  // every ASCII byte on its own and in the middle of others
    const std::string one(1, static_cast<char>(c)), mid = "ab" + one + "cd";
    BOOST_TEST(text_of(one) == json(one).dump(), c);
    BOOST_TEST(text_of(mid) == json(mid).dump(), c);
  }
  BOOST_TEST(text_of("\x1f") == "\"\\u001f\"");  // lower-case hex
  BOOST_TEST(text_of("\t\"") == "\"\\t\\\"\"");
  BOOST_TEST(text_of("/\x7f") == "\"/\x7f\"");
}

// append_json_value walks the tree itself (nlohmann's serializer wrote a byte at a time): every kind
// of value, nested, must come out as dump() writes it.
BOOST_AUTO_TEST_CASE(trees_are_written_as_dump_writes_them) {
  const json cases[] = {
      json::object(),
      json::array(),
      nullptr,
      true,
      false,
      0,
      -1,
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<uint64_t>::max(),
      1.5,
      -0.0,
      1e300,
      json::binary({1, 2, 3}, 7),
      "plain",
      json::parse(R"({"b":[1,-2,3.25,"x\"y\u0001\u00e9",{},[]],"a":{"z":null,"\u007f":true,"":{"k":[[],[{}]]}},"n":18446744073709551615})"),
      json{{"nested", {{"deep", json::array({json::object({{"x", "\t\n\r\b\f/"}})})}}}},
  };
  for (const json& v : cases) {
    std::string out = "x";  // appended to, not replaced
    append_json_value(out, v);
    BOOST_TEST(out.substr(1) == v.dump(), v.dump());
  }
  json bad = {{"k", std::string("a\xff")}};
  std::string out;
  BOOST_CHECK_THROW(append_json_value(out, bad), json::type_error);
  json bad_key = json::object();
  bad_key[std::string("\xc3")] = 1;
  BOOST_CHECK_THROW(append_json_value(out, bad_key), json::type_error);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused_with_dumps_error) {
  const std::vector<std::string> bad = {
      "\xFF", "ok\xC0\xAF", "\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
      "\x80", "x\xC3(", "\xE2\x82", "\xE2\x82X", "\xF0\x9F\x94", "tail\xC3", "\xE2\x28\xA1"};
  for (const std::string& s : bad) {
    BOOST_TEST(ours_of(s).rfind("throws: [json.exception.type_error.316]", 0) == 0u, ours_of(s));
    BOOST_TEST(ours_of(s) == nlohmann_of(s));  // the same message: the same byte, the same index
  }
  BOOST_TEST(ours_of("ok\xC0\xAF") == "throws: [json.exception.type_error.316] invalid UTF-8 byte at index 2: 0xC0");
  BOOST_TEST(ours_of("\xE2\x82") == "throws: [json.exception.type_error.316] incomplete UTF-8 string; last byte: 0x82");
}

BOOST_AUTO_TEST_CASE(every_two_byte_sequence_agrees_with_dump) {
  // All 65,536 pairs (lead, continuation, ASCII, invalid): the same text or the same error.
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      const std::string s = {'x', static_cast<char>(a), static_cast<char>(b), 'y'};
      if (ours_of(s) != nlohmann_of(s)) BOOST_FAIL("differs for bytes " << a << " " << b << ": " << ours_of(s) << " vs " << nlohmann_of(s));
    }
}

BOOST_AUTO_TEST_CASE(the_ear_claims_set_is_the_tree_it_replaced_byte_for_byte) {
  LogAppraisal la;
  la.drtm = {{"method", "harness-emulated"}, {"allowed", false}, {"marker", {{"text", kTricky[6]}, {"version", 1}}}};
  la.launch = {{"hypervisor", {{"name", kTricky[2]}, {"version", "1.2\n"}, {"svn", 7}, {"sha256", std::string(64, 'a')}}},
               {"launch_policy", {{"name", kTricky[7]}, {"anchors", json::array({"x", "y"})}}}};
  la.guests = json::array({{{"name", "g\x01"}, {"svn", 3}, {"signed", true}}, {{"name", kTricky[8]}, {"cmdline", "console=ttyS0 \"q\""}}});
  for (const std::string status : {"affirming", "warning", "contraindicated"})
    for (int variant = 0; variant < 4; ++variant) {
      AppraisalOutcome a;
      a.status = status;
      a.clock = ClockState{0xFFFFFFFFFFFFFFF0ull, 4294967295u, 7, variant % 2 == 0};
      if (status != "affirming") a.findings.warn("hv_svn_low", kTricky[3], {{"svn", 1}, {"why", kTricky[4]}});
      if (status == "contraindicated") {
        a.findings.fail("ak_not_enrolled", kTricky[5], {{"ak_name", "000b" + std::string(64, 'f')}});
        a.findings.fail("pcr_replay_mismatch", "PCR17 \"replays\" to …", {{"event", {{"index", 3}, {"pcr", 17}}}, {"nested", json::array({1, -2, nullptr})}});
      }
      a.findings.note("rebooted", "endpoint rebooted");
      a.findings.note("no_detail", kTricky[0]);
      EarClaims& c = a.claims;
      c.iat = 1764820000 + variant;
      c.exp = variant == 3 ? -1 : c.iat + 600;
      c.endpoint = variant == 1 ? "" : "host-" + std::to_string(variant);
      c.policy_id = variant == 2 ? kTricky[6] : "corp-2026";
      if (variant != 1) c.eat_nonce = std::string(43, 'W');
      for (size_t i = 0; i < c.trust.size(); ++i) c.trust[i] = static_cast<int>((i * 37 + static_cast<size_t>(variant)) % 98);
      c.ak_enrolled = variant >= 2;
      c.ak_name = "000b" + std::string(64, 'c');
      c.ak_position = variant == 0 ? "ek_child" : "endorsement_primary";
      c.log = std::make_shared<const LogClaimsText>(log_claims_text(variant == 3 ? LogAppraisal{} : la));
      const std::string ours = a.ear_text();
      BOOST_TEST(ours == reference_ear(a, variant == 3 ? LogAppraisal{} : la).dump(), status << " variant " << variant);
      BOOST_TEST(a.ear() == reference_ear(a, variant == 3 ? LogAppraisal{} : la));
    }
}

BOOST_AUTO_TEST_CASE(the_verdict_summary_is_the_tree_it_replaced_byte_for_byte) {
  Findings f;
  BOOST_TEST(findings_summary_text(f) == "{\"failures\":[],\"notes\":[],\"warnings\":[]}");
  BOOST_TEST(findings_summary_text(f) == reference_summary(f, nullptr).dump());
  f.fail("a", kTricky[2], {{"k", kTricky[6]}});
  f.warn("b", kTricky[4]);
  f.note("c", kTricky[8], {{"n", 1}});
  f.note("d", "");
  const json submit = {{"reference_values", {{"version", 3}, {"scope", "group:lab"}, {"id", "corp\t1"}}}, {"evidence_sha256", std::string(64, 'e')}};
  for (const json& extra : {json(nullptr), json::object(), submit, json{{"zz", 1}, {"aa", "x"}, {"m", json::array()}}, json{{"notes", "replaced"}}})
    BOOST_TEST(findings_summary_text(f, extra) == reference_summary(f, extra).dump(), extra.dump());
}

BOOST_AUTO_TEST_CASE(a_finding_that_is_not_utf8_fails_as_dump_failed) {
  AppraisalOutcome a;
  a.status = "warning";
  a.findings.warn("w", "bad \xC3");  // the appraisers replace such bytes (log_string); if one ever got through:
  BOOST_CHECK_THROW(a.ear_text(), json::type_error);
  BOOST_CHECK_THROW(findings_summary_text(a.findings), json::type_error);
}
