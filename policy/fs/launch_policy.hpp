// The launch policy (GitHub issue #4): what the platform owner allows to run.
// A COSE_Sign1 signed by the owner's key (the SL holds it, like the hypervisor
// signer key) over a strict CBOR map (docs/pki.md §2):
//    1: type          tstr  "redoubt.launch-policy/1"
//    2: name          tstr  policy id (<= 63 bytes), reported in attestation results
//    3: serial        uint  policy version (monotonic)
//    4: time          uint  the policy's trusted "now" (Unix seconds): certificates must
//                           satisfy notBefore <= time <= notAfter
//    5: anchors       [+ bstr]  guest trust anchors: corporate root CA certificates (DER), 1..8
//    6: profile       {1: eku bstr (OID), 2: max_intermediates, 3: leaf_key_usage,
//                      4: ca_key_usage, 5: min_rsa_bits}
//    7: revocations   [* [1, sha256(issuer Name), serial] / [2, sha256(SPKI)]]   (optional)
//    8: min_svn       [* [name tstr, svn uint]], names strictly ascending        (optional)
//    9: unsigned      uint  0 = refuse unsigned guests (default), 1 = allow, unmeasured (optional)
//   10: guest_cpuid   [* [leaf, subleaf (0xffffffff = all), reg (0 eax..3 edx), clear_mask]] (optional)
//   11: guest_io      [* [first_port, last_port]] ports passed through, ascending, disjoint (optional)
// Unknown, duplicate or out-of-order keys are refused (a signer cannot add a field
// the hypervisor would silently ignore).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/x509_chain.hpp"

namespace redoubt::policy {

inline constexpr char kLaunchPolicyType[] = "redoubt.launch-policy/1";
inline constexpr size_t kMaxMinSvn = 32;
inline constexpr size_t kMaxCpuidMasks = 32;
inline constexpr size_t kMaxIoRanges = 16;
inline constexpr uint32_t kCpuidAnySubleaf = 0xffffffffu;

enum class UnsignedGuests : uint8_t { refuse = 0, allow_unmeasured = 1 };

struct CpuidMask {
  uint32_t leaf = 0, subleaf = 0;  // kCpuidAnySubleaf: every subleaf
  uint8_t reg = 0;        // 0 eax, 1 ebx, 2 ecx, 3 edx
  uint32_t clear = 0;     // bits the hypervisor clears in that register
};
struct IoRange {
  uint16_t first = 0, last = 0;  // inclusive
};
struct MinSvn {
  char name[64] = {};
  uint64_t svn = 0;
};

// A decoded policy. Anchor certificates and the payload point into the
// caller's policy buffer, which must stay unchanged while the policy is used.
// About 9 KiB: keep it in static storage, not on a small stack.
struct LaunchPolicy {
  char name[64] = {};
  uint64_t serial = 0;
  uint64_t time = 0;
  X509Cert anchors[kMaxAnchors];
  size_t anchor_count = 0;
  CertProfile profile;
  Revocation revocations[kMaxRevocations];
  size_t revocation_count = 0;
  MinSvn min_svn[kMaxMinSvn];
  size_t min_svn_count = 0;
  UnsignedGuests unsigned_guests = UnsignedGuests::refuse;
  CpuidMask cpuid[kMaxCpuidMasks];
  size_t cpuid_count = 0;
  IoRange io[kMaxIoRanges];
  size_t io_count = 0;
  std::span<const uint8_t> payload;  // the signed CBOR payload (PCR17 measures it)
  mutable ChainMemo chain_memo;      // chains validated under this policy (a cache, not policy)

  ChainPolicy chain_policy() const {
    return ChainPolicy{anchors, anchor_count, revocations, revocation_count, &profile, time, &chain_memo};
  }
};

// Decodes the payload (no signature check). Anchors must be self-issued CA
// certificates (CA:TRUE, keyCertSign) that parse; the profile must require at
// least digitalSignature on the leaf and keyCertSign on CAs.
Status launch_policy_decode(std::span<const uint8_t> payload, LaunchPolicy& out, Refusal& why);

// COSE_Sign1 parse + signature check with the owner's key + decode.
// A signature that does not verify is Refusal::policy_signature.
Status launch_policy_verify(std::span<const uint8_t> cose, const PublicKey& owner, LaunchPolicy& out, Refusal& why);

// The minimum SVN the policy sets for guest `name` (0 when it names none).
uint64_t policy_min_svn(const LaunchPolicy& p, std::span<const uint8_t> name);

}  // namespace redoubt::policy
