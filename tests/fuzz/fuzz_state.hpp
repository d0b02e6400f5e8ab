// Keys the attestation fuzzers and their seed writer (fuzz_attest_seeds) share,
// so seeds carry valid signatures and certificates that mutations can then break:
// a simulated TPM manufacturer CA and a reference-values authority, created once in
// $REDOUBT_FUZZ_STATE (scripts/fuzz.sh: build-fuzz/fuzz-state; default
// /tmp/redoubt-fuzz-state). A fresh directory only costs the seeds their validity.
#pragma once
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "attestation/agent/sim_manufacturer_ca.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/host/keys.hpp"

namespace fuzz_state {

inline std::filesystem::path dir() {
  const char* d = std::getenv("REDOUBT_FUZZ_STATE");
  return d && *d ? std::filesystem::path(d) : std::filesystem::path("/tmp/redoubt-fuzz-state");
}

inline redoubt::attest::ManufacturerCa ca() { return redoubt::attest::ensure_sim_manufacturer_ca(dir() / "ca"); }

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The policy authority that signs reference values (P-256).
inline std::string authority_prefix() {
  const std::string prefix = (dir() / "authority").string();
  if (!std::filesystem::exists(prefix + ".key.pem")) {
    std::filesystem::create_directories(dir());
    redoubt::policy::generate_key_files("P-256", prefix);
  }
  return prefix;
}

// A TPMT_PUBLIC from a template with the point of `key` (P-256).
inline TPM2B_PUBLIC with_point(TPM2B_PUBLIC pub, const redoubt::policy::EvpKey& key) {
  BIGNUM *x = nullptr, *y = nullptr;
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  pub.publicArea.unique.ecc.x.size = pub.publicArea.unique.ecc.y.size = 32;
  BN_bn2binpad(x, pub.publicArea.unique.ecc.x.buffer, 32);
  BN_bn2binpad(y, pub.publicArea.unique.ecc.y.buffer, 32);
  BN_free(x);
  BN_free(y);
  return pub;
}

}  // namespace fuzz_state
