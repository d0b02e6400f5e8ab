// The verifier's throughput caches (issue 13) give exactly what the work they
// save gives: a memoised event-log appraisal has the very findings and claims of
// appraise_event_log for a good and for a tampered log (no verdict leaks from one
// log to another), a cache is used only for the reference values it was made for,
// decoded public areas are cached only for bytes that unmarshal, and the
// table-driven base64 decoder rejects what RFC 4648 rejects, with the same errors.
#define BOOST_TEST_MODULE attest_throughput_cache
#include <boost/test/unit_test.hpp>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/verifier/appraisal_cache.hpp"
#include "attestation/verifier/public_cache.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "tests/attestation/crafted_log.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;
using namespace redoubt::test::crafted;

namespace {

// A complete launch of a hypervisor with SVN `svn` signed by `key`, no guests (docs/pcr-map.md);
// `tamper`: the signer event's data edited after measurement (its digests are over the real key).
CraftedLog launch(const policy::EvpKey& key, uint64_t svn, bool tamper = false) {
  CraftedLog l;
  const Boot b(key, svn, std::to_string(svn));
  b.sl(l, tamper);
  Boot::no_guests(l);
  return l;
}

json as_json(const attest::Findings& f) {
  json j = json::object();
  for (auto [name, v] : {std::pair{"failures", &f.failures}, std::pair{"warnings", &f.warnings}, std::pair{"notes", &f.notes}}) {
    j[name] = json::array();
    for (const auto& x : *v) j[name].push_back(attest::finding_json(x));
  }
  return j;
}
json as_json(const attest::LogAppraisal& a) {
  return {{"log_matches_pcrs", a.log_matches_pcrs}, {"launched", a.launched}, {"launch", a.launch}, {"guests", a.guests}, {"drtm", a.drtm}};
}

struct Keys {
  policy::EvpKey owner = policy::generate_key("P-256");
  std::shared_ptr<attest::ReferenceValues> ref = std::make_shared<attest::ReferenceValues>();
  Keys() {
    ref->id = "cache-test";
    ref->hv_signers.insert(policy::key_id_hex(owner));
    ref->min_svn = 2;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(memoised_log_appraisal_equals_the_appraisal_for_good_and_tampered_logs) {
  Keys k;
  attest::LogAppraisalCache cache(k.ref);
  const CraftedLog good = launch(k.owner, 2), old = launch(k.owner, 1), tampered = launch(k.owner, 2, true);
  struct Case {
    const char* name;
    Bytes log;
    attest::QuotedPcrs quoted;
    const char* first_failure;  // "" = none
  };
  const std::vector<Case> cases = {{"good", good.bytes(), good.quoted(), ""},
                                   {"svn below minimum", old.bytes(), old.quoted(), "hv_svn_below_minimum"},
                                   {"tampered", tampered.bytes(), tampered.quoted(), "event_digest_mismatch"}};
  // Round 0 sees each log once (not kept: the doorkeeper), round 1 keeps it, round 2 is answered from it.
  for (int round = 0; round < 3; ++round) {
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT(c.name << ", round " << round) {
        attest::Findings plain_f, cached_f;
        cached_f.note("before", "a finding made before the log appraisal stays first");
        plain_f.note("before", "a finding made before the log appraisal stays first");
        const attest::LogAppraisal plain = attest::appraise_event_log(c.log, c.quoted, k.ref.get(), plain_f);
        const attest::LogAppraisal cached = cache.appraise(c.log, attest::write_pcr_file(c.quoted), c.quoted, cached_f);
        BOOST_TEST(as_json(cached).dump() == as_json(plain).dump());
        BOOST_TEST(as_json(cached_f).dump() == as_json(plain_f).dump());
        if (*c.first_failure) {
          BOOST_TEST_REQUIRE(!cached_f.failures.empty());
          BOOST_TEST(cached_f.failures.front().code == c.first_failure);
        } else {
          BOOST_TEST(cached_f.failures.empty(), as_json(cached_f).dump());
          BOOST_TEST(cached.launched);
          BOOST_TEST(cached.launch["hypervisor"]["svn"] == 2);
        }
      }
    }
  }
  const auto s = cache.stats();
  BOOST_TEST(s.misses == 6u);
  BOOST_TEST(s.not_kept == 3u);
  BOOST_TEST(s.hits == 3u);
  BOOST_TEST(s.entries == 3u);
}

BOOST_AUTO_TEST_CASE(a_log_is_kept_the_second_time_it_is_seen_not_the_first) {
  Keys k;
  attest::LogAppraisalCache cache(k.ref);
  std::vector<CraftedLog> logs;  // three distinct good launches
  for (uint64_t svn = 2; svn <= 4; ++svn) logs.push_back(launch(k.owner, svn));
  auto see = [&](const CraftedLog& l) {
    attest::Findings f;
    cache.appraise(l.bytes(), attest::write_pcr_file(l.quoted()), l.quoted(), f);
    BOOST_TEST(f.failures.empty());
  };
  for (const CraftedLog& l : logs) see(l);  // each seen once: appraised, none kept
  BOOST_TEST(cache.stats().entries == 0u);
  BOOST_TEST(cache.stats().bytes == 0u);
  BOOST_TEST(cache.stats().not_kept == 3u);
  see(logs[1]);  // seen again (after another log): kept now
  BOOST_TEST(cache.stats().entries == 1u);
  BOOST_TEST(cache.stats().hits == 0u);
  see(logs[1]);  // and answered from the cache
  BOOST_TEST(cache.stats().hits == 1u);
  see(logs[0]);  // its second sighting too
  BOOST_TEST(cache.stats().entries == 2u);
  BOOST_TEST(cache.stats().misses == 5u);
  BOOST_TEST(cache.stats().not_kept == 3u);
}

BOOST_AUTO_TEST_CASE(the_same_log_with_other_quoted_values_is_not_a_hit) {
  Keys k;
  attest::LogAppraisalCache cache(k.ref);
  const CraftedLog good = launch(k.owner, 2);
  attest::Findings f1, f2;
  cache.appraise(good.bytes(), attest::write_pcr_file(good.quoted()), good.quoted(), f1);
  BOOST_TEST(f1.failures.empty());
  attest::QuotedPcrs other = good.quoted();
  other.values[0][0] ^= 0xff;  // PCR17 sha256 quoted differently: the log must not replay
  cache.appraise(good.bytes(), attest::write_pcr_file(other), other, f2);
  BOOST_TEST_REQUIRE(!f2.failures.empty());
  BOOST_TEST(f2.failures.front().code != "");
  BOOST_TEST(cache.stats().hits == 0u);
  BOOST_TEST(cache.stats().misses == 2u);
}

BOOST_AUTO_TEST_CASE(the_cache_stays_within_its_byte_bound_and_forgets_the_oldest_first) {
  Keys k;
  std::vector<CraftedLog> logs;  // five good launches (SVN 2..6): distinct logs, entries of one size
  for (uint64_t svn = 2; svn <= 6; ++svn) logs.push_back(launch(k.owner, svn));
  attest::LogAppraisalCache probe(k.ref);
  attest::Findings pf;
  for (int i = 0; i < 2; ++i) probe.appraise(logs[0].bytes(), attest::write_pcr_file(logs[0].quoted()), logs[0].quoted(), pf);  // kept when seen twice
  const size_t one = probe.stats().bytes;  // one entry's estimate (claims text x 3, findings)
  BOOST_TEST_REQUIRE(one > 1000u);
  // Room for four such entries (and each is under a quarter of the bound, so each is kept): the
  // fifth pushes the first out (FIFO).
  const size_t bound = 4 * one + one / 2;
  attest::LogAppraisalCache cache(k.ref, bound);
  for (const CraftedLog& l : logs) {
    for (int i = 0; i < 2; ++i) {  // kept the second time it is seen
      attest::Findings f;
      cache.appraise(l.bytes(), attest::write_pcr_file(l.quoted()), l.quoted(), f);
      BOOST_TEST(f.failures.empty());
      BOOST_TEST(cache.stats().bytes <= bound);
    }
  }
  BOOST_TEST(cache.stats().entries == 4u);
  attest::Findings f;
  cache.appraise(logs[4].bytes(), attest::write_pcr_file(logs[4].quoted()), logs[4].quoted(), f);  // the newest: still there
  BOOST_TEST(cache.stats().hits == 1u);
  cache.appraise(logs[0].bytes(), attest::write_pcr_file(logs[0].quoted()), logs[0].quoted(), f);  // the oldest: forgotten
  BOOST_TEST(cache.stats().hits == 1u);
  BOOST_TEST(cache.stats().misses == 11u);  // 2 per log, and the forgotten one (seen before: kept again)
  BOOST_TEST(cache.stats().entries == 4u);
}

BOOST_AUTO_TEST_CASE(a_cache_belongs_to_its_reference_values) {
  Keys k;
  auto strict = std::make_shared<attest::ReferenceValues>(*k.ref);
  strict->min_svn = 3;
  attest::LogAppraisalCache lenient_cache(k.ref), strict_cache(strict);
  BOOST_TEST(lenient_cache.ref() == k.ref.get());
  BOOST_TEST(strict_cache.ref() == strict.get());
  const CraftedLog good = launch(k.owner, 2);
  attest::Findings a, b;
  lenient_cache.appraise(good.bytes(), attest::write_pcr_file(good.quoted()), good.quoted(), a);
  strict_cache.appraise(good.bytes(), attest::write_pcr_file(good.quoted()), good.quoted(), b);
  BOOST_TEST(a.failures.empty());
  BOOST_TEST_REQUIRE(b.failures.size() == 1u);
  BOOST_TEST(b.failures[0].code == "hv_svn_below_minimum");
}

BOOST_AUTO_TEST_CASE(decoded_public_areas_are_cached_only_for_bytes_that_unmarshal) {
  const Bytes ak = attest::marshal_public(attest::ak_template_ecc_p256());
  Bytes bad = ak;
  bad.push_back(0);  // trailing byte
  for (int i = 0; i < 2; ++i) {
    try {
      attest::decode_public_cached(bad, "test AK");
      BOOST_FAIL("trailing bytes accepted");
    } catch (const attest::AttestError& e) {
      BOOST_TEST(e.code() == "malformed_public");
    }
  }
  const auto d1 = attest::decode_public_cached(ak, "test AK");
  const auto d2 = attest::decode_public_cached(ak, "test AK");
  BOOST_TEST(d1.get() == d2.get());  // one decoding
  BOOST_TEST(d1->name == attest::tpm_object_name(attest::unmarshal_public(ak).publicArea));
  BOOST_TEST(d1->endorsement_primary_qn == attest::tpm_primary_qualified_name(TPM2_RH_ENDORSEMENT, attest::unmarshal_public(ak).publicArea));
  const Bytes ek = attest::marshal_public(attest::ek_template_ecc_p256());
  BOOST_TEST(attest::decode_public_cached(ek, "test EK")->name != d1->name);
}

BOOST_AUTO_TEST_CASE(base64_decoding_rejects_what_rfc4648_rejects) {
  using attest::from_base64;
  using attest::from_base64url;
  auto err = [](auto f) -> std::string {
    try {
      f();
    } catch (const attest::AttestError& e) {
      return e.code() + ": " + e.reason();
    }
    return "accepted";
  };
  BOOST_TEST(attest::to_hex(from_base64("AAEC/w==")) == "000102ff");
  BOOST_TEST(attest::to_hex(from_base64("AAECAw==")) == "00010203");
  BOOST_TEST(attest::to_hex(from_base64("AAECA/8=")) == "00010203ff");
  BOOST_TEST(attest::to_hex(from_base64url("AAEC_w")) == "000102ff");
  BOOST_TEST(from_base64("").empty());
  for (int n = 0; n < 40; ++n) {  // round trips of every length mod 3, both alphabets
    Bytes b(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) b[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 37 + n);
    BOOST_TEST(from_base64(attest::to_base64(b)) == b);
    BOOST_TEST(from_base64url(attest::to_base64url(b)) == b);
  }
  BOOST_TEST(err([] { from_base64("AAE", "x"); }) == "bad_base64: x: length 3 is not a multiple of 4");
  BOOST_TEST(err([] { from_base64("AA*C", "x"); }) == "bad_base64: x: invalid character at offset 2");
  BOOST_TEST(err([] { from_base64("AAEC/w=A", "x"); }) == "bad_base64: x: invalid character at offset 6");
  BOOST_TEST(err([] { from_base64("AAEC/x==", "x"); }) == "bad_base64: x: non-canonical trailing bits");
  BOOST_TEST(err([] { from_base64url("AAEC_w==", "x"); }) == "bad_base64url: x: invalid character at offset 6");
  BOOST_TEST(err([] { from_base64url("AAECA", "x"); }) == "bad_base64url: x: truncated (length 5)");
  BOOST_TEST(err([] { from_base64("AAEC+w==", "x"); }) == "accepted");
  BOOST_TEST(err([] { from_base64url("AAEC+w", "x"); }) == "bad_base64url: x: invalid character at offset 4");
}
