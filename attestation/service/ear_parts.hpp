// A verdict's EAR JWS as the PostgreSQL store keeps it (issue 13 throughput): its compact
// serialisation (RFC 7515 §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature))
// split into the header's text and the payload's and signature's bytes. The payload is JSON, which
// PostgreSQL's lz4 column compression shrinks ~1.7x; its base64url form hardly shrinks. The JWS is
// rebuilt byte for byte on read: a JWS whose parts do not re-encode to exactly itself (not
// three parts, or a non-canonical base64url) is not split and is kept whole.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

struct EarParts {
  std::string header;  // BASE64URL(protected header), as in the JWS
  Bytes payload;       // the claims' JSON
  Bytes signature;     // ES256: R || S
};

inline std::string join_jws(const EarParts& p) { return p.header + "." + to_base64url(p.payload) + "." + to_base64url(p.signature); }

// The parts of `jws`, or nothing where they would not rebuild it exactly (then store it whole).
inline std::optional<EarParts> split_jws(std::string_view jws) {
  const size_t a = jws.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = jws.find('.', a + 1);
  if (b == std::string_view::npos || jws.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  try {
    EarParts p{std::string(jws.substr(0, a)), from_base64url(jws.substr(a + 1, b - a - 1)), from_base64url(jws.substr(b + 1))};
    if (p.header.empty() || join_jws(p) != jws) return std::nullopt;
    return p;
  } catch (const std::exception&) {  // not base64url: kept whole
    return std::nullopt;
  }
}

// The parts of a JWS this verifier has just signed over `payload` (jws_sign_es256_payload): its header
// is what precedes the first '.', and the payload and signature are the bytes it encoded. Equal to
// split_jws(jws) (attest_store_schema_test), without decoding what was just encoded.
inline EarParts ear_parts_of(std::string_view jws, std::string_view payload, std::span<const uint8_t> signature) {
  return EarParts{std::string(jws.substr(0, jws.find('.'))), Bytes(payload.begin(), payload.end()), Bytes(signature.begin(), signature.end())};
}

}  // namespace redoubt::attest
