// The verifier's cryptography against a real TPM (inproc libtpms, one per
// process): software MakeCredential is accepted by TPM2_ActivateCredential
// (the proof that Part 1 §24 is implemented right), quotes verify field by
// field, and every tampering is named.
#define BOOST_TEST_MODULE attest_tpm
#include <boost/test/unit_test.hpp>

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "attestation/agent/ek_nv.hpp"
#include "attestation/agent/endpoint_state.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/credential.hpp"
#include "attestation/tpm/quote_parse.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/appraiser.hpp"
#include "attestation/verifier/ek_certificate_check.hpp"
#include "attestation/verifier/replay_diagnosis.hpp"
#include "platform/sim/machine.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/keys.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {

// One TPM for the whole process, launched once with the LaunchKit inputs.
struct World {
  test::LaunchKit kit;
  test::TempDir state;
  std::unique_ptr<tpm::TpmDevice> tpm;
  std::unique_ptr<TpmIdentity> id;
  attest::Bytes log;
  World() {
    tpm = test::fresh_inproc_tpm(state.path());
    sim::Machine m;
    auto r = sim::measured_launch(m, *tpm, kit.inputs(), [](std::string_view) {});
    BOOST_TEST_REQUIRE(r.launched);
    log = r.event_log;
    tpm->set_locality(0);
    id = std::make_unique<TpmIdentity>(*tpm);
  }
  ReferenceValues ref(uint64_t min_svn = 0) const {
    ReferenceValues r;
    r.id = "test";
    r.hv_signers.insert(policy::key_id_hex(kit.key));
    r.min_svn = min_svn;
    return r;
  }
};

World& world() {
  static World w;
  return w;
}

Bytes nonce_bytes(uint8_t seed) { return Bytes(32, seed); }

AppraisalInput input_for(World& w, const Bytes& nonce, const ReferenceValues* ref) {
  AppraisalInput in;
  in.ak_public = marshal_public(w.id->ak_public());
  in.ak_bound_to_ek = true;
  in.nonce = nonce;
  in.selection = default_quote_selection();
  in.ref = ref;
  return in;
}

bool has_failure(const AppraisalOutcome& a, const std::string& code) {
  for (const Finding& f : a.findings.failures)
    if (f.code == code) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(software_make_credential_is_accepted_by_tpm_activate_credential) {
  World& w = world();
  const TPM2B_PUBLIC ek = w.id->ek_public();
  const Bytes secret = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  for (int round = 0; round < 3; ++round) {  // fresh ephemeral key each time
    MadeCredential mc = make_credential(ek.publicArea, w.id->ak_name(), secret);
    BOOST_TEST(w.id->activate_credential(mc.credential_blob, mc.secret) == secret);
  }
  // The same blob bound to another object name must be refused by the TPM (integrity HMAC covers the name).
  Bytes wrong_name = w.id->ak_name();
  wrong_name.back() ^= 1;
  MadeCredential bad = make_credential(ek.publicArea, wrong_name, secret);
  BOOST_CHECK_THROW(w.id->activate_credential(bad.credential_blob, bad.secret), tpm::TpmError);
  // Marshalling round trip of what goes on the wire.
  MadeCredential mc = make_credential(ek.publicArea, w.id->ak_name(), secret);
  BOOST_TEST(w.id->activate_credential(unmarshal_id_object(marshal_id_object(mc.credential_blob)),
                                       unmarshal_encrypted_secret(marshal_encrypted_secret(mc.secret))) == secret);
}

// EK Credential Profile §2.2.1.5: the inproc TPM's EK certificate is issued once into NV 0x01c0000a
// and read back from there; a certificate for another key is replaced; without a CA it is an error.
BOOST_AUTO_TEST_CASE(ek_certificate_is_provisioned_into_and_read_from_nv) {
  World& w = world();
  test::TempDir ca_dir;
  const ManufacturerCa ca = ensure_sim_manufacturer_ca(ca_dir.path());
  BOOST_TEST(w.id->ek_cert_index() == kNvEkCertEccP256);
  BOOST_CHECK_THROW(ek_certificate_from_nv(*w.tpm, *w.id, nullptr), AttestError);  // nothing in NV yet
  const Bytes first = ek_certificate_from_nv(*w.tpm, *w.id, &ca);
  BOOST_TEST(nv_read_blob(*w.tpm, kNvEkCertEccP256).value() == first);
  BOOST_TEST(ek_certificate_from_nv(*w.tpm, *w.id, &ca) == first);      // read back, not re-issued
  BOOST_TEST(ek_certificate_from_nv(*w.tpm, *w.id, nullptr) == first);  // no CA needed any more
  ManufacturerTrust trust;
  trust.add_ca_pem(std::string(std::istreambuf_iterator<char>(std::ifstream(ca.cert_pem).rdbuf()), {}));
  trust.check(first, w.id->ek_public().publicArea);  // chains to the CA and certifies this EK

  // NV holding a certificate of another key (the AK's): refused without a CA, replaced with one.
  const Bytes other = issue_ek_certificate(ca, w.id->ak_public().publicArea, "other");
  nv_store_ek_certificate(*w.tpm, kNvEkCertEccP256, other);
  try {
    ek_certificate_from_nv(*w.tpm, *w.id, nullptr);
    BOOST_FAIL("accepted a certificate for another key");
  } catch (const AttestError& e) {
    BOOST_TEST(e.code() == "no_ek_certificate");
    BOOST_TEST(e.reason() == "the certificate in NV 0x01c0000a does not certify this TPM's EK");
  }
  const Bytes reissued = ek_certificate_from_nv(*w.tpm, *w.id, &ca);
  BOOST_TEST(reissued != other);
  trust.check(reissued, w.id->ek_public().publicArea);
  BOOST_TEST(!nv_read_blob(*w.tpm, 0x01c0000c).has_value());  // an undefined index is "none", not an error
}

BOOST_AUTO_TEST_CASE(good_quote_is_affirming_and_names_the_launch) {
  World& w = world();
  const Bytes n = nonce_bytes(1);
  const ReferenceValues ref = w.ref(2);
  EndpointQuote q = make_evidence(*w.tpm, *w.id, n, w.log);
  AppraisalOutcome a = appraise(q.evidence, input_for(w, n, &ref), 1700000000);
  BOOST_TEST(a.status == "affirming", a.ear().dump());
  BOOST_TEST(a.authentic);
  BOOST_TEST(a.clock.safe);
  const nlohmann::json sub = a.ear()["submods"]["redoubt-drtm"];
  BOOST_TEST(sub["redoubt.launch"]["hypervisor"]["svn"] == 2);
  BOOST_TEST(sub["ear.trustworthiness-vector"]["executables"] == 2);
}

BOOST_AUTO_TEST_CASE(quote_field_checks_name_each_problem) {
  World& w = world();
  const ReferenceValues ref = w.ref();
  const Bytes n = nonce_bytes(2);
  EndpointQuote q = make_evidence(*w.tpm, *w.id, n, w.log);

  // Wrong nonce.
  BOOST_TEST(has_failure(appraise(q.evidence, input_for(w, nonce_bytes(3), &ref), 0), "nonce_mismatch"));
  // A flipped byte in the TPMS_ATTEST (inside extraData) -> signature fails.
  Evidence bad = q.evidence;
  bad.quote[bad.quote.size() - 1] ^= 1;
  BOOST_TEST(has_failure(appraise(bad, input_for(w, n, &ref), 0), "bad_signature"));
  // Reported PCR values that do not hash to pcrDigest.
  QuotedPcrs p = read_pcr_file(q.evidence.pcrs);
  p.values[1][0] ^= 0xff;
  bad = q.evidence;
  bad.pcrs = write_pcr_file(p);
  BOOST_TEST(has_failure(appraise(bad, input_for(w, n, &ref), 0), "pcr_digest_mismatch"));
  // A different requested selection.
  AppraisalInput in = input_for(w, n, &ref);
  in.selection = make_selection({TPM2_ALG_SHA256}, {17, 18});
  BOOST_TEST(has_failure(appraise(q.evidence, in, 0), "pcr_selection_mismatch"));
  // An unrelated signing key posing as the AK: qualifiedSigner and signature both wrong.
  TPM2B_PUBLIC other = w.id->ak_public();
  other.publicArea.unique.ecc.x.buffer[0] ^= 1;
  in = input_for(w, n, &ref);
  in.ak_public = marshal_public(other);
  BOOST_CHECK_THROW(appraise(q.evidence, in, 0), AttestError);  // not a point on the curve: malformed AK
}

BOOST_AUTO_TEST_CASE(clock_info_is_tracked) {
  World& w = world();
  const Bytes n = nonce_bytes(4);
  EndpointQuote q = make_evidence(*w.tpm, *w.id, n, w.log);
  const TPMS_ATTEST at = parse_attest(q.evidence.quote);
  AppraisalInput in = input_for(w, n, nullptr);
  // A later record with the same reset/restart count -> the clock went backwards.
  in.previous = ClockState{at.clockInfo.clock + 1000, at.clockInfo.resetCount, at.clockInfo.restartCount, true};
  BOOST_TEST(has_failure(appraise(q.evidence, in, 0), "clock_regressed"));
  // resetCount lower than seen before -> TPM state rolled back.
  in.previous = ClockState{0, at.clockInfo.resetCount + 1, 0, true};
  BOOST_TEST(has_failure(appraise(q.evidence, in, 0), "reset_count_regressed"));
  // resetCount higher: a reboot, explained, not a failure.
  in.previous = ClockState{0, at.clockInfo.resetCount - 1, 0, true};
  AppraisalOutcome a = appraise(q.evidence, in, 0);
  BOOST_TEST(a.findings.failures.empty());
  BOOST_TEST_REQUIRE(a.findings.notes.size() == 1u);
  BOOST_TEST(a.findings.notes[0].code == "endpoint_rebooted");
}

BOOST_AUTO_TEST_CASE(event_log_tampering_names_the_event) {
  World& w = world();
  const Bytes n = nonce_bytes(5);
  const ReferenceValues ref = w.ref();
  EndpointQuote q = make_evidence(*w.tpm, *w.id, n, w.log);
  // Change one byte of the manifest event's data (its digest no longer matches).
  policy::EventLog log = policy::parse_event_log(q.evidence.eventlog);
  const policy::LogEvent* man = nullptr;
  for (const auto& e : log.events)
    if (e.type == policy::kEvHvManifest) man = &e;
  BOOST_TEST_REQUIRE(man);
  Evidence bad = q.evidence;
  // The event data follows the record header: find it by content from the record's offset.
  auto it = std::search(bad.eventlog.begin() + static_cast<long>(man->offset), bad.eventlog.end(), man->data.begin(), man->data.end());
  BOOST_TEST_REQUIRE((it != bad.eventlog.end()));
  *(it + 5) ^= 1;
  AppraisalOutcome a = appraise(bad, input_for(w, n, &ref), 0);
  BOOST_TEST(a.status == "contraindicated");
  BOOST_TEST_REQUIRE(!a.findings.failures.empty());
  BOOST_TEST(a.findings.failures[0].code == "event_digest_mismatch");
  BOOST_TEST(a.findings.failures[0].detail["event"]["index"] == man->index);
  BOOST_TEST(a.findings.failures[0].message.find("EV_REDOUBT_HV_MANIFEST") != std::string::npos, a.findings.failures[0].message);

  // A log cut short lacks its last event (PCR18's separator): named as missing.
  bad = q.evidence;
  bad.eventlog.resize(log.events.back().offset);
  a = appraise(bad, input_for(w, n, &ref), 0);
  BOOST_TEST(has_failure(a, "event_missing"));

  // A reference minimum SVN above the launched one.
  const ReferenceValues strict = w.ref(3);
  a = appraise(q.evidence, input_for(w, n, &strict), 0);
  BOOST_TEST(has_failure(a, "hv_svn_below_minimum"));
}

namespace {
// The bytes of record i of a parsed log (from its offset to the next record's, or the end).
Bytes record_bytes(const Bytes& raw, const policy::EventLog& log, size_t i) {
  const size_t end = i + 1 < log.events.size() ? log.events[i + 1].offset : raw.size();
  return Bytes(raw.begin() + static_cast<long>(log.events[i].offset), raw.begin() + static_cast<long>(end));
}
// The log with its records in `order` (indices into log.events), header kept.
Bytes relog(const Bytes& raw, const policy::EventLog& log, const std::vector<size_t>& order) {
  Bytes out(raw.begin(), raw.begin() + static_cast<long>(log.events[0].offset));
  for (size_t i : order) {
    Bytes r = record_bytes(raw, log, i);
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}
size_t index_of_type(const policy::EventLog& log, uint32_t type) {
  for (const auto& e : log.events)
    if (e.type == type) return e.index;
  BOOST_FAIL("no event of type " << type);
  return 0;
}
const Finding& only_failure(const AppraisalOutcome& a) {
  BOOST_TEST_REQUIRE(a.findings.failures.size() == 1u, a.ear().dump());
  return a.findings.failures[0];
}
}  // namespace

// Structural faults in a self-consistent log (every event's digest matches its data) are named
// exactly: which event is extra, missing or out of order, with PCR, index and type.
BOOST_AUTO_TEST_CASE(missing_extra_and_swapped_events_are_named) {
  World& w = world();
  const Bytes n = nonce_bytes(7);
  const ReferenceValues ref = w.ref();
  EndpointQuote q = make_evidence(*w.tpm, *w.id, n, w.log);
  const policy::EventLog log = policy::parse_event_log(q.evidence.eventlog);
  std::vector<size_t> all(log.events.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const size_t slb = index_of_type(log, policy::kEvSkinitSlb), manifest = index_of_type(log, policy::kEvHvManifest),
               image = index_of_type(log, policy::kEvHvImage), signer = index_of_type(log, policy::kEvHvSigner);
  BOOST_TEST_REQUIRE(manifest == slb + 1);
  BOOST_TEST_REQUIRE(image == manifest + 1);

  // 1. The manifest event removed.
  std::vector<size_t> order = all;
  order.erase(order.begin() + static_cast<long>(manifest));
  Evidence bad = q.evidence;
  bad.eventlog = relog(q.evidence.eventlog, log, order);
  AppraisalOutcome a = appraise(bad, input_for(w, n, &ref), 0);
  BOOST_TEST(a.status == "contraindicated");
  const Finding& m = only_failure(a);
  BOOST_TEST(m.code == "event_missing");
  BOOST_TEST(m.detail["pcr"] == 17);
  BOOST_TEST(m.detail["banks"] == nlohmann::json({"sha256", "sha384"}));
  BOOST_TEST(m.detail["expected"]["type"] == "EV_REDOUBT_HV_MANIFEST");
  BOOST_TEST(m.detail["expected"]["position"] == manifest);
  BOOST_TEST(m.detail["after_event"]["index"] == slb);
  BOOST_TEST(m.detail["after_event"]["type"] == "EV_REDOUBT_SKINIT_SLB");
  BOOST_TEST(m.message.find("PCR17 (sha256, sha384): the log lacks the EV_REDOUBT_HV_MANIFEST event a launch records after event #" +
                            std::to_string(slb) + " (PCR17, EV_REDOUBT_SKINIT_SLB") == 0,
             m.message);

  // 2. An extra (self-consistent) event appended: a second copy of the signer event.
  order = all;
  order.push_back(signer);
  bad.eventlog = relog(q.evidence.eventlog, log, order);
  a = appraise(bad, input_for(w, n, &ref), 0);
  const Finding& x = only_failure(a);
  BOOST_TEST(x.code == "event_extra");
  BOOST_TEST(x.detail["pcr"] == 18);
  BOOST_TEST(x.detail["event"]["index"] == log.events.size());  // the appended one, not the original
  BOOST_TEST(x.detail["event"]["type"] == "EV_REDOUBT_HV_SIGNER");
  BOOST_TEST(x.message.find("PCR18 (sha256, sha384): the log has event #" + std::to_string(log.events.size()) +
                            " (PCR18, EV_REDOUBT_HV_SIGNER") == 0,
             x.message);

  // 3. Manifest and image swapped.
  order = all;
  std::swap(order[manifest], order[image]);
  bad.eventlog = relog(q.evidence.eventlog, log, order);
  a = appraise(bad, input_for(w, n, &ref), 0);
  const Finding& s = only_failure(a);
  BOOST_TEST(s.code == "events_swapped");
  BOOST_TEST(s.detail["pcr"] == 17);
  BOOST_TEST(s.detail["events"][0]["index"] == manifest);
  BOOST_TEST(s.detail["events"][0]["type"] == "EV_REDOUBT_HV_IMAGE");
  BOOST_TEST(s.detail["events"][1]["index"] == image);
  BOOST_TEST(s.detail["events"][1]["type"] == "EV_REDOUBT_HV_MANIFEST");
  BOOST_TEST(s.message.find("are in the wrong order") != std::string::npos, s.message);

  // 4. An altered digest (recomputed data hash would not help: the event data is a description) stays a
  //    replay mismatch naming the PCR's last event.
  bad = q.evidence;
  Bytes img_sha256;
  for (const auto& [alg, d] : log.events[image].digests)
    if (alg == HashAlg::sha256) img_sha256 = d;
  BOOST_TEST_REQUIRE(img_sha256.size() == 32u);
  auto dig = std::search(bad.eventlog.begin() + static_cast<long>(log.events[image].offset), bad.eventlog.end(), img_sha256.begin(), img_sha256.end());
  BOOST_TEST_REQUIRE((dig != bad.eventlog.end()));
  *(dig + 3) ^= 1;
  a = appraise(bad, input_for(w, n, &ref), 0);
  const Finding& r = only_failure(a);
  BOOST_TEST(r.code == "pcr_replay_mismatch");
  BOOST_TEST(r.detail["banks"] == nlohmann::json({"sha256"}));
  BOOST_TEST(r.message.find("no single extra, missing or swapped event explains it") != std::string::npos, r.message);
}

// The diagnosis searches are bounded: the log is the endpoint's, a huge PCR must not cost O(n³) hashes.
BOOST_AUTO_TEST_CASE(replay_diagnosis_is_bounded_by_the_number_of_events) {
  auto synthetic = [](size_t n) {
    policy::EventLog log;
    for (size_t i = 0; i < n; ++i) {
      policy::LogEvent e{};
      e.index = i;
      e.pcr = 20;
      e.type = policy::kEvGuestManifest;
      e.data = Bytes{static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8)};
      e.digests.push_back({HashAlg::sha256, tpm_hash(TPM2_ALG_SHA256, e.data)});
      log.events.push_back(e);
    }
    return log;
  };
  for (size_t n : {kMaxEventsForSwapSearch, kMaxEventsForSwapSearch + 1}) {
    const policy::EventLog log = synthetic(n);
    std::vector<const policy::LogEvent*> order;
    for (const auto& e : log.events) order.push_back(&e);
    std::swap(order[3], order[n - 2]);
    auto d = diagnose_replay(log, 20, HashAlg::sha256, replay_pcr(order, HashAlg::sha256));
    if (n <= kMaxEventsForSwapSearch) {
      BOOST_TEST_REQUIRE(d.has_value());
      BOOST_TEST((d->kind == ReplayDiagnosis::Kind::swapped));
      BOOST_TEST((d->events == std::vector<size_t>{3, n - 2}));
    } else {
      BOOST_TEST(!d.has_value());  // too many events to search: stays a plain replay mismatch
    }
  }
  const policy::EventLog big = synthetic(kMaxEventsForExtraSearch);
  std::vector<const policy::LogEvent*> order;
  for (const auto& e : big.events) order.push_back(&e);
  order.erase(order.begin() + 100);
  auto d = diagnose_replay(big, 20, HashAlg::sha256, replay_pcr(order, HashAlg::sha256));
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST((d->kind == ReplayDiagnosis::Kind::extra));
  BOOST_TEST(d->events[0] == 100u);
}

BOOST_AUTO_TEST_CASE(malformed_inputs_are_named_errors) {
  World& w = world();
  EndpointQuote q = make_evidence(*w.tpm, *w.id, nonce_bytes(6), w.log);
  for (size_t cut = 0; cut < q.evidence.quote.size(); cut += 7)
    BOOST_CHECK_THROW(parse_attest({q.evidence.quote.data(), cut}), AttestError);
  Bytes longer = q.evidence.quote;
  longer.push_back(0);
  BOOST_CHECK_THROW(parse_attest(longer), AttestError);
  for (size_t cut = 0; cut < q.evidence.signature.size(); cut += 5)
    BOOST_CHECK_THROW(parse_signature({q.evidence.signature.data(), cut}), AttestError);
  for (size_t cut : {0, 10, 135, 136, 300, 667}) BOOST_CHECK_THROW(read_pcr_file({q.evidence.pcrs.data(), cut}), AttestError);

  // TPM2B_PUBLIC whose size field does not match its public area (fuzz_quote crash-8934d5b8…: tss2-mu
  // accepted size 43 for an 88-byte ECC public area): refused, naming both sizes.
  const Bytes fuzz_crash = from_hex(
      "002b0023000b00050072000000100018000b00030010""0020dab1cad0bad94130dd39f984c369611130acc3a63f062f8ce3e897139ec4d704"
      "002051409f9b1cc5828b99c0511c73ced64febe30820cb00b7def45043bd11d1d7d5");
  BOOST_TEST_REQUIRE(fuzz_crash.size() == 90u);
  Bytes short_ak = q.evidence.ak_public;
  short_ak[1] = static_cast<uint8_t>(short_ak[1] - 1);  // the real AK with a size field one byte short
  for (const Bytes& pub : {fuzz_crash, short_ak}) {
    try {
      unmarshal_public(pub, "AK public");
      BOOST_FAIL("accepted a TPM2B_PUBLIC with a wrong size field");
    } catch (const AttestError& e) {
      BOOST_TEST(e.code() == "malformed_public");
      BOOST_TEST(e.reason().find("AK public: the size field says ") == 0, e.reason());
      BOOST_TEST(e.reason().find(" bytes but the public area is " + std::to_string(pub.size() - 2) + " bytes") != std::string::npos, e.reason());
    }
  }
  BOOST_CHECK_THROW(unmarshal_public(Bytes{0, 0}), AttestError);  // an empty TPM2B_PUBLIC
  BOOST_TEST(marshal_public(unmarshal_public(q.evidence.ak_public)) == q.evidence.ak_public);
  try {
    from_base64("abc$", "quote");
    BOOST_FAIL("accepted bad base64");
  } catch (const AttestError& e) {
    BOOST_TEST(e.code() == "bad_base64");
  }
  BOOST_CHECK_THROW(from_base64("QQ=", "x"), AttestError);
  BOOST_TEST(from_base64("QUJD") == to_bytes("ABC"));
  BOOST_TEST(to_base64(to_bytes("AB")) == "QUI=");
}
