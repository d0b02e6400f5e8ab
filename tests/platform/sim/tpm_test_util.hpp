// Independent reference computations for the TPM tests (OpenSSL EVP, never TPM output).
#pragma once
#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <system_error>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/hal/digest.hpp"
#include "tpm/tpm_device.hpp"

namespace tpmtest {

using Bytes = std::vector<uint8_t>;
using redoubt::HashAlg;

inline Bytes hash(HashAlg alg, const Bytes& data) {
  const EVP_MD* md = EVP_get_digestbyname(redoubt::hash_alg_name(alg));
  if (!md) throw std::runtime_error("no EVP digest for " + std::string(redoubt::hash_alg_name(alg)));
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  if (!EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr)) throw std::runtime_error("EVP_Digest");
  out.resize(len);
  return out;
}

inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// PCR_Extend: new = H(old || digest).
inline Bytes extend(HashAlg alg, const Bytes& old, const Bytes& digest) { return hash(alg, cat(old, digest)); }

inline Bytes zeros(HashAlg alg) { return Bytes(redoubt::digest_size(alg), 0x00); }
inline Bytes ones(HashAlg alg) { return Bytes(redoubt::digest_size(alg), 0xFF); }

// After _TPM_Hash_End: PCR17 = H(0...0 || H(data)) in each bank.
inline Bytes drtm_pcr17(HashAlg alg, const Bytes& data) { return extend(alg, zeros(alg), hash(alg, data)); }

// 64 KiB of known, non-trivial data (the size of an SLB).
inline Bytes slb_data() {
  Bytes d(64 * 1024);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>((i * 131 + 7) ^ (i >> 8));
  return d;
}

// One digest per active bank: H_bank(msg).
inline redoubt::DigestList digests_of(const redoubt::BankList& banks, const Bytes& msg) {
  redoubt::DigestList l;
  for (uint32_t i = 0; i < banks.count; ++i) {
    l.d[i].alg = banks.alg[i];
    Bytes h = hash(banks.alg[i], msg);
    std::copy(h.begin(), h.end(), l.d[i].bytes);
  }
  l.count = banks.count;
  return l;
}

inline std::string temp_dir(const char* tag) {
  std::string t = "/tmp/redoubt-test-" + std::string(tag) + "-XXXXXX";
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
  return t;
}

// A temporary directory removed at scope exit, also when an assertion throws.
struct TempDir {
  explicit TempDir(const char* tag = "tpm") : path(temp_dir(tag)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

}  // namespace tpmtest
