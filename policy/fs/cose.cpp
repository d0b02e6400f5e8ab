#include "policy/fs/cose.hpp"

#include <bearssl.h>

#include "platform/hal/format.hpp"
#include "policy/fs/cbor.hpp"
#include "policy/fs/hash.hpp"

namespace redoubt::policy {
namespace {

// COSE header labels, RFC 9052 §3.1 (Table 3).
constexpr int64_t kLabelAlg = 1;
constexpr int64_t kLabelCrit = 2;
constexpr int64_t kLabelKid = 4;

struct AlgInfo {
  CoseAlg alg;
  const char* name;
  HashAlg hash;
  int curve;        // BearSSL curve id, 0 for RSA
  size_t point_len; // SEC1 uncompressed point length
  size_t sig_len;   // raw r||s length (RFC 9053 §2.1)
};

// RFC 9053 §2.1 Table 1: ES256 = ECDSA w/ SHA-256 on P-256, ES384 = SHA-384 on P-384.
constexpr AlgInfo kAlgs[] = {
    {CoseAlg::es256, "ES256", HashAlg::sha256, BR_EC_secp256r1, 65, 64},
    {CoseAlg::es384, "ES384", HashAlg::sha384, BR_EC_secp384r1, 97, 96},
    {CoseAlg::rs256, "RS256", HashAlg::sha256, 0, 0, 0},  // RFC 8812 §2
};

const AlgInfo* alg_info(int64_t v) {
  for (const auto& a : kAlgs)
    if (static_cast<int64_t>(a.alg) == v) return &a;
  return nullptr;
}

struct Header {
  bool has_alg = false;
  int64_t alg = 0;
  bool has_kid = false;
  std::span<const uint8_t> kid;
};

// Reads one header map (RFC 9052 §3). Labels must be unique within the map and
// across the protected/unprotected buckets (RFC 9052 §3, "MUST NOT appear in both").
Status read_header_map(CborReader& r, bool is_protected, Header& h, const Header* other) {
  const char* where = is_protected ? "protected" : "unprotected";
  uint64_t n;
  Status st = r.read_map(n);
  if (!st) return Status::fail(Err::malformed, "cose: %s header: %s", where, st.message());
  for (uint64_t i = 0; i < n; ++i) {
    CborType t;
    REDOUBT_TRY(r.peek_type(t));
    if (t != CborType::uint && t != CborType::nint) {
      // Text labels are private-use/registered strings; none concern us (RFC 9052 §3).
      REDOUBT_TRY(r.skip());
      REDOUBT_TRY(r.skip());
      continue;
    }
    int64_t label;
    const size_t at = r.offset();
    REDOUBT_TRY(r.read_int(label));
    if (label == kLabelAlg) {
      if (h.has_alg || (other && other->has_alg))
        return Status::fail(Err::malformed, "cose: duplicate alg (label 1) in %s header at offset %zu", where, at);
      if (!is_protected)  // RFC 9052 §3.1: alg must be protected for us (it is signed)
        return Status::fail(Err::malformed, "cose: alg (label 1) in unprotected header at offset %zu", at);
      st = r.read_int(h.alg);
      if (!st) return Status::fail(Err::malformed, "cose: alg is not an integer: %s", st.message());
      h.has_alg = true;
    } else if (label == kLabelKid) {
      if (h.has_kid || (other && other->has_kid))
        return Status::fail(Err::malformed, "cose: duplicate kid (label 4) in %s header at offset %zu", where, at);
      st = r.read_bytes(h.kid);
      if (!st) return Status::fail(Err::malformed, "cose: kid is not a byte string: %s", st.message());
      h.has_kid = true;
    } else if (label == kLabelCrit) {
      // RFC 9052 §3.1: crit lists labels the recipient must understand; we
      // understand none beyond alg/kid, so a crit header is refused.
      return Status::fail(Err::unsupported, "cose: critical header parameters (label 2) not supported");
    } else {
      REDOUBT_TRY(r.skip());
    }
  }
  return Status::ok();
}

}  // namespace

const char* cose_alg_name(CoseAlg a) {
  const AlgInfo* i = alg_info(static_cast<int64_t>(a));
  return i ? i->name : "unknown";
}

void key_id(const PublicKey& k, uint8_t out[32]) {
  Digest d = hash(HashAlg::sha256, k.bytes());
  for (int i = 0; i < 32; ++i) out[i] = d.bytes[i];
}

// RFC 9052 §4.2: COSE_Sign1 = [protected: bstr .cbor header_map, unprotected:
// header_map, payload: bstr / nil, signature: bstr], optionally tagged 18 (§2).
Status cose_sign1_parse(std::span<const uint8_t> msg, CoseSign1& out) {
  out = CoseSign1{};
  if (msg.empty()) return Status::fail(Err::malformed, "cose: empty message");
  CborReader r(msg);
  CborType t;
  REDOUBT_TRY(r.peek_type(t));
  if (t == CborType::tag) {
    uint64_t tag;
    REDOUBT_TRY(r.read_tag(tag));
    if (tag != kCoseSign1Tag)
      return Status::fail(Err::malformed, "cose: tag %llu is not COSE_Sign1 (18)", static_cast<unsigned long long>(tag));
  }
  uint64_t n;
  Status st = r.read_array(n);
  if (!st) return Status::fail(Err::malformed, "cose: not a COSE_Sign1 array: %s", st.message());
  if (n != 4) return Status::fail(Err::malformed, "cose: COSE_Sign1 array has %llu elements, expected 4", static_cast<unsigned long long>(n));

  st = r.read_bytes(out.protected_bstr);
  if (!st) return Status::fail(Err::malformed, "cose: protected header: %s", st.message());
  Header prot;
  if (out.protected_bstr.empty())  // RFC 9052 §3: empty protected = h''; we need alg there
    return Status::fail(Err::malformed, "cose: empty protected header (alg missing)");
  CborReader pr(out.protected_bstr);
  REDOUBT_TRY(read_header_map(pr, true, prot, nullptr));
  if (!pr.at_end())
    return Status::fail(Err::malformed, "cose: %zu trailing bytes in protected header", pr.rest().size());
  Header unprot;
  REDOUBT_TRY(read_header_map(r, false, unprot, &prot));

  if (!prot.has_alg) return Status::fail(Err::malformed, "cose: protected header has no alg (label 1)");
  const AlgInfo* ai = alg_info(prot.alg);
  if (!ai) return Status::fail(Err::unsupported, "cose: unsupported alg %lld", static_cast<long long>(prot.alg));
  out.alg = ai->alg;
  out.kid = prot.has_kid ? prot.kid : unprot.kid;

  REDOUBT_TRY(r.peek_type(t));
  if (t == CborType::simple)  // nil = detached payload (RFC 9052 §4.1)
    return Status::fail(Err::unsupported, "cose: detached payload not supported");
  st = r.read_bytes(out.payload);
  if (!st) return Status::fail(Err::malformed, "cose: payload: %s", st.message());
  st = r.read_bytes(out.signature);
  if (!st) return Status::fail(Err::malformed, "cose: signature: %s", st.message());
  if (ai->sig_len != 0 && out.signature.size() != ai->sig_len)
    return Status::fail(Err::malformed, "cose: %s signature is %zu bytes, expected %zu", ai->name, out.signature.size(), ai->sig_len);
  if (ai->sig_len == 0 && out.signature.empty()) return Status::fail(Err::malformed, "cose: empty signature");
  if (!r.at_end()) return Status::fail(Err::malformed, "cose: %zu trailing bytes after COSE_Sign1 at offset %zu", r.rest().size(), r.offset());
  return Status::ok();
}

namespace {

void hex8(std::span<const uint8_t> b, char out[9]) {
  to_hex(b.data(), b.size() < 4 ? b.size() : 4, out);
}

}  // namespace

Status cose_sign1_verify(const CoseSign1& msg, const PublicKey& key) {
  const AlgInfo* ai = alg_info(static_cast<int64_t>(msg.alg));
  const AlgInfo* ki = alg_info(static_cast<int64_t>(key.alg));
  if (!ai || !ki) return Status::fail(Err::unsupported, "cose: unsupported alg");
  if (ai != ki) return Status::fail(Err::wrong_key, "cose: message is %s but the key is %s", ai->name, ki->name);
  if (ai->curve == 0) return Status::fail(Err::unsupported, "cose: %s verification not implemented", ai->name);
  if (key.sec1_len != ai->point_len || key.sec1[0] != 0x04)
    return Status::fail(Err::malformed, "cose: %s key must be a %zu-byte uncompressed SEC1 point, got %zu bytes", ki->name,
                        ai->point_len, key.sec1_len);
  if (!msg.kid.empty()) {
    uint8_t id[32];
    key_id(key, id);
    bool same = msg.kid.size() == 32;
    for (size_t i = 0; same && i < 32; ++i) same = msg.kid[i] == id[i];
    if (!same) {
      char got[9], want[9];
      hex8(msg.kid, got);
      hex8({id, 32}, want);
      return Status::fail(Err::wrong_key, "cose: signed by key %s…, expected %s…", got, want);
    }
  }
  if (msg.signature.size() != ai->sig_len)
    return Status::fail(Err::malformed, "cose: %s signature is %zu bytes, expected %zu", ai->name, msg.signature.size(), ai->sig_len);

  const Digest d = cose_sig_structure_digest(msg, ai->hash);

  br_ec_public_key pk;
  pk.curve = ai->curve;
  pk.q = const_cast<unsigned char*>(key.sec1);
  pk.qlen = key.sec1_len;
  // P-256 on BearSSL's p256_m31 takes ~2x fewer instructions than the generic prime_i31 (the SL's
  // manifest check: 22 M -> 10 M interpreted); P-384/P-521 stay on prime_i31. Not br_ec_all_m31: it
  // would link Curve25519 into sl2.bin for nothing (+13 KiB for stage 1 to hash).
  const br_ec_impl* ec = ai->curve == BR_EC_secp256r1 ? &br_ec_p256_m31 : &br_ec_prime_i31;
  // RFC 9053 §2.1: the signature is r||s, each the curve order's byte length.
  if (br_ecdsa_i31_vrfy_raw(ec, d.bytes, d.size(), &pk, msg.signature.data(), msg.signature.size()) != 1) {
    char want[9];
    uint8_t id[32];
    key_id(key, id);
    hex8({id, 32}, want);
    return Status::fail(Err::bad_signature, "cose: %s signature does not verify with key %s…", ai->name, want);
  }
  return Status::ok();
}

namespace {
// Feeds a CBOR head in shortest form (RFC 8949 §4.2.1) into the hasher.
void hash_head(Hasher& h, uint8_t major, uint64_t arg) {
  uint8_t b[9];
  size_t n;
  if (arg < 24) {
    b[0] = static_cast<uint8_t>(major << 5 | arg);
    n = 1;
  } else {
    size_t w = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffULL ? 4 : 8;
    b[0] = static_cast<uint8_t>(major << 5 | (w == 1 ? 24 : w == 2 ? 25 : w == 4 ? 26 : 27));
    for (size_t i = 0; i < w; ++i) b[1 + i] = static_cast<uint8_t>(arg >> (8 * (w - 1 - i)));
    n = 1 + w;
  }
  h.update(b, n);
}
}  // namespace

// RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload],
// hashed as it is encoded, without building it in memory.
Digest cose_sig_structure_digest(const CoseSign1& msg, HashAlg alg) {
  static constexpr char kContext[] = "Signature1";
  Hasher h(alg);
  hash_head(h, 4, 4);
  hash_head(h, 3, sizeof kContext - 1);
  h.update(kContext, sizeof kContext - 1);
  hash_head(h, 2, msg.protected_bstr.size());
  h.update(msg.protected_bstr);
  hash_head(h, 2, 0);  // external_aad = h'' (RFC 9052 §4.3)
  hash_head(h, 2, msg.payload.size());
  h.update(msg.payload);
  return h.finish();
}

}  // namespace redoubt::policy
