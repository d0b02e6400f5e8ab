// A small, bounds-checked CBOR (RFC 8949) reader for freestanding code.
// Definite lengths only (COSE requires deterministic encoding, RFC 9052 §9);
// every read checks the remaining length and names the cause on failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"

namespace redoubt::policy {

enum class CborType : uint8_t { uint = 0, nint = 1, bytes = 2, text = 3, array = 4, map = 5, tag = 6, simple = 7 };

class CborReader {
 public:
  explicit CborReader(std::span<const uint8_t> in) : in_(in) {}

  Status peek_type(CborType& t) const;
  Status read_uint(uint64_t& v);
  Status read_int(int64_t& v);                 // major 0 or 1, fits int64
  Status read_bytes(std::span<const uint8_t>& v);
  Status read_text(std::span<const uint8_t>& v);  // UTF-8 not validated, bytes returned
  Status read_array(uint64_t& count);
  Status read_map(uint64_t& count);
  Status read_tag(uint64_t& tag);
  Status read_bool(bool& v);
  Status skip();                               // skip one item (nested, depth-limited)

  size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::span<const uint8_t> rest() const { return in_.subspan(pos_); }

 private:
  Status head(uint8_t& major, uint64_t& arg);
  Status skip_depth(int depth);
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace redoubt::policy
