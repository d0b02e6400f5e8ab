// X.509 certificate chains for guest signers (GitHub issue #4), freestanding.
//
// BearSSL's minimal engine (br_x509_minimal) checks the signatures along the
// chain, issuer/subject DN chaining and validity against the *policy time*
// (br_x509_minimal_set_time; the hypervisor has no trusted clock). It does not
// enforce the Redoubt certificate profile, so this module parses the DER itself
// (policy/fs/der.hpp) and checks, with a distinct named Refusal each:
//   CA:TRUE on every issuer (anchor included), pathLenConstraint, keyUsage
//   (keyCertSign on CAs, digitalSignature on the leaf), the guest-signing EKU on
//   the leaf, revocation by (issuer-name digest, serial) or by SPKI digest,
//   notBefore <= policy time <= notAfter, RFC 5280 strictness (SKI/AKI, names).
// Fixed caps, no allocation: a chain of at most kMaxChain certificates of at
// most kMaxCertSize bytes each; anything larger is refused as over_cap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"

namespace redoubt::policy {

inline constexpr size_t kMaxChain = 4;          // leaf + up to 3 intermediates (x5chain)
inline constexpr size_t kMaxCertSize = 4096;    // bytes per DER certificate
inline constexpr size_t kMaxAnchors = 8;        // trust anchors in a launch policy
inline constexpr size_t kMaxRevocations = 64;   // revocation entries in a launch policy
inline constexpr size_t kMaxOidLen = 32;        // EKU OID content octets

// Why a guest (or its chain) is refused: one distinct, stable name per cause.
// Tests and the hypervisor's failure events use these names (refusal_name()).
enum class Refusal : uint8_t {
  none = 0,
  malformed,             // does not parse (CBOR, COSE, DER, time, fields)
  over_cap,              // more certificates/anchors/revocations/bytes than the fixed caps
  unsupported,           // well-formed but not accepted (alg, curve, X.509 v1, ...)
  unknown_root,          // chain ends at a root that is not a policy anchor (or the anchor's key did not sign)
  missing_intermediate,  // a link is missing: an issuer is neither the next certificate nor an anchor
  not_ca,                // an issuer (intermediate or anchor) without basicConstraints CA:TRUE
  path_length,           // pathLenConstraint or the policy's max_intermediates exceeded
  wrong_key_usage,       // keyUsage: leaf lacks digitalSignature, or a CA lacks keyCertSign / keyUsage
  wrong_eku,             // leaf lacks the guest-signing extendedKeyUsage OID
  profile,               // other RFC 5280 profile rules (SKI/AKI, pathLen or keyCertSign on a non-CA, empty names, ...)
  critical_extension,    // an unknown extension marked critical
  weak_key,              // RSA modulus below the policy's min_rsa_bits
  revoked_leaf,          // the leaf matches a revocation entry
  revoked_intermediate,  // an intermediate matches a revocation entry
  not_yet_valid,         // notBefore > policy time
  expired,               // notAfter < policy time
  bad_cert_signature,    // a certificate's signature does not verify with its issuer's key
  signer_not_in_chain,   // the manifest's kid is not the leaf's key (signed by another key)
  bad_signature,         // the manifest signature does not verify with the leaf key (tampered)
  digest_mismatch,       // kernel/initrd bytes differ from the manifest's digests
  rollback,              // guest SVN below the policy's minimum for its name
  unsigned_guest,        // no manifest, and the policy refuses unsigned guests (the default)
  policy_signature,      // the launch policy itself does not verify with the owner key
};
const char* refusal_name(Refusal r);
// The coarse Status class of a refusal (the SL/hypervisor failure-event classes).
Err refusal_err(Refusal r);
// Records refusal `r` in `why` and returns `st` re-labelled "<refusal>: <module>: <message>",
// the one form guest-manifest and launch-policy refusals are reported in.
Status refuse(Refusal& why, Refusal r, const char* module, const Status& st);
// `msg` without a leading "<refusal name>: " (messages name their refusal once).
const char* without_refusal_prefix(const char* msg, Refusal r);

// keyUsage bits, RFC 5280 §4.2.1.3 (bit i of KeyUsage = 1 << i here).
inline constexpr uint16_t kKuDigitalSignature = 1u << 0;
inline constexpr uint16_t kKuKeyCertSign = 1u << 5;
inline constexpr uint16_t kKuCrlSign = 1u << 6;

enum class KeyKind : uint8_t { none = 0, rsa, ec };

// One parsed certificate; every span points into the caller's DER buffer.
struct X509Cert {
  std::span<const uint8_t> der, tbs, serial, issuer, subject, spki, sig_alg;
  uint32_t nb_days = 0, nb_secs = 0, na_days = 0, na_secs = 0;  // validity, BearSSL days/seconds
  KeyKind key = KeyKind::none;
  int curve = 0;                            // BearSSL curve id (BR_EC_secp256r1 / BR_EC_secp384r1)
  std::span<const uint8_t> rsa_n, rsa_e;    // big-endian, leading zeros stripped
  std::span<const uint8_t> ec_q;            // SEC1 uncompressed point
  uint32_t key_bits = 0;
  bool has_bc = false, bc_critical = false, ca = false;
  bool has_path_len = false;                // pathLenConstraint present
  uint32_t path_len = 0;
  bool has_ku = false;
  uint16_t ku = 0;
  bool has_eku = false;
  std::span<const uint8_t> eku;             // body of the ExtKeyUsageSyntax SEQUENCE
  bool has_ski = false, has_aki = false;
  bool self_issued = false;                 // issuer == subject (bytewise)
  std::span<const uint8_t> critical_unknown;  // OID of the first unknown critical extension
};

// Parses a DER certificate (X.509 v3 only). Refusal::over_cap above kMaxCertSize.
Status x509_parse(std::span<const uint8_t> der, X509Cert& out, Refusal& why);
bool x509_has_eku(const X509Cert& c, std::span<const uint8_t> oid);

// The certificate profile a launch policy requires (docs/pki.md §3).
// All-zero defaults on purpose (here and in LaunchPolicy): a static policy then
// lands in .bss, not .data, and `x = {}` is a memset, not a stack temporary.
struct CertProfile {
  uint8_t eku[kMaxOidLen] = {};   // the guest-signing EKU OID (content octets)
  size_t eku_len = 0;
  uint32_t max_intermediates = 0; // at most kMaxChain - 1
  uint16_t leaf_key_usage = 0;    // bits the leaf's keyUsage must have (policy: includes digitalSignature)
  uint16_t ca_key_usage = 0;      // bits every CA's keyUsage must have (policy: includes keyCertSign)
  uint32_t min_rsa_bits = 0;
  std::span<const uint8_t> eku_oid() const { return {eku, eku_len}; }
};
// The profile `redoubt sign policy` writes by default: 3 intermediates,
// digitalSignature on the leaf, keyCertSign on CAs, RSA >= 2048.
CertProfile default_profile(std::span<const uint8_t> eku_oid);

// A revoked certificate: by SHA-256(issuer Name DER) + serial (INTEGER content
// octets), or by SHA-256(SubjectPublicKeyInfo DER).
struct Revocation {
  enum Kind : uint8_t { none = 0, by_serial = 1, by_spki = 2 };
  Kind kind = none;
  uint8_t digest[32] = {};
  uint8_t serial[21] = {};
  size_t serial_len = 0;
};

// What a chain is verified against (borrowed; usually from a LaunchPolicy).
// Chains BearSSL already validated under one policy, during one boot: the
// hypervisor admits several guests signed by the same corporate chain, and each
// ECDSA verification costs ~10 M interpreted instructions (docs/skinit.md). A
// hit skips only BearSSL's signature pass for byte-identical certificates; the
// parse, path, time, profile and revocation checks run every time. Only
// successes are kept. The key is the bytes themselves, compared in full (never
// a hash of them): the policy time, the anchor's SPKI and each certificate's
// length and DER (docs/hypervisor.md, "Chain memo"). A chain whose key does not
// fit in one entry is simply verified every time.
struct ChainMemo {
  static constexpr size_t kEntries = 2;
  static constexpr size_t kEntryBytes = 4096;
  uint8_t key[kEntries][kEntryBytes] = {};
  size_t key_len[kEntries] = {};
  size_t used = 0;   // entries filled (at most kEntries)
  size_t next = 0;   // the slot the next success overwrites (round robin)
  uint64_t hits = 0;
};

struct ChainPolicy {
  const X509Cert* anchors = nullptr;
  size_t anchor_count = 0;
  const Revocation* revocations = nullptr;
  size_t revocation_count = 0;
  const CertProfile* profile = nullptr;
  uint64_t time = 0;  // the policy's "now", seconds since the Unix epoch
  ChainMemo* memo = nullptr;  // optional: remembers validated chains for this policy
};

// The outcome of a successful verification: what PCR19 measures.
struct VerifiedChain {
  size_t count = 0;                               // certificates on the path, leaf first (anchor not included)
  std::span<const uint8_t> certs[kMaxChain];      // their DER
  size_t anchor_index = 0;                        // which policy anchor the path ends at
  uint8_t leaf_spki_sha256[32] = {};              // the signer's key id (= the COSE kid)
  uint8_t anchor_spki_sha256[32] = {};
  std::span<const uint8_t> x5chain;               // the raw CBOR of COSE header 33 as signed-over/carried
  X509Cert leaf;                                  // the parsed leaf (its key verifies the manifest)
};

// Verifies certs[0] (leaf) .. certs[n-1] against the policy. On failure `why`
// names the first cause found and the message names the certificate (by CN).
Status verify_chain(const ChainPolicy& pol, std::span<const std::span<const uint8_t>> certs, VerifiedChain& out, Refusal& why);

}  // namespace redoubt::policy
