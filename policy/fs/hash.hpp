// SHA-1/SHA-2 over BearSSL for freestanding code (one hasher per PCR bank).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::policy {

// Incremental hash of one algorithm; no allocation (BearSSL contexts inline).
class Hasher {
 public:
  explicit Hasher(HashAlg alg);
  void update(const void* data, size_t n);
  void update(std::span<const uint8_t> d) { update(d.data(), d.size()); }
  Digest finish();  // may be called once
  HashAlg alg() const { return alg_; }

 private:
  HashAlg alg_;
  alignas(8) uint8_t ctx_[256];  // br_sha1/224/256/384/512 context (asserted in hash.cpp)
};

Digest hash(HashAlg alg, std::span<const uint8_t> data);

// One digest per bank over the same bytes: what a PCR extend of "data" needs.
DigestList hash_banks(const BankList& banks, std::span<const uint8_t> data);

}  // namespace redoubt::policy
