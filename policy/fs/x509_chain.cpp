#include "policy/fs/x509_chain.hpp"

#include <bearssl.h>

#include "policy/fs/der.hpp"
#include "policy/fs/hash.hpp"

namespace redoubt::policy {

const char* refusal_name(Refusal r) {
  switch (r) {
    case Refusal::none: return "none";
    case Refusal::malformed: return "malformed";
    case Refusal::over_cap: return "over_cap";
    case Refusal::unsupported: return "unsupported";
    case Refusal::unknown_root: return "unknown_root";
    case Refusal::missing_intermediate: return "missing_intermediate";
    case Refusal::not_ca: return "not_ca";
    case Refusal::path_length: return "path_length";
    case Refusal::wrong_key_usage: return "wrong_key_usage";
    case Refusal::wrong_eku: return "wrong_eku";
    case Refusal::profile: return "profile";
    case Refusal::critical_extension: return "critical_extension";
    case Refusal::weak_key: return "weak_key";
    case Refusal::revoked_leaf: return "revoked_leaf";
    case Refusal::revoked_intermediate: return "revoked_intermediate";
    case Refusal::not_yet_valid: return "not_yet_valid";
    case Refusal::expired: return "expired";
    case Refusal::bad_cert_signature: return "bad_cert_signature";
    case Refusal::signer_not_in_chain: return "signer_not_in_chain";
    case Refusal::bad_signature: return "bad_signature";
    case Refusal::digest_mismatch: return "digest_mismatch";
    case Refusal::rollback: return "rollback";
    case Refusal::unsigned_guest: return "unsigned_guest";
    case Refusal::policy_signature: return "policy_signature";
  }
  return "unknown";
}

const char* without_refusal_prefix(const char* msg, Refusal r) {
  const char* name = refusal_name(r);
  size_t i = 0;
  while (name[i] && msg[i] == name[i]) ++i;
  if (name[i] == 0 && msg[i] == ':' && msg[i + 1] == ' ') return msg + i + 2;
  return msg;
}

Status refuse(Refusal& why, Refusal r, const char* module, const Status& st) {
  why = r;
  return Status::fail(refusal_err(r), "%s: %s: %s", refusal_name(r), module, st.message());
}

Err refusal_err(Refusal r) {
  switch (r) {
    case Refusal::none: return Err::ok;
    case Refusal::malformed:
    case Refusal::over_cap: return Err::malformed;
    case Refusal::unsupported:
    case Refusal::critical_extension: return Err::unsupported;
    case Refusal::bad_signature:
    case Refusal::bad_cert_signature:
    case Refusal::policy_signature: return Err::bad_signature;
    case Refusal::digest_mismatch: return Err::digest_mismatch;
    case Refusal::rollback: return Err::rollback;
    default: return Err::wrong_key;  // an authority we do not trust for this
  }
}

CertProfile default_profile(std::span<const uint8_t> eku_oid) {
  CertProfile p;
  for (size_t i = 0; i < eku_oid.size() && i < kMaxOidLen; ++i) p.eku[i] = eku_oid[i];
  p.eku_len = eku_oid.size() < kMaxOidLen ? eku_oid.size() : kMaxOidLen;
  p.max_intermediates = kMaxChain - 1;
  p.leaf_key_usage = kKuDigitalSignature;
  p.ca_key_usage = kKuKeyCertSign;
  p.min_rsa_bits = 2048;
  return p;
}

namespace {

// OID content octets (X.690 §8.19).
constexpr uint8_t kOidBc[] = {0x55, 0x1d, 0x13};       // 2.5.29.19 basicConstraints
constexpr uint8_t kOidKu[] = {0x55, 0x1d, 0x0f};       // 2.5.29.15 keyUsage
constexpr uint8_t kOidEku[] = {0x55, 0x1d, 0x25};      // 2.5.29.37 extKeyUsage
constexpr uint8_t kOidSki[] = {0x55, 0x1d, 0x0e};      // 2.5.29.14 subjectKeyIdentifier
constexpr uint8_t kOidAki[] = {0x55, 0x1d, 0x23};      // 2.5.29.35 authorityKeyIdentifier
constexpr uint8_t kOidSan[] = {0x55, 0x1d, 0x11};      // 2.5.29.17 subjectAltName
constexpr uint8_t kOidRsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};  // rsaEncryption
constexpr uint8_t kOidEc[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};             // id-ecPublicKey
constexpr uint8_t kOidP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};     // prime256v1
constexpr uint8_t kOidP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};                       // secp384r1

Status bad(Refusal& why, Refusal r, const Status& st) {
  why = r;
  return st;
}

#define X509_FAIL(r, ...) return bad(why, (r), Status::fail(refusal_err(r), __VA_ARGS__))

#define X509_TRY(expr)                                                                      \
  do {                                                                                      \
    ::redoubt::Status _s = (expr);                                                          \
    if (!_s) X509_FAIL(Refusal::malformed, "malformed: certificate: %s", _s.message());     \
  } while (0)

std::span<const uint8_t> strip_zeros(std::span<const uint8_t> v) {
  size_t i = 0;
  while (i + 1 < v.size() && v[i] == 0) ++i;
  return v.subspan(i);
}

uint32_t bit_length(std::span<const uint8_t> v) {
  if (v.empty()) return 0;
  uint32_t b = static_cast<uint32_t>(v.size() - 1) * 8;
  for (uint8_t x = v[0]; x; x >>= 1) ++b;
  return b;
}

Status parse_spki(const DerItem& spki, X509Cert& c, Refusal& why) {
  DerReader r(spki.body);
  DerItem alg, bits, oid, param;
  X509_TRY(r.expect(der::kSequence, alg, "spki algorithm"));
  X509_TRY(r.expect(der::kBitString, bits, "spki key"));
  if (!r.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in SubjectPublicKeyInfo");
  if (bits.body.empty() || bits.body[0] != 0) X509_FAIL(Refusal::malformed, "malformed: certificate: public key BIT STRING has unused bits");
  const auto key = bits.body.subspan(1);
  DerReader a(alg.body);
  X509_TRY(a.expect(der::kOid, oid, "spki algorithm oid"));
  if (bytes_equal(oid.body, kOidRsa)) {
    DerItem seq, n, e;
    DerReader k(key);
    X509_TRY(k.expect(der::kSequence, seq, "RSAPublicKey"));
    DerReader kk(seq.body);
    X509_TRY(kk.expect(der::kInteger, n, "RSA modulus"));
    X509_TRY(kk.expect(der::kInteger, e, "RSA exponent"));
    if (n.body.empty() || e.body.empty() || (n.body[0] & 0x80) || (e.body[0] & 0x80))
      X509_FAIL(Refusal::malformed, "malformed: certificate: negative or empty RSA key component");
    c.key = KeyKind::rsa;
    c.rsa_n = strip_zeros(n.body);
    c.rsa_e = strip_zeros(e.body);
    c.key_bits = bit_length(c.rsa_n);
    if (c.rsa_n.size() > 512 || c.rsa_e.size() > 8)  // BR_X509_BUFSIZE_KEY: RSA-4096 at most
      X509_FAIL(Refusal::unsupported, "unsupported: RSA key of %u bits (at most 4096)", c.key_bits);
    return Status::ok();
  }
  if (bytes_equal(oid.body, kOidEc)) {
    X509_TRY(a.expect(der::kOid, param, "EC curve"));
    size_t plen;
    if (bytes_equal(param.body, kOidP256)) {
      c.curve = BR_EC_secp256r1;
      plen = 65;
      c.key_bits = 256;
    } else if (bytes_equal(param.body, kOidP384)) {
      c.curve = BR_EC_secp384r1;
      plen = 97;
      c.key_bits = 384;
    } else {
      X509_FAIL(Refusal::unsupported, "unsupported: EC curve is not P-256 or P-384");
    }
    if (key.size() != plen || key[0] != 0x04) X509_FAIL(Refusal::malformed, "malformed: certificate: EC point is not an uncompressed SEC1 point");
    c.key = KeyKind::ec;
    c.ec_q = key;
    return Status::ok();
  }
  X509_FAIL(Refusal::unsupported, "unsupported: public key algorithm is not RSA or EC");
}

Status parse_extension(const DerItem& ext, X509Cert& c, Refusal& why) {
  DerReader r(ext.body);
  DerItem oid, crit, val;
  X509_TRY(r.expect(der::kOid, oid, "extension id"));
  bool critical = false;
  if (r.peek(der::kBoolean)) {
    X509_TRY(r.next(crit));
    if (crit.body.size() != 1 || crit.body[0] != 0xff)  // DER: only TRUE is encoded (DEFAULT FALSE)
      X509_FAIL(Refusal::malformed, "malformed: certificate: extension critical flag is not DER TRUE");
    critical = true;
  }
  X509_TRY(r.expect(der::kOctetString, val, "extension value"));
  if (!r.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in an extension");
  DerReader v(val.body);
  DerItem item;
  if (bytes_equal(oid.body, kOidBc)) {
    if (c.has_bc) X509_FAIL(Refusal::malformed, "malformed: certificate: duplicate basicConstraints");
    c.has_bc = true;
    c.bc_critical = critical;
    X509_TRY(v.expect(der::kSequence, item, "basicConstraints"));
    DerReader b(item.body);
    DerItem f;
    if (b.peek(der::kBoolean)) {
      X509_TRY(b.next(f));
      if (f.body.size() != 1 || f.body[0] != 0xff) X509_FAIL(Refusal::malformed, "malformed: certificate: cA is not DER TRUE");
      c.ca = true;
    }
    if (b.peek(der::kInteger)) {
      X509_TRY(b.next(f));
      if (f.body.empty() || f.body.size() > 2 || (f.body[0] & 0x80))
        X509_FAIL(Refusal::malformed, "malformed: certificate: pathLenConstraint out of range");
      c.path_len = f.body.size() == 1 ? f.body[0] : static_cast<uint32_t>(f.body[0] << 8 | f.body[1]);
      c.has_path_len = true;
    }
    if (!b.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in basicConstraints");
  } else if (bytes_equal(oid.body, kOidKu)) {
    if (c.has_ku) X509_FAIL(Refusal::malformed, "malformed: certificate: duplicate keyUsage");
    c.has_ku = true;
    X509_TRY(v.expect(der::kBitString, item, "keyUsage"));
    if (item.body.empty() || item.body[0] > 7 || (item.body.size() == 1 && item.body[0] != 0))
      X509_FAIL(Refusal::malformed, "malformed: certificate: keyUsage BIT STRING");
    for (size_t i = 0; i < 9 && 1 + i / 8 < item.body.size(); ++i)
      if (item.body[1 + i / 8] & (0x80 >> (i % 8))) c.ku |= static_cast<uint16_t>(1u << i);
  } else if (bytes_equal(oid.body, kOidEku)) {
    if (c.has_eku) X509_FAIL(Refusal::malformed, "malformed: certificate: duplicate extKeyUsage");
    c.has_eku = true;
    X509_TRY(v.expect(der::kSequence, item, "extKeyUsage"));
    DerReader e(item.body);
    DerItem o;
    while (!e.at_end()) X509_TRY(e.expect(der::kOid, o, "extKeyUsage purpose"));
    c.eku = item.body;
  } else if (bytes_equal(oid.body, kOidSki) || bytes_equal(oid.body, kOidAki)) {
    bool& has = bytes_equal(oid.body, kOidSki) ? c.has_ski : c.has_aki;
    if (has) X509_FAIL(Refusal::malformed, "malformed: certificate: duplicate key identifier extension");
    has = true;
    // RFC 5280 §4.2.1.1/2: MUST be non-critical; OpenSSL does not handle them critical either.
    if (critical && c.critical_unknown.empty()) c.critical_unknown = oid.body;
    return Status::ok();
  } else if (bytes_equal(oid.body, kOidSan)) {
    return Status::ok();  // names are not part of the guest profile
  } else if (critical && c.critical_unknown.empty()) {
    c.critical_unknown = oid.body;
    return Status::ok();
  } else {
    return Status::ok();
  }
  if (!v.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in an extension value");
  return Status::ok();
}

bool name_empty(std::span<const uint8_t> name) {
  DerReader r(name);
  DerItem seq;
  return !r.next(seq) || seq.body.empty();
}

}  // namespace

Status x509_parse(std::span<const uint8_t> der_bytes, X509Cert& c, Refusal& why) {
  c = X509Cert{};
  why = Refusal::none;
  if (der_bytes.size() > kMaxCertSize)
    X509_FAIL(Refusal::over_cap, "over_cap: certificate is %zu bytes, the cap kMaxCertSize is %zu", der_bytes.size(), kMaxCertSize);
  DerReader top(der_bytes);
  DerItem cert, tbs, sigalg, sig, f;
  X509_TRY(top.expect(der::kSequence, cert, "Certificate"));
  if (!top.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: %zu trailing bytes", der_bytes.size() - top.offset());
  c.der = der_bytes;
  DerReader cr(cert.body);
  X509_TRY(cr.expect(der::kSequence, tbs, "tbsCertificate"));
  X509_TRY(cr.expect(der::kSequence, sigalg, "signatureAlgorithm"));
  X509_TRY(cr.expect(der::kBitString, sig, "signatureValue"));
  if (!cr.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes after signatureValue");
  c.tbs = tbs.whole;
  c.sig_alg = sigalg.whole;

  DerReader t(tbs.body);
  if (!t.peek(der::kCtx0)) X509_FAIL(Refusal::unsupported, "unsupported: certificate is not X.509 v3 (no version field)");
  X509_TRY(t.next(f));
  {
    DerReader vr(f.body);
    DerItem v;
    X509_TRY(vr.expect(der::kInteger, v, "version"));
    if (v.body.size() != 1 || v.body[0] != 2 || !vr.at_end()) X509_FAIL(Refusal::unsupported, "unsupported: certificate is not X.509 v3");
  }
  X509_TRY(t.expect(der::kInteger, f, "serialNumber"));
  if (f.body.empty() || f.body.size() > 21) X509_FAIL(Refusal::malformed, "malformed: certificate: serialNumber of %zu bytes", f.body.size());
  c.serial = f.body;
  X509_TRY(t.expect(der::kSequence, f, "signature"));
  if (!bytes_equal(f.whole, c.sig_alg))  // RFC 5280 §4.1.1.2
    X509_FAIL(Refusal::malformed, "malformed: certificate: tbsCertificate.signature differs from signatureAlgorithm");
  X509_TRY(t.expect(der::kSequence, f, "issuer"));
  c.issuer = f.whole;
  X509_TRY(t.expect(der::kSequence, f, "validity"));
  {
    DerReader vr(f.body);
    DerItem nb, na;
    X509_TRY(vr.next(nb));
    X509_TRY(vr.next(na));
    if (!vr.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in validity");
    X509_TRY(der_time(nb, c.nb_days, c.nb_secs));
    X509_TRY(der_time(na, c.na_days, c.na_secs));
  }
  X509_TRY(t.expect(der::kSequence, f, "subject"));
  c.subject = f.whole;
  c.self_issued = bytes_equal(c.issuer, c.subject);
  X509_TRY(t.expect(der::kSequence, f, "subjectPublicKeyInfo"));
  c.spki = f.whole;
  REDOUBT_TRY(parse_spki(f, c, why));
  // issuerUniqueID [1] / subjectUniqueID [2] (RFC 5280 §4.1.2.8): CAs MUST NOT generate them.
  if (t.peek(0x81) || t.peek(0x82) || t.peek(0xa1) || t.peek(0xa2))
    X509_FAIL(Refusal::unsupported, "unsupported: certificate carries unique identifiers");
  if (!t.peek(der::kCtx3)) X509_FAIL(Refusal::profile, "profile: certificate has no extensions");
  X509_TRY(t.next(f));
  if (!t.at_end()) X509_FAIL(Refusal::malformed, "malformed: certificate: trailing bytes in tbsCertificate");
  DerReader er(f.body);
  DerItem exts, ext;
  X509_TRY(er.expect(der::kSequence, exts, "extensions"));
  if (!er.at_end() || exts.body.empty()) X509_FAIL(Refusal::malformed, "malformed: certificate: extensions field");
  DerReader el(exts.body);
  size_t n = 0;
  while (!el.at_end()) {
    X509_TRY(el.expect(der::kSequence, ext, "extension"));
    if (++n > 32) X509_FAIL(Refusal::over_cap, "over_cap: certificate has more than 32 extensions");
    REDOUBT_TRY(parse_extension(ext, c, why));
  }
  return Status::ok();
}

bool x509_has_eku(const X509Cert& c, std::span<const uint8_t> oid) {
  if (!c.has_eku) return false;
  DerReader r(c.eku);
  DerItem o;
  while (!r.at_end()) {
    if (!r.expect(der::kOid, o, "eku")) return false;
    if (bytes_equal(o.body, oid)) return true;
  }
  return false;
}

namespace {

struct Named {
  char cn[48];
  explicit Named(const X509Cert& c) { der_name_cn(c.subject, cn, sizeof cn); }
};

void sha256(std::span<const uint8_t> d, uint8_t out[32]) {
  Digest h = hash(HashAlg::sha256, d);
  for (int i = 0; i < 32; ++i) out[i] = h.bytes[i];
}

bool revoked(const ChainPolicy& pol, const X509Cert& c) {
  uint8_t spki[32], iss[32];
  sha256(c.spki, spki);
  sha256(c.issuer, iss);
  for (size_t i = 0; i < pol.revocation_count; ++i) {
    const Revocation& r = pol.revocations[i];
    if (r.kind == Revocation::by_spki && bytes_equal(r.digest, spki)) return true;
    if (r.kind == Revocation::by_serial && bytes_equal(r.digest, iss) && bytes_equal({r.serial, r.serial_len}, c.serial)) return true;
  }
  return false;
}

// Validity against the policy time: notBefore <= now <= notAfter (RFC 5280 §4.1.2.5).
Status check_time(const X509Cert& c, uint32_t days, uint32_t secs, const char* role, Refusal& why) {
  const uint64_t now = static_cast<uint64_t>(days) * 86400 + secs;
  if (static_cast<uint64_t>(c.nb_days) * 86400 + c.nb_secs > now)
    X509_FAIL(Refusal::not_yet_valid, "not_yet_valid: %s \"%s\" is not valid before day %u (policy time is day %u)", role, Named(c).cn,
              c.nb_days - kUnixEpochDays, days - kUnixEpochDays);
  if (static_cast<uint64_t>(c.na_days) * 86400 + c.na_secs < now)
    X509_FAIL(Refusal::expired, "expired: %s \"%s\" expired on day %u (policy time is day %u)", role, Named(c).cn,
              c.na_days - kUnixEpochDays, days - kUnixEpochDays);
  return Status::ok();
}

// Profile rules for certificate `c` at position `depth` on the path (0 = leaf;
// anchors are at depth count). RFC 5280 §4.2.1.x and OpenSSL's X509_V_FLAG_X509_STRICT.
Status check_profile(const ChainPolicy& pol, const X509Cert& c, size_t depth, bool is_anchor, bool last_before_anchor, const char* role,
                     Refusal& why) {
  const CertProfile& p = *pol.profile;
  if (!c.critical_unknown.empty())
    X509_FAIL(Refusal::critical_extension, "critical_extension: %s \"%s\" has an unsupported critical extension", role, Named(c).cn);
  if (c.key == KeyKind::rsa && c.key_bits < p.min_rsa_bits)
    X509_FAIL(Refusal::weak_key, "weak_key: %s \"%s\" has a %u-bit RSA key, the policy requires %u", role, Named(c).cn, c.key_bits,
              p.min_rsa_bits);
  if (name_empty(c.subject) || name_empty(c.issuer))
    X509_FAIL(Refusal::profile, "profile: %s has an empty subject or issuer name", role);
  if (depth == 0) {
    if (!c.has_ku || (c.ku & p.leaf_key_usage) != p.leaf_key_usage)
      X509_FAIL(Refusal::wrong_key_usage, "wrong_key_usage: leaf \"%s\" keyUsage %s 0x%x lacks the required 0x%x (digitalSignature)",
                Named(c).cn, c.has_ku ? "=" : "absent,", c.ku, p.leaf_key_usage);
    if (!x509_has_eku(c, p.eku_oid()))
      X509_FAIL(Refusal::wrong_eku, "wrong_eku: leaf \"%s\" %s the guest-signing extendedKeyUsage", Named(c).cn,
                c.has_eku ? "does not list" : "has no extendedKeyUsage, so not");
    if (!c.ca && (c.has_path_len || (c.ku & kKuKeyCertSign)))
      X509_FAIL(Refusal::profile, "profile: leaf \"%s\" is not a CA but has pathLenConstraint or keyCertSign", Named(c).cn);
  } else {
    if (!c.has_bc || !c.ca)
      X509_FAIL(Refusal::not_ca, "not_ca: %s \"%s\" issues certificates but has no basicConstraints CA:TRUE", role, Named(c).cn);
    if (!c.has_ku)
      X509_FAIL(Refusal::wrong_key_usage, "wrong_key_usage: %s \"%s\" is a CA without a keyUsage extension", role, Named(c).cn);
    if ((c.ku & p.ca_key_usage) != p.ca_key_usage)
      X509_FAIL(Refusal::wrong_key_usage, "wrong_key_usage: %s \"%s\" keyUsage 0x%x lacks the required 0x%x (keyCertSign)", role,
                Named(c).cn, c.ku, p.ca_key_usage);
    // pathLenConstraint: the number of intermediates below this CA (RFC 5280 §4.2.1.9).
    if (c.has_path_len && depth - 1 > c.path_len)
      X509_FAIL(Refusal::path_length, "path_length: %s \"%s\" allows %u intermediate(s) below it, the chain has %zu", role, Named(c).cn,
                c.path_len, depth - 1);
  }
  if (c.ca && !c.bc_critical)  // RFC 5280 §4.2.1.9: MUST be critical in CA certificates
    X509_FAIL(Refusal::profile, "profile: CA \"%s\" has a non-critical basicConstraints", Named(c).cn);
  if ((depth > 0 || c.ca) && !c.has_ski) X509_FAIL(Refusal::profile, "profile: CA \"%s\" has no subjectKeyIdentifier", Named(c).cn);
  (void)last_before_anchor;
  if (!is_anchor && !c.self_issued && !c.has_aki)
    X509_FAIL(Refusal::profile, "profile: %s \"%s\" has no authorityKeyIdentifier", role, Named(c).cn);
  return Status::ok();
}

Refusal map_bearssl(int err) {
  switch (err) {
    case BR_ERR_X509_NOT_TRUSTED: return Refusal::unknown_root;
    case BR_ERR_X509_BAD_SIGNATURE:
    case BR_ERR_X509_WRONG_KEY_TYPE: return Refusal::bad_cert_signature;
    case BR_ERR_X509_EXPIRED: return Refusal::expired;
    case BR_ERR_X509_DN_MISMATCH: return Refusal::missing_intermediate;
    case BR_ERR_X509_NOT_CA: return Refusal::not_ca;
    case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return Refusal::wrong_key_usage;
    case BR_ERR_X509_CRITICAL_EXTENSION: return Refusal::critical_extension;
    case BR_ERR_X509_WEAK_PUBLIC_KEY: return Refusal::weak_key;
    case BR_ERR_X509_UNSUPPORTED:
    case BR_ERR_X509_LIMIT_EXCEEDED: return Refusal::unsupported;
    default: return Refusal::malformed;
  }
}

void set_pkey(const X509Cert& c, br_x509_pkey& k) {
  if (c.key == KeyKind::rsa) {
    k.key_type = BR_KEYTYPE_RSA;
    k.key.rsa.n = const_cast<unsigned char*>(c.rsa_n.data());
    k.key.rsa.nlen = c.rsa_n.size();
    k.key.rsa.e = const_cast<unsigned char*>(c.rsa_e.data());
    k.key.rsa.elen = c.rsa_e.size();
  } else {
    k.key_type = BR_KEYTYPE_EC;
    k.key.ec.curve = c.curve;
    k.key.ec.q = const_cast<unsigned char*>(c.ec_q.data());
    k.key.ec.qlen = c.ec_q.size();
  }
}

// BearSSL's pass over the chain: signatures, DN chaining, validity (the minimal engine).
Status bearssl_validate(const ChainPolicy& pol, std::span<const std::span<const uint8_t>> certs, size_t n, uint32_t days,
                        uint32_t secs, const X509Cert& ta, Refusal& why) {
  br_x509_trust_anchor tas[kMaxAnchors];
  for (size_t a = 0; a < pol.anchor_count; ++a) {
    tas[a].dn.data = const_cast<unsigned char*>(pol.anchors[a].subject.data());
    tas[a].dn.len = pol.anchors[a].subject.size();
    tas[a].flags = BR_X509_TA_CA;
    set_pkey(pol.anchors[a], tas[a].pkey);
  }
  br_x509_minimal_context xc;
  br_x509_minimal_init(&xc, &br_sha256_vtable, tas, pol.anchor_count);
  br_x509_minimal_set_hash(&xc, br_sha256_ID, &br_sha256_vtable);
  br_x509_minimal_set_hash(&xc, br_sha384_ID, &br_sha384_vtable);
  br_x509_minimal_set_hash(&xc, br_sha512_ID, &br_sha512_vtable);
  br_x509_minimal_set_rsa(&xc, br_rsa_i31_pkcs1_vrfy);
  // br_ec_get_default() is br_ec_all_m31 (p256_m31 + prime_i31): Debian's BearSSL 0.6 has no m62/m64.
  br_x509_minimal_set_ecdsa(&xc, br_ec_get_default(), br_ecdsa_i31_vrfy_asn1);
  br_x509_minimal_set_time(&xc, days, secs);
  br_x509_minimal_set_minrsa(&xc, static_cast<int>(pol.profile->min_rsa_bits / 8));
  const br_x509_class** vt = &xc.vtable;
  xc.vtable->start_chain(vt, nullptr);
  for (size_t i = 0; i < n; ++i) {
    xc.vtable->start_cert(vt, static_cast<uint32_t>(certs[i].size()));
    xc.vtable->append(vt, certs[i].data(), certs[i].size());
    xc.vtable->end_cert(vt);
  }
  const unsigned err = xc.vtable->end_chain(vt);
  if (err != BR_ERR_OK) {
    const Refusal r = map_bearssl(static_cast<int>(err));
    if (r == Refusal::unknown_root)
      X509_FAIL(r, "unknown_root: no trust anchor named \"%s\" signed certificate %zu (BearSSL error %u)", Named(ta).cn, n - 1, err);
    X509_FAIL(r, "%s: BearSSL X.509 validation failed with error %u", refusal_name(r), err);
  }
  return Status::ok();
}

// The memo key, in full: the policy time (8 bytes, big-endian), the anchor's SPKI as
// (32-bit big-endian length, DER), then each certificate the same way. KeyWriter
// either compares it with a stored key or writes it into an entry, piece by piece
// (no copy on the stack: the hypervisor's stack is small).
struct KeyWriter {
  uint8_t* out = nullptr;        // write mode: the entry
  const uint8_t* cmp = nullptr;  // compare mode: the stored key
  size_t cap = 0, len = 0;
  bool ok = true;                // fits (write) / equal so far (compare)
  void put(const uint8_t* p, size_t n) {
    if (!ok || n > cap - len) {
      ok = false;
      return;
    }
    if (out) {
      for (size_t i = 0; i < n; ++i) out[len + i] = p[i];
    } else if (!bytes_equal({cmp + len, n}, {p, n})) {
      ok = false;
      return;
    }
    len += n;
  }
  void put_len(size_t n) {
    const uint8_t l[4] = {uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
    put(l, sizeof l);
  }
};

void chain_memo_key(const ChainPolicy& pol, const X509Cert& ta, std::span<const std::span<const uint8_t>> certs, size_t n,
                    KeyWriter& w) {
  uint8_t t[8];
  for (int i = 0; i < 8; ++i) t[i] = uint8_t(pol.time >> (56 - 8 * i));
  w.put(t, sizeof t);
  w.put_len(ta.spki.size());
  w.put(ta.spki.data(), ta.spki.size());
  for (size_t i = 0; i < n; ++i) {
    w.put_len(certs[i].size());
    w.put(certs[i].data(), certs[i].size());
  }
}

bool chain_memo_find(const ChainMemo& m, const ChainPolicy& pol, const X509Cert& ta,
                     std::span<const std::span<const uint8_t>> certs, size_t n) {
  for (size_t e = 0; e < m.used; ++e) {
    KeyWriter w;
    w.cmp = m.key[e];
    w.cap = m.key_len[e];
    chain_memo_key(pol, ta, certs, n, w);
    if (w.ok && w.len == m.key_len[e]) return true;  // every byte equal, and nothing left over
  }
  return false;
}

void chain_memo_add(ChainMemo& m, const ChainPolicy& pol, const X509Cert& ta,
                    std::span<const std::span<const uint8_t>> certs, size_t n) {
  KeyWriter w;
  w.out = m.key[m.next];
  w.cap = ChainMemo::kEntryBytes;
  chain_memo_key(pol, ta, certs, n, w);
  if (!w.ok) return;  // too large to remember: verified every time
  m.key_len[m.next] = w.len;
  m.next = (m.next + 1) % ChainMemo::kEntries;
  if (m.used < ChainMemo::kEntries) ++m.used;
}

}  // namespace

Status verify_chain(const ChainPolicy& pol, std::span<const std::span<const uint8_t>> certs, VerifiedChain& out, Refusal& why) {
  why = Refusal::none;
  out.count = 0;
  if (!pol.profile || pol.anchor_count == 0) X509_FAIL(Refusal::unknown_root, "unknown_root: the policy has no trust anchors");
  if (pol.anchor_count > kMaxAnchors) X509_FAIL(Refusal::over_cap, "over_cap: %zu anchors, the cap kMaxAnchors is %zu", pol.anchor_count, kMaxAnchors);
  if (certs.empty()) X509_FAIL(Refusal::malformed, "malformed: empty certificate chain");
  if (certs.size() > kMaxChain)
    X509_FAIL(Refusal::over_cap, "over_cap: chain of %zu certificates, the cap kMaxChain is %zu", certs.size(), kMaxChain);

  X509Cert chain[kMaxChain];
  for (size_t i = 0; i < certs.size(); ++i) {
    Status st = x509_parse(certs[i], chain[i], why);
    if (!st) return Status::fail(st.code(), "certificate %zu: %s", i, st.message());
  }

  // Path: follow issuer names from the leaf until one names a policy anchor.
  size_t n = 0;
  bool found = false;
  for (size_t i = 0; i < certs.size() && !found; ++i) {
    const X509Cert& c = chain[i];
    for (size_t a = 0; a < pol.anchor_count; ++a)
      if (bytes_equal(c.issuer, pol.anchors[a].subject)) found = true;
    n = i + 1;
    if (found) break;
    char iss[48];
    der_name_cn(c.issuer, iss, sizeof iss);
    if (i + 1 < certs.size()) {
      if (!bytes_equal(chain[i + 1].subject, c.issuer))
        X509_FAIL(Refusal::missing_intermediate,
                  "missing_intermediate: certificate %zu \"%s\" is issued by \"%s\", but the next certificate is \"%s\"", i, Named(c).cn,
                  iss, Named(chain[i + 1]).cn);
    } else if (c.self_issued) {
      X509_FAIL(Refusal::unknown_root, "unknown_root: the chain ends at root \"%s\", which is not a trust anchor of the policy", iss);
    } else {
      X509_FAIL(Refusal::missing_intermediate,
                "missing_intermediate: issuer \"%s\" of certificate %zu \"%s\" is neither in the chain nor a trust anchor", iss, i, Named(c).cn);
    }
  }
  // Certificates after the path: only copies of the anchor are tolerated.
  for (size_t i = n; i < certs.size(); ++i) {
    bool is_anchor = false;
    for (size_t a = 0; a < pol.anchor_count; ++a) is_anchor = is_anchor || bytes_equal(certs[i], pol.anchors[a].der);
    if (is_anchor) continue;
    X509Cert extra;
    if (x509_parse(certs[i], extra, why) && extra.self_issued)
      X509_FAIL(Refusal::unknown_root, "unknown_root: the chain ends at root \"%s\", which is not the policy's anchor of that name",
                Named(extra).cn);
    X509_FAIL(Refusal::malformed, "malformed: certificate %zu is not on the path to the anchor", i);
  }
  if (n - 1 > pol.profile->max_intermediates)
    X509_FAIL(Refusal::path_length, "path_length: %zu intermediates, the policy allows %u", n - 1, pol.profile->max_intermediates);

  uint32_t days, secs;
  unix_to_days(pol.time, days, secs);
  // The anchor: the first with the issuer's name whose key verifies (BearSSL tries them all; see below).
  size_t anchor = pol.anchor_count;
  for (size_t a = 0; a < pol.anchor_count && anchor == pol.anchor_count; ++a)
    if (bytes_equal(chain[n - 1].issuer, pol.anchors[a].subject)) anchor = a;
  const X509Cert& ta = pol.anchors[anchor];

  for (size_t i = 0; i < n; ++i) {
    const char* role = i == 0 ? "leaf" : "intermediate";
    REDOUBT_TRY(check_time(chain[i], days, secs, role, why));
    REDOUBT_TRY(check_profile(pol, chain[i], i, false, i + 1 == n, role, why));
  }
  REDOUBT_TRY(check_time(ta, days, secs, "anchor", why));
  REDOUBT_TRY(check_profile(pol, ta, n, true, false, "anchor", why));
  for (size_t i = 0; i < n; ++i)
    if (revoked(pol, chain[i])) {
      if (i == 0) X509_FAIL(Refusal::revoked_leaf, "revoked_leaf: leaf \"%s\" is revoked by the launch policy", Named(chain[i]).cn);
      X509_FAIL(Refusal::revoked_intermediate, "revoked_intermediate: intermediate \"%s\" is revoked by the launch policy", Named(chain[i]).cn);
    }

  // Signatures, DN chaining and validity once more, by BearSSL (the minimal engine),
  // unless these very bytes already passed it under this policy (ChainMemo).
  if (pol.memo && chain_memo_find(*pol.memo, pol, ta, certs, n)) {
    ++pol.memo->hits;
  } else {
    REDOUBT_TRY(bearssl_validate(pol, certs, n, days, secs, ta, why));
    if (pol.memo) chain_memo_add(*pol.memo, pol, ta, certs, n);
  }

  out.count = n;
  for (size_t i = 0; i < n; ++i) out.certs[i] = certs[i];
  out.anchor_index = anchor;
  sha256(chain[0].spki, out.leaf_spki_sha256);
  sha256(ta.spki, out.anchor_spki_sha256);
  out.leaf = chain[0];
  return Status::ok();
}

}  // namespace redoubt::policy
