#include "policy/host/hv_manifest_build.hpp"

#include <openssl/evp.h>

#include "policy/fs/hv_manifest.hpp"
#include "policy/host/cbor_write.hpp"
#include "policy/host/cose_sign.hpp"

namespace redoubt::policy {

std::vector<uint8_t> build_hv_manifest_payload(std::span<const uint8_t> image, const HvManifestInput& in, const EvpKey& signer) {
  if (in.name.size() > 63) throw ManifestError("hv-manifest: name is " + std::to_string(in.name.size()) + " bytes, at most 63 allowed");
  if (in.version.size() > 31)
    throw ManifestError("hv-manifest: version is " + std::to_string(in.version.size()) + " bytes, at most 31 allowed");
  if (in.name.find('\0') != std::string::npos || in.version.find('\0') != std::string::npos)
    throw ManifestError("hv-manifest: name/version must not contain NUL");
  const EVP_MD* md = in.digest_alg == HashAlg::sha256 ? EVP_sha256() : in.digest_alg == HashAlg::sha384 ? EVP_sha384() : nullptr;
  if (!md) throw ManifestError(std::string("hv-manifest: digest_alg ") + hash_alg_name(in.digest_alg) + " not supported (sha256, sha384)");
  std::vector<uint8_t> digest(EVP_MAX_MD_SIZE);
  unsigned dlen = 0;
  if (EVP_Digest(image.data(), image.size(), digest.data(), &dlen, md, nullptr) != 1) throw ManifestError("hv-manifest: hashing failed");
  digest.resize(dlen);

  const PublicKey pk = cose_public_key(signer);
  uint8_t kid[32];
  key_id(pk, kid);

  CborWriter w;
  w.map(8);
  w.uint(1).text(kHvManifestType);
  w.uint(2).text(in.name);
  w.uint(3).text(in.version);
  w.uint(4).uint(in.svn);
  w.uint(5).uint(static_cast<uint16_t>(in.digest_alg));
  w.uint(6).bytes(digest);
  w.uint(7).uint(image.size());
  w.uint(8).bytes(kid);
  return w.take();
}

std::vector<uint8_t> sign_hv_manifest(std::span<const uint8_t> image, const HvManifestInput& in, const EvpKey& key) {
  return cose_sign1_sign(build_hv_manifest_payload(image, in, key), key);
}

}  // namespace redoubt::policy
