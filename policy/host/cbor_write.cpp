#include "policy/host/cbor_write.hpp"

namespace redoubt::policy {

CborWriter& CborWriter::head(uint8_t major, uint64_t arg) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out_.push_back(static_cast<uint8_t>(m | arg));
    return *this;
  }
  const int w = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffULL ? 4 : 8;
  out_.push_back(static_cast<uint8_t>(m | (w == 1 ? 24 : w == 2 ? 25 : w == 4 ? 26 : 27)));
  for (int i = w - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(arg >> (8 * i)));
  return *this;
}

CborWriter& CborWriter::bytes(std::span<const uint8_t> b) {
  head(2, b.size());
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

CborWriter& CborWriter::text(std::string_view s) {
  head(3, s.size());
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}

}  // namespace redoubt::policy
