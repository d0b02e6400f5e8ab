// Byte encodings used on the wire: hex, base64 (RFC 4648 §4) and base64url
// without padding (RFC 4648 §5, as JWS needs). Decoders are strict and throw
// AttestError("bad_hex" / "bad_base64") naming the problem.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redoubt::attest {

using Bytes = std::vector<uint8_t>;

std::string to_hex(std::span<const uint8_t> b);
Bytes from_hex(std::string_view s, const char* what = "hex");
std::string to_base64(std::span<const uint8_t> b);
Bytes from_base64(std::string_view s, const char* what = "base64");
std::string to_base64url(std::span<const uint8_t> b);
Bytes from_base64url(std::string_view s, const char* what = "base64url");

inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace redoubt::attest
