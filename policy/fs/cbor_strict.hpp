// Helpers for Redoubt's strict integer-keyed CBOR maps (docs/formats.md §1):
// keys are unsigned, 1..max, strictly ascending (so never duplicated).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"
#include "policy/fs/cbor.hpp"

namespace redoubt::policy {

class StrictMap {
 public:
  StrictMap(CborReader& r, const char* what, uint64_t max_key) : r_(r), what_(what), max_(max_key) {}
  Status open(uint64_t& count) {
    Status st = r_.read_map(count);
    if (!st) return Status::fail(Err::malformed, "%s: not a map: %s", what_, st.message());
    return Status::ok();
  }
  Status key(uint64_t& k) {
    const size_t at = r_.offset();
    Status st = r_.read_uint(k);
    if (!st) return Status::fail(Err::malformed, "%s: map key is not an unsigned integer: %s", what_, st.message());
    if (k == 0 || k > max_)
      return Status::fail(Err::malformed, "%s: unknown key %llu at offset %zu", what_, static_cast<unsigned long long>(k), at);
    if (k == last_)
      return Status::fail(Err::malformed, "%s: duplicate key %llu at offset %zu", what_, static_cast<unsigned long long>(k), at);
    if (k < last_)
      return Status::fail(Err::malformed, "%s: key %llu after %llu: keys not in ascending order", what_,
                          static_cast<unsigned long long>(k), static_cast<unsigned long long>(last_));
    last_ = k;
    seen_ |= 1ull << k;
    return Status::ok();
  }
  bool seen(uint64_t k) const { return (seen_ >> k) & 1; }

 private:
  CborReader& r_;
  const char* what_;
  uint64_t max_;
  uint64_t last_ = 0;
  uint64_t seen_ = 0;
};

// Copies a text string into a NUL-terminated field; refuses over-long text and NULs.
inline Status strict_text(std::span<const uint8_t> t, char* out, size_t cap, const char* what) {
  if (t.size() > cap - 1) return Status::fail(Err::malformed, "%s is %zu bytes, at most %zu allowed", what, t.size(), cap - 1);
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == 0) return Status::fail(Err::malformed, "%s contains a NUL byte at %zu", what, i);
    out[i] = static_cast<char>(t[i]);
  }
  out[t.size()] = '\0';
  return Status::ok();
}

inline bool text_is(std::span<const uint8_t> t, const char* want) {
  size_t i = 0;
  for (; want[i]; ++i)
    if (i >= t.size() || t[i] != static_cast<uint8_t>(want[i])) return false;
  return i == t.size();
}

}  // namespace redoubt::policy
