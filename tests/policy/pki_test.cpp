// Guest PKI (issue #4): launch policy + guest manifests signed by OpenSSL
// (policy/host), verified by the freestanding BearSSL code (policy/fs). Every
// refusal case asserts its own named Refusal.
#define BOOST_TEST_MODULE policy_pki
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>

#include "policy/fs/der.hpp"
#include "policy/fs/launch_policy_envelope.hpp"
#include "policy/host/manifest_json.hpp"
#include "tests/policy/pki_fixture.hpp"
#include "tests/policy/test_util.hpp"

using namespace pki_test;

namespace {

struct Outcome {
  Status st;
  Refusal why = Refusal::none;
  GuestManifest m;
  VerifiedChain chain;
};

Outcome run(const LaunchPolicy& lp, const Bytes& cose, const Bytes& kernel, const Bytes& initrd = {}) {
  Outcome o;
  o.st = verify_guest(lp, cose, kernel, initrd, o.m, o.chain, o.why);
  return o;
}

#define CHECK_REFUSED(outcome, reason)                                                                              \
  do {                                                                                                              \
    const auto& _o = (outcome);                                                                                     \
    BOOST_TEST(!_o.st.is_ok());                                                                                     \
    BOOST_TEST(refusal_name(_o.why) == refusal_name(reason), "refusal " << refusal_name(_o.why) << ": " << _o.st.message()); \
    BOOST_TEST(policy_test::contains(_o.st, refusal_name(reason)), "message lacks the reason: " << _o.st.message());          \
    BOOST_TEST_MESSAGE(refusal_name(reason) << " -> " << _o.st.message());                                          \
  } while (0)

struct Fixture {
  Pki pki;
  Bytes kernel = image(5000, 1), initrd = image(3000, 2);
  GuestManifestInput gin = guest_input();
  LaunchPolicyInput pin = policy_input(pki);
  Bytes sign(const Pki& p, const std::vector<Bytes>& chain) const { return sign_guest_manifest(kernel, &initrd, gin, p.leaf_key, chain); }
  Bytes good() const { return sign(pki, pki.chain()); }
  Outcome verify(const Bytes& cose) const { return run(*decode_policy(pin), cose, kernel, initrd); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(pki, Fixture)

BOOST_AUTO_TEST_CASE(valid_ec_chain_is_accepted) {
  const Bytes cose = good();  // m.cmdline and chain.certs point into it
  Outcome o = verify(cose);
  BOOST_TEST(o.st.is_ok(), o.st.message());
  BOOST_TEST(o.chain.count == 2u);
  BOOST_TEST(std::string(o.m.name) == "corp-linux");
  BOOST_TEST(o.m.svn == 7u);
  BOOST_TEST(o.m.memory_mib == 256u);
  BOOST_TEST(o.m.has_initrd);
  BOOST_TEST(std::string(o.m.cmdline.begin(), o.m.cmdline.end()) == "console=ttyS0 quiet");
  const Bytes spki = spki_sha256(pki.leaf.get());
  BOOST_TEST(Bytes(o.chain.leaf_spki_sha256, o.chain.leaf_spki_sha256 + 32) == spki);
}

BOOST_AUTO_TEST_CASE(valid_rsa3072_chain_rs256_is_accepted) {
  Pki rsa("RSA-3072", "RsaCorp");
  pin.anchors = {rsa.root_der()};
  Outcome o = verify(sign(rsa, rsa.chain()));
  BOOST_TEST(o.st.is_ok(), o.st.message());
  BOOST_TEST(o.chain.leaf.key_bits == 3072u);
}

BOOST_AUTO_TEST_CASE(p384_chain_es384_and_root_in_chain_accepted) {
  Pki p("P-384", "P384Corp");
  pin.anchors = {p.root_der()};
  auto chain = p.chain();
  chain.push_back(p.root_der());  // a copy of the anchor at the end is tolerated
  Outcome o = verify(sign(p, chain));
  BOOST_TEST(o.st.is_ok(), o.st.message());
  BOOST_TEST(o.chain.count == 2u);
}

BOOST_AUTO_TEST_CASE(unknown_root_foreign_pki) {
  Pki other("P-256", "Evil");
  auto chain = other.chain();
  chain.push_back(other.root_der());
  CHECK_REFUSED(verify(sign(other, chain)), Refusal::unknown_root);
}

BOOST_AUTO_TEST_CASE(unknown_root_same_name_other_key) {
  Pki other("P-256", "Corp");  // same names as the corporate PKI, other keys
  CHECK_REFUSED(verify(sign(other, other.chain())), Refusal::unknown_root);
}

BOOST_AUTO_TEST_CASE(missing_intermediate) {
  CHECK_REFUSED(verify(sign(pki, {cert_der(pki.leaf.get())})), Refusal::missing_intermediate);
}

BOOST_AUTO_TEST_CASE(intermediate_without_ca_true) {
  CertSpec s = ca_spec("Corp Guest Signing CA", -1);
  s.ca = false;
  s.ku_bits = kKuDigitalSignature;
  X509Ptr inter = issue_cert(s, pki.int_key, pki.root.get(), pki.root_key);
  X509Ptr leaf = issue_cert(leaf_spec("Corp Guest Signer"), pki.leaf_key, inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(inter.get())})), Refusal::not_ca);
}

BOOST_AUTO_TEST_CASE(intermediate_without_basic_constraints) {
  CertSpec s = ca_spec("Corp Guest Signing CA", -1);
  s.bc = false;
  X509Ptr inter = issue_cert(s, pki.int_key, pki.root.get(), pki.root_key);
  X509Ptr leaf = issue_cert(leaf_spec("Corp Guest Signer"), pki.leaf_key, inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(inter.get())})), Refusal::not_ca);
}

BOOST_AUTO_TEST_CASE(path_length_exceeded) {
  // The intermediate has pathlen 0, yet issues a second CA which issues the leaf.
  EvpKey k2 = generate_signing_key("P-256");
  X509Ptr sub = issue_cert(ca_spec("Corp Sub CA", -1), k2, pki.inter.get(), pki.int_key);
  X509Ptr leaf = issue_cert(leaf_spec("Corp Guest Signer"), pki.leaf_key, sub.get(), k2);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(sub.get()), cert_der(pki.inter.get())})), Refusal::path_length);
}

BOOST_AUTO_TEST_CASE(policy_max_intermediates_exceeded) {
  pin.max_intermediates = 0;
  CHECK_REFUSED(verify(good()), Refusal::path_length);
}

BOOST_AUTO_TEST_CASE(wrong_eku) {
  CertSpec s = leaf_spec("Corp Guest Signer");
  s.eku = {"1.3.6.1.5.5.7.3.3"};  // id-kp-codeSigning, not guest signing
  X509Ptr leaf = issue_cert(s, pki.leaf_key, pki.inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(pki.inter.get())})), Refusal::wrong_eku);
  s.eku.clear();
  leaf = issue_cert(s, pki.leaf_key, pki.inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(pki.inter.get())})), Refusal::wrong_eku);
}

BOOST_AUTO_TEST_CASE(wrong_key_usage) {
  CertSpec s = leaf_spec("Corp Guest Signer");
  s.ku_bits = 1u << 2;  // keyEncipherment only
  X509Ptr leaf = issue_cert(s, pki.leaf_key, pki.inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(pki.inter.get())})), Refusal::wrong_key_usage);
  CertSpec c = ca_spec("Corp Guest Signing CA", 0);
  c.ku_bits = kKuCrlSign;  // a CA without keyCertSign
  X509Ptr inter = issue_cert(c, pki.int_key, pki.root.get(), pki.root_key);
  leaf = issue_cert(leaf_spec("Corp Guest Signer"), pki.leaf_key, inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(inter.get())})), Refusal::wrong_key_usage);
}

BOOST_AUTO_TEST_CASE(revoked_leaf_by_serial) {
  pin.revocations = {revoke_by_serial(pki.inter.get(), serial_content(pki.leaf.get()))};
  CHECK_REFUSED(verify(good()), Refusal::revoked_leaf);
}

BOOST_AUTO_TEST_CASE(revoked_leaf_by_spki) {
  pin.revocations = {revoke_by_spki(pki.leaf.get())};
  CHECK_REFUSED(verify(good()), Refusal::revoked_leaf);
}

BOOST_AUTO_TEST_CASE(revoked_intermediate) {
  pin.revocations = {revoke_by_spki(pki.inter.get())};
  CHECK_REFUSED(verify(good()), Refusal::revoked_intermediate);
  pin.revocations = {revoke_by_serial(pki.root.get(), serial_content(pki.inter.get()))};
  CHECK_REFUSED(verify(good()), Refusal::revoked_intermediate);
}

BOOST_AUTO_TEST_CASE(revocation_of_another_serial_does_not_refuse) {
  pin.revocations = {revoke_by_serial(pki.inter.get(), Bytes{0x01, 0x02})};
  BOOST_TEST(verify(good()).st.is_ok());
}

BOOST_AUTO_TEST_CASE(tampered_kernel_and_initrd) {
  Bytes bad = kernel;
  bad[100] ^= 1;
  Outcome o = run(*decode_policy(pin), good(), bad, initrd);
  CHECK_REFUSED(o, Refusal::digest_mismatch);
  Bytes bad_initrd = initrd;
  bad_initrd.push_back(0);
  CHECK_REFUSED(run(*decode_policy(pin), good(), kernel, bad_initrd), Refusal::digest_mismatch);
  CHECK_REFUSED(run(*decode_policy(pin), good(), kernel, {}), Refusal::digest_mismatch);
}

BOOST_AUTO_TEST_CASE(tampered_manifest) {
  Bytes cose = good();
  const std::string needle = "quiet";
  auto it = std::search(cose.begin(), cose.end(), needle.begin(), needle.end());
  BOOST_REQUIRE(it != cose.end());
  *it = 'Q';  // the payload still parses; the signature no longer verifies
  CHECK_REFUSED(verify(cose), Refusal::bad_signature);
}

BOOST_AUTO_TEST_CASE(signature_by_key_not_in_chain) {
  EvpKey rogue = generate_signing_key("P-256");
  const Bytes payload = build_guest_manifest_payload(kernel, &initrd, gin);
  CHECK_REFUSED(verify(sign_cose_x5chain(payload, rogue, pki.chain(), true)), Refusal::signer_not_in_chain);
  // Signed by the intermediate's key (which is in the chain, but is not the signer).
  CHECK_REFUSED(verify(sign_cose_x5chain(payload, pki.int_key, pki.chain(), true)), Refusal::signer_not_in_chain);
  // A lying kid (the leaf's) over a rogue signature: the signature check catches it.
  const Bytes kid = spki_sha256(pki.leaf.get());
  CHECK_REFUSED(verify(sign_cose_x5chain(payload, rogue, pki.chain(), true, &kid)), Refusal::bad_signature);
}

BOOST_AUTO_TEST_CASE(bad_certificate_signature) {
  // A leaf naming the corporate intermediate as issuer, signed by another key.
  EvpKey fake = generate_signing_key("P-256");
  X509Ptr leaf = issue_cert(leaf_spec("Corp Guest Signer"), pki.leaf_key, pki.inter.get(), fake);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(pki.inter.get())})), Refusal::bad_cert_signature);
}

BOOST_AUTO_TEST_CASE(svn_rollback) {
  pin.min_svn = {{"corp-linux", 8}, {"other", 1}};
  CHECK_REFUSED(verify(good()), Refusal::rollback);
  pin.min_svn = {{"corp-linux", 7}};
  BOOST_TEST(verify(good()).st.is_ok());
}

BOOST_AUTO_TEST_CASE(unsigned_guest) {
  Refusal why;
  CHECK_FAILS(check_unsigned_guest(*decode_policy(pin), why), Err::wrong_key, "unsigned_guest");
  BOOST_TEST(refusal_name(why) == std::string("unsigned_guest"));
  pin.allow_unsigned = true;
  BOOST_TEST(check_unsigned_guest(*decode_policy(pin), why).is_ok());
}

BOOST_AUTO_TEST_CASE(not_yet_valid_and_expired_per_policy_time) {
  pin.time = kT0 - 31 * kDay;  // before the leaf's notBefore
  CHECK_REFUSED(verify(good()), Refusal::not_yet_valid);
  pin.time = kT0 + 366 * kDay;  // after the leaf's notAfter
  CHECK_REFUSED(verify(good()), Refusal::expired);
  pin.time = kT0 - 30 * kDay;  // exactly notBefore: valid (notBefore <= time)
  BOOST_TEST(verify(good()).st.is_ok());
  pin.time = kT0 + 365 * kDay;  // exactly notAfter: valid (time <= notAfter)
  BOOST_TEST(verify(good()).st.is_ok());
}

BOOST_AUTO_TEST_CASE(unknown_critical_extension) {
  CertSpec s = leaf_spec("Corp Guest Signer");
  s.extra_critical = true;
  X509Ptr leaf = issue_cert(s, pki.leaf_key, pki.inter.get(), pki.int_key);
  CHECK_REFUSED(verify(sign(pki, {cert_der(leaf.get()), cert_der(pki.inter.get())})), Refusal::critical_extension);
}

BOOST_AUTO_TEST_CASE(policy_signature_and_owner_key) {
  EvpKey owner = generate_key("P-256"), other = generate_key("P-256");
  Bytes cose = sign_launch_policy(pin, owner);
  auto lp = std::make_unique<LaunchPolicy>();
  Refusal why;
  BOOST_TEST(launch_policy_verify(cose, cose_public_key(owner), *lp, why).is_ok());
  BOOST_TEST(lp->anchor_count == 1u);
  BOOST_TEST(std::string(lp->name) == "corp-policy");
  BOOST_TEST(!launch_policy_verify(cose, cose_public_key(other), *lp, why).is_ok());
  BOOST_TEST(refusal_name(why) == std::string("policy_signature"));
  cose[cose.size() - 70] ^= 1;  // inside the payload or signature
  BOOST_TEST(!launch_policy_verify(cose, cose_public_key(owner), *lp, why).is_ok());
}

BOOST_AUTO_TEST_CASE(policy_fields_round_trip) {
  pin.allow_unsigned = true;
  pin.cpuid = {CpuidMask{1, kCpuidAnySubleaf, 2, 1u << 31}, CpuidMask{7, 0, 1, 0x20}};
  pin.io = {IoRange{0x3f8, 0x3ff}, IoRange{0x402, 0x402}};
  pin.min_svn = {{"a", 1}, {"b", 2}};
  pin.revocations = {revoke_by_spki(pki.leaf.get()), revoke_by_serial(pki.root.get(), serial_content(pki.inter.get()))};
  auto lp = decode_policy(pin);
  BOOST_TEST(lp->cpuid_count == 2u);
  BOOST_TEST(lp->cpuid[0].clear == (1u << 31));
  BOOST_TEST(lp->io_count == 2u);
  BOOST_TEST(lp->io[0].first == 0x3f8);
  BOOST_TEST(lp->revocation_count == 2u);
  BOOST_TEST(lp->min_svn_count == 2u);
  BOOST_TEST((lp->unsigned_guests == UnsignedGuests::allow_unmeasured));
  EvpKey owner = generate_key("P-256");
  nlohmann::json j = manifest_to_json(sign_launch_policy(pin, owner));
  BOOST_TEST(j["payload"]["type"] == "redoubt.launch-policy/1");
  BOOST_TEST(j["payload"]["profile"]["eku"] == kGuestSigningEku);
  BOOST_TEST(j["payload"]["guest_io"].size() == 2u);
  nlohmann::json g = manifest_to_json(good());
  BOOST_TEST(g["payload"]["type"] == "redoubt.guest-manifest/1");
  BOOST_TEST(g["unprotected"]["x5chain"].size() == 2u);
  BOOST_TEST(g["payload"]["cmdline"] == "console=ttyS0 quiet");
}

// ---- strict CBOR and caps ----

BOOST_AUTO_TEST_CASE(policy_strictness) {
  Bytes payload = build_launch_policy_payload(pin);
  auto lp = std::make_unique<LaunchPolicy>();
  Refusal why;
  // Unknown key 12 appended (map count bumped).
  Bytes unk = payload;
  unk[0] += 1;
  unk.push_back(0x0c);
  unk.push_back(0x00);
  CHECK_FAILS(launch_policy_decode(unk, *lp, why), Err::malformed, "unknown key 12");
  // Duplicate key: a second "name".
  Bytes dup = payload;
  dup[0] += 1;
  dup.insert(dup.end(), {0x02, 0x61, 'x'});
  CHECK_FAILS(launch_policy_decode(dup, *lp, why), Err::malformed, "after");
  // Trailing byte.
  Bytes trail = payload;
  trail.push_back(0);
  CHECK_FAILS(launch_policy_decode(trail, *lp, why), Err::malformed, "trailing");
  // Nine anchors: over the cap.
  pin.anchors.assign(9, pki.root_der());
  BOOST_CHECK_THROW(build_launch_policy_payload(pin), PkiError);
  // An intermediate as anchor is refused.
  pin.anchors = {cert_der(pki.inter.get())};
  BOOST_CHECK_THROW(build_launch_policy_payload(pin), PkiError);
}

BOOST_AUTO_TEST_CASE(truncations_and_garbage_are_refused_cleanly) {
  const Bytes cose = good();
  auto lp = decode_policy(pin);
  size_t refused = 0;
  for (size_t n = 0; n < cose.size(); ++n) {
    Bytes t(cose.begin(), cose.begin() + static_cast<long>(n));
    Outcome o = run(*lp, t, kernel, initrd);
    refused += !o.st.is_ok() && o.why != Refusal::none;
  }
  BOOST_TEST(refused == cose.size());
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    Bytes g = cose;
    for (int k = 0; k < 1 + i % 4; ++k) g[rng() % g.size()] = static_cast<uint8_t>(rng());
    Outcome o = run(*lp, g, kernel, initrd);
    BOOST_TEST((o.st.is_ok() == (o.why == Refusal::none)));
  }
  Bytes junk(600);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  BOOST_TEST(!run(*lp, junk, kernel, initrd).st.is_ok());
}

BOOST_AUTO_TEST_CASE(malformed_and_oversized_certificates) {
  Refusal why;
  X509Cert c;
  const Bytes der = cert_der(pki.leaf.get());
  BOOST_TEST(x509_parse(der, c, why).is_ok());
  for (size_t n = 0; n < der.size(); ++n) {
    BOOST_TEST(!x509_parse(std::span<const uint8_t>(der.data(), n), c, why).is_ok());
  }
  Bytes big(kMaxCertSize + 1, 0x30);
  CHECK_FAILS(x509_parse(big, c, why), Err::malformed, "kMaxCertSize");
  BOOST_TEST(refusal_name(why) == std::string("over_cap"));
  // A chain of 5 certificates is over the x5chain cap.
  std::vector<Bytes> five(5, cert_der(pki.inter.get()));
  five[0] = cert_der(pki.leaf.get());
  Outcome o = verify(sign(pki, five));
  CHECK_REFUSED(o, Refusal::over_cap);
  // An oversized certificate inside the x5chain.
  std::vector<Bytes> huge = pki.chain();
  huge[1].resize(kMaxCertSize + 100, 0);
  CHECK_REFUSED(verify(sign(pki, huge)), Refusal::over_cap);
  // Garbage instead of the intermediate.
  std::vector<Bytes> garbage = pki.chain();
  garbage[1] = Bytes(300, 0x41);
  CHECK_REFUSED(verify(sign(pki, garbage)), Refusal::malformed);
}

BOOST_AUTO_TEST_CASE(der_time_rules) {
  uint32_t d, s;
  auto t = [&](uint8_t tag, const char* v) {
    DerItem it;
    it.tag = tag;
    it.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v), strlen(v));
    return der_time(it, d, s);
  };
  BOOST_TEST(t(der::kUtcTime, "700101000000Z").is_ok());
  BOOST_TEST(d == kUnixEpochDays);
  BOOST_TEST(t(der::kGenTime, "20260101000000Z").is_ok());
  BOOST_TEST(d == kUnixEpochDays + kT0 / kDay);
  BOOST_TEST(t(der::kUtcTime, "491231235959Z").is_ok());  // 2049
  BOOST_TEST(!t(der::kUtcTime, "230229000000Z").is_ok());  // not a leap year
  BOOST_TEST(!t(der::kUtcTime, "2301010000Z").is_ok());    // no seconds
  BOOST_TEST(!t(der::kGenTime, "20230101000000+0100").is_ok());
}

// The SL's part (policy/fs/launch_policy_envelope): owner signature, then only
// the type and the anchors it measures into PCR18.
BOOST_AUTO_TEST_CASE(sl_envelope_finds_the_anchors_and_refuses_what_it_must) {
  Pki second("P-256", "Second");
  pin.anchors = {pki.root_der(), second.root_der()};
  EvpKey owner = generate_signing_key("P-256"), other = generate_signing_key("P-256");
  const Bytes cose = sign_launch_policy(pin, owner);
  LaunchPolicyEnvelope env;
  Status st = launch_policy_open(cose, cose_public_key(owner), env);
  BOOST_REQUIRE_MESSAGE(st.is_ok(), st.message());
  BOOST_TEST(env.anchor_count == 2u);
  BOOST_TEST(Bytes(env.anchors[1].begin(), env.anchors[1].end()) == second.root_der());
  BOOST_TEST(Bytes(env.payload.begin(), env.payload.end()) == build_launch_policy_payload(pin));
  // Another owner's signature.
  st = launch_policy_open(cose, cose_public_key(other), env);
  BOOST_TEST(!st.is_ok());
  BOOST_TEST((st.code() == Err::bad_signature || st.code() == Err::wrong_key), st.message());
  // Payload shapes the walk must refuse, each with its cause in the message.
  auto walk = [&](const Bytes& b) { return launch_policy_walk(b, env); };
  CHECK_FAILS(walk(Bytes{0xa1, 0x01, 0x63, 'a', 'b', 'c'}), Err::malformed, "type");              // {1: "abc"}
  CHECK_FAILS(walk(Bytes{0xa1, 0x05, 0x80}), Err::malformed, "trust anchors");                     // {5: []}
  CHECK_FAILS(walk(Bytes{0xa2, 0x02, 0x60, 0x01, 0x60}), Err::malformed, "ascending");              // keys out of order
  Bytes good = build_launch_policy_payload(pin);
  Bytes trailing = good;
  trailing.push_back(0x00);
  CHECK_FAILS(walk(trailing), Err::malformed, "trailing");
  for (size_t n = 0; n < good.size(); n += 7) BOOST_TEST(!walk(Bytes(good.begin(), good.begin() + n)).is_ok());
}

// ChainMemo (policy/fs/x509_chain.hpp): the hypervisor admits several guests
// signed by one corporate chain; BearSSL's signature pass runs once per chain and
// policy, every other check runs for every guest.
BOOST_AUTO_TEST_CASE(chain_memo_skips_only_the_signature_pass_for_identical_bytes) {
  auto lp = decode_policy(pin);
  const Bytes cose = good();
  Outcome first = run(*lp, cose, kernel, initrd);
  BOOST_TEST(first.st.is_ok(), first.st.message());
  BOOST_TEST(lp->chain_memo.hits == 0u);
  BOOST_TEST(lp->chain_memo.used == 1u);
  // The key is the bytes themselves, not a hash of them: the policy time, the anchor's SPKI,
  // then the leaf and the intermediate, each after its 32-bit length.
  unsigned char* spki_der = nullptr;
  const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(pki.root.get()), &spki_der);
  OPENSSL_free(spki_der);
  const Bytes leaf_der = cert_der(pki.leaf.get()), inter_der = cert_der(pki.inter.get());
  BOOST_TEST(lp->chain_memo.key_len[0] == 8 + 4 + size_t(spki_len) + 4 + leaf_der.size() + 4 + inter_der.size());
  const uint8_t* k = lp->chain_memo.key[0];
  BOOST_TEST(k[7] == uint8_t(pin.time));
  BOOST_TEST(std::memcmp(k + 8 + 4 + spki_len + 4, leaf_der.data(), leaf_der.size()) == 0);
  BOOST_TEST(std::memcmp(k + 8 + 4 + spki_len + 4 + leaf_der.size() + 4, inter_der.data(), inter_der.size()) == 0);
  Outcome second = run(*lp, cose, kernel, initrd);
  BOOST_TEST(second.st.is_ok(), second.st.message());
  BOOST_TEST(lp->chain_memo.hits == 1u);
  BOOST_TEST(Bytes(second.chain.leaf_spki_sha256, second.chain.leaf_spki_sha256 + 32) == spki_sha256(pki.leaf.get()));

  // A leaf whose signature no longer verifies: other bytes, so no memo hit, and BearSSL refuses it.
  Bytes leaf = cert_der(pki.leaf.get());
  leaf.back() ^= 0x01;  // the last octet of the ECDSA signature's s
  Outcome forged = run(*lp, sign(pki, {leaf, cert_der(pki.inter.get())}), kernel, initrd);
  CHECK_REFUSED(forged, Refusal::bad_cert_signature);
  BOOST_TEST(lp->chain_memo.hits == 1u);
  BOOST_TEST(lp->chain_memo.used == 1u);  // refusals are never remembered

  // The memo carried into a policy that revokes the leaf: the revocation still refuses it.
  pin.revocations = {revoke_by_spki(pki.leaf.get())};
  auto revoking = decode_policy(pin);
  revoking->chain_memo = lp->chain_memo;
  CHECK_REFUSED(run(*revoking, cose, kernel, initrd), Refusal::revoked_leaf);

  // The same chain under another policy time is another key: the signature pass runs again.
  pin.revocations.clear();
  pin.time += 86400;
  auto later = decode_policy(pin);
  later->chain_memo = lp->chain_memo;
  Outcome again = run(*later, cose, kernel, initrd);
  BOOST_TEST(again.st.is_ok(), again.st.message());
  BOOST_TEST(later->chain_memo.hits == 1u);  // unchanged from the copy: no hit
  BOOST_TEST(later->chain_memo.used == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
