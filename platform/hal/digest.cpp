#include "platform/hal/digest.hpp"

namespace redoubt {

const char* hash_alg_name(HashAlg a) {
  switch (a) {
    case HashAlg::sha1: return "sha1";
    case HashAlg::sha256: return "sha256";
    case HashAlg::sha384: return "sha384";
    case HashAlg::sha512: return "sha512";
  }
  return "unknown";
}

bool hash_alg_from_id(uint16_t id, HashAlg& out) {
  switch (id) {
    case 0x0004: out = HashAlg::sha1; return true;
    case 0x000B: out = HashAlg::sha256; return true;
    case 0x000C: out = HashAlg::sha384; return true;
    case 0x000D: out = HashAlg::sha512; return true;
    default: return false;
  }
}

}  // namespace redoubt
