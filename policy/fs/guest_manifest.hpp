// Signed guest manifests and their verification against the launch policy
// (GitHub issue #4). Freestanding: BearSSL only, no allocation.
//
// A guest manifest is a COSE_Sign1 (docs/pki.md §4):
//   protected   {1: alg (-7 ES256 | -35 ES384 | -257 RS256), 4: kid = SHA-256(leaf SPKI DER)}
//   unprotected {33: x5chain = bstr (leaf) / [leaf, intermediate...] (RFC 9360)}
//   payload     GuestManifest CBOR map:
//     1 type "redoubt.guest-manifest/1", 2 name (<= 63), 3 version (<= 31), 4 svn,
//     5 digest_alg (TPM_ALG_ID 0x000B | 0x000C), 6 kernel_digest, 7 kernel_size,
//     8 initrd_digest (optional, with 9), 9 initrd_size (optional, with 8),
//     10 cmdline tstr (<= 1023), 11 memory_mib (1..1048576)
//
// The whole check for one guest, in the order the hypervisor should run it:
//   verify_guest(policy, manifest, kernel, initrd, m, chain, why)
// = verify_guest_manifest (chain + signature + payload) + check_image_digests +
//   check_guest_svn(m, policy_min_svn(policy, m.name)).
// A guest without a manifest: check_unsigned_guest(policy, why).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/fs/x509_chain.hpp"

namespace redoubt::policy {

inline constexpr char kGuestManifestType[] = "redoubt.guest-manifest/1";
inline constexpr int64_t kCoseX5Chain = 33;  // RFC 9360 §2 header label
inline constexpr size_t kMaxCmdline = 1023;
inline constexpr uint64_t kMaxGuestMemoryMib = 1u << 20;

struct GuestManifest {
  char name[64] = {};
  char version[32] = {};
  uint64_t svn = 0;
  HashAlg digest_alg = HashAlg::sha256;
  uint8_t kernel_digest[64] = {};
  uint64_t kernel_size = 0;
  bool has_initrd = false;
  uint8_t initrd_digest[64] = {};
  uint64_t initrd_size = 0;
  std::span<const uint8_t> cmdline;  // into the caller's manifest buffer (no NUL inside)
  uint64_t memory_mib = 0;
  std::span<const uint8_t> payload;  // the signed CBOR payload (PCR20 measures it)
};

// Payload decoder alone (no signature check).
Status guest_manifest_decode(std::span<const uint8_t> payload, GuestManifest& out, Refusal& why);

// COSE_Sign1 + x5chain: the chain is verified against the policy (anchors,
// profile, revocations, policy time), the kid must be the leaf's SPKI digest
// (else signer_not_in_chain), the signature must verify with the leaf key
// (else bad_signature), then the payload is decoded into `out`.
Status verify_guest_manifest(const LaunchPolicy& policy, std::span<const uint8_t> cose, GuestManifest& out, VerifiedChain& chain,
                             Refusal& why);

// Kernel (and initrd, when the manifest names one) against the signed digests
// and sizes. An initrd given but not signed, or signed but not given, is a mismatch.
Status check_image_digests(const GuestManifest& m, std::span<const uint8_t> kernel, std::span<const uint8_t> initrd, Refusal& why);

// Refusal::rollback when m.svn < minimum.
Status check_guest_svn(const GuestManifest& m, uint64_t minimum, Refusal& why);

// A guest with no manifest: refused (Refusal::unsigned_guest) unless the policy
// says unsigned = 1; then the caller must launch it *unmeasured* and record that
// (docs/trust-model.md, "Unsigned guests").
Status check_unsigned_guest(const LaunchPolicy& policy, Refusal& why);

// All checks of a signed guest, in order.
Status verify_guest(const LaunchPolicy& policy, std::span<const uint8_t> cose, std::span<const uint8_t> kernel,
                    std::span<const uint8_t> initrd, GuestManifest& out, VerifiedChain& chain, Refusal& why);

}  // namespace redoubt::policy
