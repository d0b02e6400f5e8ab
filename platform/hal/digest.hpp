// Hash algorithms and digests as the TPM names them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt {

// TPM_ALG_ID values, TPM 2.0 Part 2 §6.3 (Table 9).
enum class HashAlg : uint16_t { sha1 = 0x0004, sha256 = 0x000B, sha384 = 0x000C, sha512 = 0x000D };

constexpr size_t digest_size(HashAlg a) {
  switch (a) {
    case HashAlg::sha1: return 20;
    case HashAlg::sha256: return 32;
    case HashAlg::sha384: return 48;
    case HashAlg::sha512: return 64;
  }
  return 0;
}
const char* hash_alg_name(HashAlg a);  // "sha1", "sha256", ...
bool hash_alg_from_id(uint16_t id, HashAlg& out);

struct Digest {
  HashAlg alg = HashAlg::sha256;
  uint8_t bytes[64] = {};
  size_t size() const { return digest_size(alg); }
};

// One digest per active PCR bank (TPML_DIGEST_VALUES, at most 4 banks here).
struct DigestList {
  static constexpr size_t kMax = 4;
  uint32_t count = 0;
  Digest d[kMax];
};

// The PCR banks a TPM has allocated (TPML_PCR_SELECTION reduced to algorithms).
struct BankList {
  static constexpr size_t kMax = 4;
  uint32_t count = 0;
  HashAlg alg[kMax] = {};
};

}  // namespace redoubt
