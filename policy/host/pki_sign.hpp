// Building and signing guest manifests and launch policies (formats:
// policy/fs/guest_manifest.hpp, policy/fs/launch_policy.hpp, docs/pki.md).
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "platform/hal/digest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"

namespace redoubt::policy {

struct GuestManifestInput {
  std::string name, version, cmdline;
  uint64_t svn = 0;
  uint64_t memory_mib = 64;
  HashAlg digest_alg = HashAlg::sha256;
};

// Deterministic CBOR payload (keys ascending). initrd == nullptr: no initrd fields.
Bytes build_guest_manifest_payload(std::span<const uint8_t> kernel, const Bytes* initrd, const GuestManifestInput& in);
// COSE_Sign1 {1: alg, 4: kid = SHA-256(leaf SPKI)} {33: x5chain} payload signature.
// alg from the key: P-256 -> ES256, P-384 -> ES384, RSA -> RS256 (PKCS#1 v1.5).
// chain = leaf first, then intermediates (DER). The key must match the leaf
// unless allow_mismatch (tests of signer_not_in_chain); kid_override replaces the kid.
Bytes sign_cose_x5chain(std::span<const uint8_t> payload, const EvpKey& key, const std::vector<Bytes>& chain, bool allow_mismatch = false,
                        const Bytes* kid_override = nullptr);
Bytes sign_guest_manifest(std::span<const uint8_t> kernel, const Bytes* initrd, const GuestManifestInput& in, const EvpKey& key,
                          const std::vector<Bytes>& chain);

struct RevocationInput {
  Revocation::Kind kind = Revocation::by_spki;
  Bytes digest;  // 32 bytes
  Bytes serial;  // by_serial: INTEGER content octets
};
RevocationInput revoke_by_serial(const X509* issuer, std::span<const uint8_t> serial_content);
RevocationInput revoke_by_spki(const X509* cert);

struct LaunchPolicyInput {
  std::string name = "redoubt-launch-policy";
  uint64_t serial = 1;
  uint64_t time = 0;
  std::vector<Bytes> anchors;
  Bytes eku = oid_content(kGuestSigningEku);
  uint32_t max_intermediates = 3;
  uint16_t leaf_key_usage = kKuDigitalSignature;
  uint16_t ca_key_usage = kKuKeyCertSign;
  uint32_t min_rsa_bits = 2048;
  std::vector<RevocationInput> revocations;
  std::map<std::string, uint64_t> min_svn;  // std::map: byte-wise ascending names
  bool allow_unsigned = false;
  std::vector<CpuidMask> cpuid;
  std::vector<IoRange> io;
};
Bytes build_launch_policy_payload(const LaunchPolicyInput& in);
Bytes sign_launch_policy(const LaunchPolicyInput& in, const EvpKey& owner);  // ES256/ES384

}  // namespace redoubt::policy
