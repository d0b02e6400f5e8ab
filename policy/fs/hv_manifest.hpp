// The hypervisor manifest: the COSE_Sign1 payload the secure loader verifies.
// Format (docs/formats.md): a CBOR map with unsigned integer keys:
//   1: type       tstr  "redoubt.hv-manifest/1"
//   2: name       tstr  (<= 63 bytes)
//   3: version    tstr  (<= 31 bytes)
//   4: svn        uint  (security version number, anti-rollback)
//   5: digest_alg uint  TPM_ALG_ID of the image digest (0x000B sha256, 0x000C sha384)
//   6: digest     bstr  image digest (size per alg)
//   7: size       uint  image size in bytes
//   8: signer     bstr  key id of the signing key (SHA-256 of its SEC1 point)
// Unknown keys are refused (a signer cannot add fields the SL silently ignores).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::policy {

inline constexpr char kHvManifestType[] = "redoubt.hv-manifest/1";

struct HvManifest {
  char name[64] = {};
  char version[32] = {};
  uint64_t svn = 0;
  HashAlg digest_alg = HashAlg::sha256;
  uint8_t digest[64] = {};
  uint64_t image_size = 0;
  uint8_t signer_kid[32] = {};
};

Status hv_manifest_decode(std::span<const uint8_t> payload, HvManifest& out);

}  // namespace redoubt::policy
