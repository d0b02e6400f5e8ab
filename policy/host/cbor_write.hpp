// A minimal deterministic CBOR encoder (RFC 8949 §4.2.1: shortest heads,
// definite lengths). Callers emit map keys in ascending order themselves.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace redoubt::policy {

class CborWriter {
 public:
  CborWriter& uint(uint64_t v) { return head(0, v); }
  CborWriter& integer(int64_t v) { return v >= 0 ? head(0, static_cast<uint64_t>(v)) : head(1, static_cast<uint64_t>(-1 - v)); }
  CborWriter& bytes(std::span<const uint8_t> b);
  CborWriter& text(std::string_view s);
  CborWriter& array(uint64_t n) { return head(4, n); }
  CborWriter& map(uint64_t n) { return head(5, n); }
  CborWriter& tag(uint64_t t) { return head(6, t); }
  CborWriter& head(uint8_t major, uint64_t arg);

  const std::vector<uint8_t>& data() const { return out_; }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

}  // namespace redoubt::policy
