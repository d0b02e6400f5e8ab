#include "attestation/common/encoding.hpp"

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::span<const uint8_t> b, const char* alphabet, bool pad) {
  const size_t full = b.size() / 3, rest = b.size() - full * 3;
  std::string out((full + (rest ? 1 : 0)) * 4, '=');  // written in place: no append per character
  char* o = out.data();
  const uint8_t* in = b.data();
  for (size_t i = 0; i < full; ++i, in += 3, o += 4) {
    const uint32_t v = (uint32_t{in[0]} << 16) | (uint32_t{in[1]} << 8) | in[2];
    o[0] = alphabet[(v >> 18) & 63];
    o[1] = alphabet[(v >> 12) & 63];
    o[2] = alphabet[(v >> 6) & 63];
    o[3] = alphabet[v & 63];
  }
  if (rest) {
    uint32_t v = uint32_t{in[0]} << 16;
    if (rest == 2) v |= uint32_t{in[1]} << 8;
    o[0] = alphabet[(v >> 18) & 63];
    o[1] = alphabet[(v >> 12) & 63];
    if (rest == 2) o[2] = alphabet[(v >> 6) & 63];
    if (!pad) out.resize(out.size() - (rest == 1 ? 2 : 1));
  }
  return out;
}

// RFC 4648 §4 / §5 alphabets as 256-entry tables: the value of each character, or -1.
struct DecodeTable {
  int8_t v[256];
  explicit DecodeTable(bool url) {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>((url ? kB64Url : kB64)[i])] = static_cast<int8_t>(i);
  }
};

Bytes decode(std::string_view s, bool url, const char* what) {
  static const DecodeTable std_table(false), url_table(true);
  const int8_t* t = (url ? url_table : std_table).v;
  const char* code = url ? "bad_base64url" : "bad_base64";
  size_t n = s.size();
  if (!url) {
    if (n % 4 != 0) throw AttestError(code, std::string(what) + ": length " + std::to_string(n) + " is not a multiple of 4");
    if (n && s[n - 1] == '=') --n;
    if (n && s[n - 1] == '=') --n;
  }
  if (n % 4 == 1) throw AttestError(code, std::string(what) + ": truncated (length " + std::to_string(n) + ")");
  auto bad = [&](size_t i) { return AttestError(code, std::string(what) + ": invalid character at offset " + std::to_string(i)); };
  Bytes out(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
  uint8_t* o = out.data();
  const auto* in = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  for (; i + 4 <= n; i += 4, o += 3) {  // four characters, three bytes
    const int a = t[in[i]], b = t[in[i + 1]], c = t[in[i + 2]], d = t[in[i + 3]];
    if ((a | b | c | d) < 0) {
      for (size_t k = i;; ++k)
        if (t[in[k]] < 0) throw bad(k);
    }
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (i < n) {  // 2 or 3 characters: 1 or 2 bytes, and the unused low bits must be zero (canonical)
    uint32_t acc = 0;
    for (size_t k = i; k < n; ++k) {
      const int v = t[in[k]];
      if (v < 0) throw bad(k);
      acc = (acc << 6) | static_cast<uint32_t>(v);
    }
    const int bits = static_cast<int>(n - i) * 6;
    const int extra = bits % 8;
    if (acc & ((1u << extra) - 1)) throw AttestError(code, std::string(what) + ": non-canonical trailing bits");
    acc >>= extra;
    if (n - i == 3) {
      o[0] = static_cast<uint8_t>(acc >> 8);
      o[1] = static_cast<uint8_t>(acc);
    } else {
      o[0] = static_cast<uint8_t>(acc);
    }
  }
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
