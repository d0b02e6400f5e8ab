// COSE_Sign1 (RFC 9052 §4.2) parsing and verification with BearSSL.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::policy {

// COSE algorithm identifiers, IANA "COSE Algorithms" registry (RFC 9053 §2.1).
enum class CoseAlg : int32_t { es256 = -7, es384 = -35, rs256 = -257 };
const char* cose_alg_name(CoseAlg a);

// A verification key: EC public key as a SEC1 uncompressed point (04||X||Y),
// curve implied by alg (P-256 for ES256, P-384 for ES384).
struct PublicKey {
  CoseAlg alg = CoseAlg::es256;
  uint8_t sec1[97] = {};
  size_t sec1_len = 0;
  std::span<const uint8_t> bytes() const { return {sec1, sec1_len}; }
};

// Key id used throughout Redoubt: SHA-256 over the SEC1 point (32 bytes).
void key_id(const PublicKey& k, uint8_t out[32]);

constexpr uint64_t kCoseSign1Tag = 18;  // RFC 9052 §2

struct CoseSign1 {
  std::span<const uint8_t> protected_bstr;  // serialized protected header map
  std::span<const uint8_t> payload;
  std::span<const uint8_t> signature;       // raw r||s (RFC 9053 §2.1)
  CoseAlg alg = CoseAlg::es256;             // from the protected header (label 1)
  std::span<const uint8_t> kid;             // protected or unprotected label 4; may be empty
};

// Parses tag 18 (optional) + [protected, unprotected, payload, signature].
// Rejects: missing/unknown alg, detached payload, trailing bytes, wrong sizes.
Status cose_sign1_parse(std::span<const uint8_t> msg, CoseSign1& out);

// Verifies the signature over Sig_structure ["Signature1", protected, h'', payload]
// with `key`. Err::wrong_key when alg/curve differ or kid names another key,
// Err::bad_signature when the signature does not verify.
Status cose_sign1_verify(const CoseSign1& msg, const PublicKey& key);

// The digest of the message's Sig_structure (RFC 9052 §4.4) with `alg`: what
// the signature covers, for verifiers with keys other than PublicKey (X.509 leaves).
Digest cose_sig_structure_digest(const CoseSign1& msg, HashAlg alg);

}  // namespace redoubt::policy
