// Signing keys on the host (OpenSSL 3): generate, load, convert to COSE keys.
#pragma once
#include <openssl/evp.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "policy/fs/cose.hpp"

namespace redoubt::policy {

class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// RAII owner of an EVP_PKEY*.
class EvpKey {
 public:
  EvpKey() = default;
  explicit EvpKey(EVP_PKEY* k) : k_(k) {}
  EvpKey(EvpKey&& o) noexcept : k_(std::exchange(o.k_, nullptr)) {}
  EvpKey& operator=(EvpKey&& o) noexcept {
    if (this != &o) {
      EVP_PKEY_free(k_);
      k_ = std::exchange(o.k_, nullptr);
    }
    return *this;
  }
  EvpKey(const EvpKey&) = delete;
  EvpKey& operator=(const EvpKey&) = delete;
  ~EvpKey() { EVP_PKEY_free(k_); }

  EVP_PKEY* get() const { return k_; }
  explicit operator bool() const { return k_ != nullptr; }

 private:
  EVP_PKEY* k_ = nullptr;
};

// Writes <prefix>.key.pem (PKCS#8, mode 0600) and <prefix>.pub.pem (SPKI).
void generate_key_files(const std::string& curve /*"P-256"|"P-384"*/, const std::string& out_prefix);
EvpKey generate_key(const std::string& curve);
EvpKey load_private_key(const std::string& path);
EvpKey load_public_key(const std::string& path);  // SPKI or a private key PEM
// SEC1 uncompressed point + COSE alg from the curve (P-256 → ES256, P-384 → ES384).
PublicKey cose_public_key(const EvpKey& key);
std::string key_id_hex(const EvpKey& key);  // hex of SHA-256(SEC1 point)

}  // namespace redoubt::policy
