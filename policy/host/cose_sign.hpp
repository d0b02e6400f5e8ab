// COSE_Sign1 signing on the host (RFC 9052 §4.2, §4.4) with OpenSSL 3.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "policy/host/keys.hpp"

namespace redoubt::policy {

class SignError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Tag 18 + [bstr{1: alg, 4: kid}, {}, payload, r||s]; alg from the key's curve.
std::vector<uint8_t> cose_sign1_sign(std::span<const uint8_t> payload, const EvpKey& key);

}  // namespace redoubt::policy
