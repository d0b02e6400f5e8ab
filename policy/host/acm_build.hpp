// The simulated SINIT authenticated code module (docs/intel.md "The simulated SINIT ACM"): an image
// with the real AC module header (arch/intel/acm.hpp, SDM vol. 2D "Authenticated Code Module
// Format"), an MLE DG A.1 information table in its user area, signed RSA-2048 PKCS #1 v1.5 / SHA-256
// by a simulated chipset key. Hosted (OpenSSL 3).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "policy/host/keys.hpp"

namespace redoubt::policy {

class AcmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AcmOptions {
  uint16_t txt_svn = 1;            // header TXT SVN: the chipset refuses one below its floor
  uint16_t chipset_id = 0xB005;    // must equal the simulated chipset's TXT.DIDVID device id
  uint8_t acm_version = 1;         // info table AcmVersion
  uint32_t date = 0x20261203;      // BCD
  uint32_t min_mle_header_version = 0x00020000;
  std::vector<uint8_t> code;       // the user area after the info table ("SINIT's code": opaque bytes)
};

// A fresh RSA-2048 chipset signing key (exponent 65537).
EvpKey generate_chipset_key();

// Builds and signs a SINIT ACM with `key` (an RSA-2048 private key). Size is a multiple of 4.
std::vector<uint8_t> build_sinit_acm(const EvpKey& key, const AcmOptions& opts);

// The bytes the ACM signature covers: header[0, 0x80) || user area (acm.hpp kAcmSignedHeaderBytes).
std::vector<uint8_t> acm_signed_bytes(std::span<const uint8_t> acm);

// The chipset's fused public-key hash: SHA-256 over the header's modulus and exponent fields as
// stored (256 + 4 bytes, little-endian), what TXT.PUBLIC.KEY reports.
std::array<uint8_t, 32> acm_key_hash(std::span<const uint8_t> acm);
std::array<uint8_t, 32> chipset_key_hash(const EvpKey& key);

}  // namespace redoubt::policy
