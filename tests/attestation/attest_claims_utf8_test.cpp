// Issue 16, found by fuzz_guest_appraiser: a name, version or command line in the
// endpoint's log that is not UTF-8 (policy/fs accepts any bytes but NUL there) made
// the claims throw nlohmann::json type_error 316 on dump(), so the verifier could not
// sign a verdict for that log. Claims now carry such strings with U+FFFD in place of
// each invalid byte (attestation/verifier/log_event_text.hpp log_string).
#define BOOST_TEST_MODULE attest_claims_utf8
#include <boost/test/unit_test.hpp>

#include "attestation/verifier/guest_appraiser.hpp"
#include "attestation/verifier/log_event_text.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {
const std::string kFffd = "\xEF\xBF\xBD";

// A DRTM log with one EV_REDOUBT_LAUNCH_POLICY event whose payload is `payload`.
policy::EventLog log_with_policy(const std::vector<uint8_t>& payload) {
  BankList banks;
  banks.alg[banks.count++] = HashAlg::sha256;
  std::vector<uint8_t> buf(16384);
  policy::EventLogWriter w(buf.data(), buf.size());
  BOOST_REQUIRE(bool(w.write_header(banks)));
  BOOST_REQUIRE(bool(w.append(17, policy::kEvLaunchPolicy, policy::hash_banks(banks, payload), payload)));
  buf.resize(w.size());
  return policy::parse_event_log(buf);
}
}  // namespace

BOOST_AUTO_TEST_CASE(log_string_keeps_utf8_and_replaces_each_invalid_byte) {
  BOOST_TEST(log_string("demo") == "demo");
  BOOST_TEST(log_string("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x94\x92") == "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x94\x92");
  BOOST_TEST(log_string("bad\xFF") == "bad" + kFffd);
  BOOST_TEST(log_string("\xC0\xAF") == kFffd + kFffd);                 // overlong '/'
  BOOST_TEST(log_string("\xED\xA0\x80") == kFffd + kFffd + kFffd);     // a UTF-16 surrogate
  BOOST_TEST(log_string("\xF4\x90\x80\x80") == kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
  BOOST_TEST(log_string("x\xE2\x82") == "x" + kFffd + kFffd);          // truncated
}

BOOST_AUTO_TEST_CASE(a_launch_policy_named_in_latin1_gives_claims_that_serialise) {
  policy::EvpKey k = policy::generate_signing_key("P-256");
  policy::CertSpec r{.cn = "Root", .not_before = 1700000000, .not_after = 2000000000};
  r.ca = true;
  r.ku_bits = 32 | 64;
  policy::X509Ptr root = policy::issue_cert(r, k, nullptr, k);
  policy::LaunchPolicyInput in;
  in.name = "corp-\xE9t\xE9";  // Latin-1, not UTF-8
  in.time = 1767225600;
  in.anchors = {policy::cert_der(root.get())};
  const policy::EventLog log = log_with_policy(policy::build_launch_policy_payload(in));
  Findings f;
  GuestClaims c = appraise_guest_events(log, nullptr, f);
  std::string dumped;
  BOOST_CHECK_NO_THROW(dumped = c.launch_policy.dump());  // threw type_error 316 before the fix
  BOOST_TEST(c.launch_policy["name"] == "corp-" + kFffd + "t" + kFffd);
  BOOST_TEST(dumped.find("\"name\":\"corp-") != std::string::npos);
}
