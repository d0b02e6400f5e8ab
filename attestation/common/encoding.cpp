#include "attestation/common/encoding.hpp"

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::span<const uint8_t> b, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  const size_t rest = b.size() - i;
  if (rest) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (rest == 2) v |= uint32_t{b[i + 1]} << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (rest == 2) out += alphabet[(v >> 6) & 63];
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

int value_of(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

Bytes decode(std::string_view s, bool url, const char* what) {
  const char* code = url ? "bad_base64url" : "bad_base64";
  size_t n = s.size();
  if (!url) {
    if (n % 4 != 0) throw AttestError(code, std::string(what) + ": length " + std::to_string(n) + " is not a multiple of 4");
    if (n && s[n - 1] == '=') --n;
    if (n && s[n - 1] == '=') --n;
  }
  if (n % 4 == 1) throw AttestError(code, std::string(what) + ": truncated (length " + std::to_string(n) + ")");
  Bytes out;
  out.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = value_of(s[i], url);
    if (v < 0) throw AttestError(code, std::string(what) + ": invalid character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    throw AttestError(code, std::string(what) + ": non-canonical trailing bits");
  return out;
}

}  // namespace

std::string to_hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * b.size(), '0');
  for (size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = d[b[i] >> 4];
    s[2 * i + 1] = d[b[i] & 15];
  }
  return s;
}

Bytes from_hex(std::string_view s, const char* what) {
  if (s.size() % 2) throw AttestError("bad_hex", std::string(what) + ": odd number of hex digits (" + std::to_string(s.size()) + ")");
  auto nib = [&](char c, size_t i) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw AttestError("bad_hex", std::string(what) + ": not a hex digit at offset " + std::to_string(i));
  };
  Bytes out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(nib(s[2 * i], 2 * i) << 4 | nib(s[2 * i + 1], 2 * i + 1));
  return out;
}

std::string to_base64(std::span<const uint8_t> b) { return encode(b, kB64, true); }
Bytes from_base64(std::string_view s, const char* what) { return decode(s, false, what); }
std::string to_base64url(std::span<const uint8_t> b) { return encode(b, kB64Url, false); }
Bytes from_base64url(std::string_view s, const char* what) { return decode(s, true, what); }

}  // namespace redoubt::attest
