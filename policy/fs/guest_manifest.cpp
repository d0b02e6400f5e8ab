#include "policy/fs/guest_manifest.hpp"

#include <bearssl.h>

#include "platform/hal/format.hpp"
#include "policy/fs/cbor.hpp"
#include "policy/fs/cbor_strict.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/der.hpp"
#include "policy/fs/hash.hpp"

namespace redoubt::policy {
namespace {

constexpr const char* kFields[] = {"",          "type",          "name",        "version", "svn",     "digest_alg",
                                   "kernel_digest", "kernel_size", "initrd_digest", "initrd_size", "cmdline", "memory_mib"};
constexpr uint64_t kMaxKey = 11;

Status fail(Refusal& why, Refusal r, const Status& st) { return refuse(why, r, "guest-manifest", st); }
#define GM_TRY(expr)                                   \
  do {                                                 \
    ::redoubt::Status _s = (expr);                     \
    if (!_s) return fail(why, Refusal::malformed, _s); \
  } while (0)
#define GM_FAIL(r, ...) return fail(why, (r), Status::fail(Err::malformed, __VA_ARGS__))

struct X5Chain {
  std::span<const uint8_t> raw;  // the CBOR item
  std::span<const uint8_t> certs[kMaxChain];
  size_t count = 0;
};

// Scans one header map for label 33 (x5chain, RFC 9360 §2): a bstr (one
// certificate) or an array of bstr (leaf first). At most once over both maps.
Status scan_x5chain(CborReader& r, X5Chain& x, Refusal& why) {
  uint64_t n;
  GM_TRY(r.read_map(n));
  for (uint64_t i = 0; i < n; ++i) {
    CborType t;
    GM_TRY(r.peek_type(t));
    int64_t label = 0;
    if (t == CborType::uint || t == CborType::nint) {
      GM_TRY(r.read_int(label));
    } else {
      GM_TRY(r.skip());
    }
    if (label != kCoseX5Chain) {
      GM_TRY(r.skip());
      continue;
    }
    if (!x.raw.empty()) GM_FAIL(Refusal::malformed, "x5chain (label 33) appears twice");
    const size_t start = r.offset();
    GM_TRY(r.peek_type(t));
    if (t == CborType::bytes) {
      GM_TRY(r.read_bytes(x.certs[0]));
      x.count = 1;
    } else {
      uint64_t c;
      GM_TRY(r.read_array(c));
      if (c == 0) GM_FAIL(Refusal::malformed, "x5chain is an empty array");
      if (c > kMaxChain) GM_FAIL(Refusal::over_cap, "x5chain has %llu certificates, the cap kMaxChain is %zu", static_cast<unsigned long long>(c), kMaxChain);
      for (uint64_t j = 0; j < c; ++j) GM_TRY(r.read_bytes(x.certs[j]));
      x.count = c;
    }
    for (size_t j = 0; j < x.count; ++j)
      if (x.certs[j].size() > kMaxCertSize)
        GM_FAIL(Refusal::over_cap, "x5chain certificate %zu is %zu bytes, the cap kMaxCertSize is %zu", j, x.certs[j].size(), kMaxCertSize);
    x.raw = std::span<const uint8_t>(r.rest().data() - (r.offset() - start), r.offset() - start);
  }
  return Status::ok();
}

Status find_x5chain(std::span<const uint8_t> cose, const CoseSign1& msg, X5Chain& x, Refusal& why) {
  CborReader pr(msg.protected_bstr);
  REDOUBT_TRY(scan_x5chain(pr, x, why));
  CborReader r(cose);
  CborType t;
  uint64_t v;
  std::span<const uint8_t> b;
  GM_TRY(r.peek_type(t));
  if (t == CborType::tag) GM_TRY(r.read_tag(v));
  GM_TRY(r.read_array(v));
  GM_TRY(r.read_bytes(b));
  REDOUBT_TRY(scan_x5chain(r, x, why));
  if (x.count == 0) GM_FAIL(Refusal::malformed, "no x5chain (COSE header 33): the signer's certificate chain is missing");
  return Status::ok();
}

Status verify_signature(const CoseSign1& msg, const X509Cert& leaf, Refusal& why) {
  HashAlg ha;
  if (msg.alg == CoseAlg::es256 && leaf.key == KeyKind::ec && leaf.curve == BR_EC_secp256r1) ha = HashAlg::sha256;
  else if (msg.alg == CoseAlg::es384 && leaf.key == KeyKind::ec && leaf.curve == BR_EC_secp384r1) ha = HashAlg::sha384;
  else if (msg.alg == CoseAlg::rs256 && leaf.key == KeyKind::rsa) ha = HashAlg::sha256;
  else GM_FAIL(Refusal::unsupported, "alg %s does not match the leaf's %s-%u key", cose_alg_name(msg.alg), leaf.key == KeyKind::rsa ? "RSA" : "EC", leaf.key_bits);

  const Digest d = cose_sig_structure_digest(msg, ha);  // RFC 9052 §4.4

  bool ok;
  if (leaf.key == KeyKind::ec) {
    br_ec_public_key pk{leaf.curve, const_cast<unsigned char*>(leaf.ec_q.data()), leaf.ec_q.size()};
    const size_t want = leaf.curve == BR_EC_secp256r1 ? 64 : 96;  // RFC 9053 §2.1 raw r||s
    if (msg.signature.size() != want) GM_FAIL(Refusal::malformed, "%s signature is %zu bytes, expected %zu", cose_alg_name(msg.alg), msg.signature.size(), want);
    ok = br_ecdsa_i31_vrfy_raw(br_ec_get_default(), d.bytes, d.size(), &pk, msg.signature.data(), msg.signature.size()) == 1;
  } else {
    // RFC 8812 §2: RS256 = RSASSA-PKCS1-v1_5 with SHA-256; the signature is the modulus size.
    br_rsa_public_key pk{const_cast<unsigned char*>(leaf.rsa_n.data()), leaf.rsa_n.size(), const_cast<unsigned char*>(leaf.rsa_e.data()),
                         leaf.rsa_e.size()};
    if (msg.signature.size() != leaf.rsa_n.size())
      GM_FAIL(Refusal::malformed, "RS256 signature is %zu bytes, the modulus is %zu", msg.signature.size(), leaf.rsa_n.size());
    uint8_t recovered[32];
    ok = br_rsa_i31_pkcs1_vrfy(msg.signature.data(), msg.signature.size(), BR_HASH_OID_SHA256, sizeof recovered, &pk, recovered) == 1 &&
         bytes_equal({recovered, 32}, {d.bytes, 32});
  }
  if (!ok) GM_FAIL(Refusal::bad_signature, "%s signature does not verify with the leaf certificate's key (manifest altered?)", cose_alg_name(msg.alg));
  return Status::ok();
}

Status check_digest(const char* what, HashAlg alg, const uint8_t* want, uint64_t want_size, std::span<const uint8_t> data, Refusal& why) {
  if (data.size() != want_size) GM_FAIL(Refusal::digest_mismatch, "%s is %zu bytes, the manifest signs %llu", what, data.size(), static_cast<unsigned long long>(want_size));
  const Digest d = hash(alg, data);
  if (!bytes_equal({d.bytes, d.size()}, {want, d.size()})) {
    char got[17], exp[17];
    to_hex(d.bytes, 8, got);
    to_hex(want, 8, exp);
    GM_FAIL(Refusal::digest_mismatch, "%s %s is %s…, the manifest signs %s…", what, hash_alg_name(alg), got, exp);
  }
  return Status::ok();
}

}  // namespace

Status guest_manifest_decode(std::span<const uint8_t> payload, GuestManifest& out, Refusal& why) {
  out = GuestManifest{};
  why = Refusal::none;
  out.payload = payload;
  CborReader r(payload);
  StrictMap m(r, "payload", kMaxKey);
  uint64_t n;
  GM_TRY(m.open(n));
  std::span<const uint8_t> kd, id;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k;
    GM_TRY(m.key(k));
    const char* f = kFields[k];
    std::span<const uint8_t> s;
    Status st;
#define GM_FIELD(expr) \
  if (!(st = (expr))) GM_FAIL(Refusal::malformed, "field %s: %s", f, st.message())
    switch (k) {
      case 1:
        GM_FIELD(r.read_text(s));
        if (!text_is(s, kGuestManifestType)) GM_FAIL(Refusal::malformed, "type is not \"%s\"", kGuestManifestType);
        break;
      case 2:
        GM_FIELD(r.read_text(s));
        GM_TRY(strict_text(s, out.name, sizeof out.name, "name"));
        if (s.empty()) GM_FAIL(Refusal::malformed, "name is empty");
        break;
      case 3:
        GM_FIELD(r.read_text(s));
        GM_TRY(strict_text(s, out.version, sizeof out.version, "version"));
        break;
      case 4: GM_FIELD(r.read_uint(out.svn)); break;
      case 5: {
        uint64_t a;
        GM_FIELD(r.read_uint(a));
        if (a == 0x000B) out.digest_alg = HashAlg::sha256;
        else if (a == 0x000C) out.digest_alg = HashAlg::sha384;
        else GM_FAIL(Refusal::unsupported, "digest_alg 0x%04llx is not sha256 (0x000b) or sha384 (0x000c)", static_cast<unsigned long long>(a));
        break;
      }
      case 6: GM_FIELD(r.read_bytes(kd)); break;
      case 7: GM_FIELD(r.read_uint(out.kernel_size)); break;
      case 8: GM_FIELD(r.read_bytes(id)); break;
      case 9: GM_FIELD(r.read_uint(out.initrd_size)); break;
      case 10:
        GM_FIELD(r.read_text(s));
        if (s.size() > kMaxCmdline) GM_FAIL(Refusal::malformed, "cmdline is %zu bytes, at most %zu allowed", s.size(), kMaxCmdline);
        for (size_t j = 0; j < s.size(); ++j)
          if (s[j] == 0) GM_FAIL(Refusal::malformed, "cmdline contains a NUL byte at %zu", j);
        out.cmdline = s;
        break;
      case 11:
        GM_FIELD(r.read_uint(out.memory_mib));
        if (out.memory_mib == 0 || out.memory_mib > kMaxGuestMemoryMib)
          GM_FAIL(Refusal::malformed, "memory_mib %llu is outside 1..%llu", static_cast<unsigned long long>(out.memory_mib),
                  static_cast<unsigned long long>(kMaxGuestMemoryMib));
        break;
    }
#undef GM_FIELD
  }
  static constexpr uint64_t kRequired[] = {1, 2, 3, 4, 5, 6, 7, 10, 11};
  for (uint64_t k : kRequired)
    if (!m.seen(k)) GM_FAIL(Refusal::malformed, "missing key %llu (%s)", static_cast<unsigned long long>(k), kFields[k]);
  if (m.seen(8) != m.seen(9)) GM_FAIL(Refusal::malformed, "initrd_digest (8) and initrd_size (9) must appear together");
  if (!r.at_end()) GM_FAIL(Refusal::malformed, "%zu trailing bytes after the map", r.rest().size());
  const size_t ds = digest_size(out.digest_alg);
  if (kd.size() != ds) GM_FAIL(Refusal::malformed, "kernel_digest is %zu bytes, %s needs %zu", kd.size(), hash_alg_name(out.digest_alg), ds);
  for (size_t j = 0; j < ds; ++j) out.kernel_digest[j] = kd[j];
  if (m.seen(8)) {
    if (id.size() != ds) GM_FAIL(Refusal::malformed, "initrd_digest is %zu bytes, %s needs %zu", id.size(), hash_alg_name(out.digest_alg), ds);
    for (size_t j = 0; j < ds; ++j) out.initrd_digest[j] = id[j];
    out.has_initrd = true;
  }
  return Status::ok();
}

Status verify_guest_manifest(const LaunchPolicy& policy, std::span<const uint8_t> cose, GuestManifest& out, VerifiedChain& chain,
                             Refusal& why) {
  out = GuestManifest{};
  chain.count = 0;
  why = Refusal::none;
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose, msg);
  if (!st) return fail(why, st.code() == Err::unsupported ? Refusal::unsupported : Refusal::malformed, st);
  X5Chain x;
  REDOUBT_TRY(find_x5chain(cose, msg, x, why));
  if (msg.kid.size() != 32) GM_FAIL(Refusal::malformed, "kid (label 4) must be the 32-byte SHA-256 of the leaf's SubjectPublicKeyInfo");

  st = verify_chain(policy.chain_policy(), {x.certs, x.count}, chain, why);
  // "<refusal>: guest-manifest: <detail>", the form of every other refusal here.
  if (!st) return refuse(why, why, "guest-manifest", Status::fail(st.code(), "%s", without_refusal_prefix(st.message(), why)));
  chain.x5chain = x.raw;

  if (!bytes_equal(msg.kid, chain.leaf_spki_sha256)) {
    chain.count = 0;
    char got[17], leaf[17];
    to_hex(msg.kid.data(), 8, got);
    to_hex(chain.leaf_spki_sha256, 8, leaf);
    GM_FAIL(Refusal::signer_not_in_chain, "signed by key %s…, which is not the leaf certificate's key %s…", got, leaf);
  }
  st = verify_signature(msg, chain.leaf, why);
  if (!st) {
    chain.count = 0;
    return st;
  }
  st = guest_manifest_decode(msg.payload, out, why);
  if (!st) chain.count = 0;
  return st;
}

Status check_image_digests(const GuestManifest& m, std::span<const uint8_t> kernel, std::span<const uint8_t> initrd, Refusal& why) {
  why = Refusal::none;
  REDOUBT_TRY(check_digest("kernel", m.digest_alg, m.kernel_digest, m.kernel_size, kernel, why));
  if (!m.has_initrd) {
    if (!initrd.empty()) GM_FAIL(Refusal::digest_mismatch, "an initrd of %zu bytes was supplied but the manifest signs none", initrd.size());
    return Status::ok();
  }
  return check_digest("initrd", m.digest_alg, m.initrd_digest, m.initrd_size, initrd, why);
}

Status check_guest_svn(const GuestManifest& m, uint64_t minimum, Refusal& why) {
  why = Refusal::none;
  if (m.svn < minimum)
    GM_FAIL(Refusal::rollback, "guest \"%s\" SVN %llu is below the policy's minimum %llu", m.name, static_cast<unsigned long long>(m.svn),
            static_cast<unsigned long long>(minimum));
  return Status::ok();
}

Status check_unsigned_guest(const LaunchPolicy& policy, Refusal& why) {
  why = Refusal::none;
  if (policy.unsigned_guests != UnsignedGuests::allow_unmeasured)
    GM_FAIL(Refusal::unsigned_guest, "the guest has no signed manifest and launch policy \"%s\" refuses unsigned guests", policy.name);
  return Status::ok();
}

Status verify_guest(const LaunchPolicy& policy, std::span<const uint8_t> cose, std::span<const uint8_t> kernel,
                    std::span<const uint8_t> initrd, GuestManifest& out, VerifiedChain& chain, Refusal& why) {
  REDOUBT_TRY(verify_guest_manifest(policy, cose, out, chain, why));
  REDOUBT_TRY(check_image_digests(out, kernel, initrd, why));
  const std::span<const uint8_t> name(reinterpret_cast<const uint8_t*>(out.name), __builtin_strlen(out.name));
  return check_guest_svn(out, policy_min_svn(policy, name), why);
}

}  // namespace redoubt::policy
