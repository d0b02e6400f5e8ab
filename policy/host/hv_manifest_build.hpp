// Building and signing hypervisor manifests (format: policy/fs/hv_manifest.hpp).
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/hal/digest.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::policy {

class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HvManifestInput {
  std::string name = "redoubt-hypervisor";
  std::string version;
  uint64_t svn = 0;
  HashAlg digest_alg = HashAlg::sha256;
};

// Deterministic CBOR map {1: type, ..., 8: signer} with keys ascending.
std::vector<uint8_t> build_hv_manifest_payload(std::span<const uint8_t> image, const HvManifestInput& in, const EvpKey& signer);
// COSE_Sign1 over build_hv_manifest_payload(...).
std::vector<uint8_t> sign_hv_manifest(std::span<const uint8_t> image, const HvManifestInput& in, const EvpKey& key);

}  // namespace redoubt::policy
