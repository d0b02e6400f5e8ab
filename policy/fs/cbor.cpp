#include "policy/fs/cbor.hpp"

namespace redoubt::policy {
namespace {

constexpr int kMaxDepth = 16;  // nesting limit for skip(); our formats need 3

const char* major_name(uint8_t major) {
  switch (major) {
    case 0: return "unsigned integer";
    case 1: return "negative integer";
    case 2: return "byte string";
    case 3: return "text string";
    case 4: return "array";
    case 5: return "map";
    case 6: return "tag";
    default: return "simple/float";
  }
}

}  // namespace

// RFC 8949 §3: initial byte = major type (3 bits) | additional info (5 bits).
// We accept only definite lengths in shortest form (RFC 8949 §4.2.1 core
// deterministic encoding, required of COSE by RFC 9052 §9).
Status CborReader::head(uint8_t& major, uint64_t& arg) {
  const size_t at = pos_;
  if (pos_ >= in_.size()) return Status::fail(Err::malformed, "cbor: unexpected end of input at offset %zu", at);
  const uint8_t ib = in_[pos_++];
  major = ib >> 5;
  const uint8_t ai = ib & 0x1f;
  if (ai < 24) {
    arg = ai;
    return Status::ok();
  }
  if (ai == 31)  // RFC 8949 §3.2: indefinite length / break
    return Status::fail(Err::malformed, "cbor: indefinite-length %s not allowed at offset %zu", major_name(major), at);
  if (ai > 27)  // RFC 8949 §3: 28..30 are reserved
    return Status::fail(Err::malformed, "cbor: reserved additional info %u at offset %zu", ai, at);
  const size_t n = size_t{1} << (ai - 24);
  if (in_.size() - pos_ < n)
    return Status::fail(Err::malformed, "cbor: truncated head: %zu-byte argument needs %zu bytes, %zu remain at offset %zu",
                        n, n, in_.size() - pos_, at);
  arg = 0;
  for (size_t i = 0; i < n; ++i) arg = (arg << 8) | in_[pos_++];
  if (major == 7) {
    // Floats (ai 25..27) carry bits, not a length: no shortest-form rule.
    if (ai == 24 && arg < 32)  // RFC 8949 §3.3: simple values < 32 need the 1-byte form
      return Status::fail(Err::malformed, "cbor: invalid two-byte simple value %u at offset %zu", static_cast<unsigned>(arg), at);
    return Status::ok();
  }
  const uint64_t min = n == 1 ? 24 : n == 2 ? 0x100 : n == 4 ? 0x10000 : 0x100000000ULL;
  if (arg < min)
    return Status::fail(Err::malformed, "cbor: non-shortest encoding of %s argument %llu at offset %zu", major_name(major),
                        static_cast<unsigned long long>(arg), at);
  return Status::ok();
}

Status CborReader::peek_type(CborType& t) const {
  if (pos_ >= in_.size()) return Status::fail(Err::malformed, "cbor: unexpected end of input at offset %zu", pos_);
  t = static_cast<CborType>(in_[pos_] >> 5);
  return Status::ok();
}

namespace {
Status wrong_type(const char* want, uint8_t got, size_t at) {
  return Status::fail(Err::malformed, "cbor: expected %s, found %s at offset %zu", want, major_name(got), at);
}
}  // namespace

Status CborReader::read_uint(uint64_t& v) {
  const size_t at = pos_;
  uint8_t major;
  uint64_t arg;
  REDOUBT_TRY(head(major, arg));
  if (major != 0) {
    pos_ = at;
    return wrong_type("unsigned integer", major, at);
  }
  v = arg;
  return Status::ok();
}

Status CborReader::read_int(int64_t& v) {
  const size_t at = pos_;
  uint8_t major;
  uint64_t arg;
  REDOUBT_TRY(head(major, arg));
  if (major != 0 && major != 1) {
    pos_ = at;
    return wrong_type("integer", major, at);
  }
  if (arg > static_cast<uint64_t>(INT64_MAX)) {
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: integer out of int64 range at offset %zu", at);
  }
  v = major == 0 ? static_cast<int64_t>(arg) : -1 - static_cast<int64_t>(arg);  // RFC 8949 §3.1: -1 - arg
  return Status::ok();
}

Status CborReader::read_bytes(std::span<const uint8_t>& v) {
  const size_t at = pos_;
  uint8_t major;
  uint64_t len;
  REDOUBT_TRY(head(major, len));
  if (major != 2) {
    pos_ = at;
    return wrong_type("byte string", major, at);
  }
  if (len > in_.size() - pos_) {
    const size_t rem = in_.size() - pos_;
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: byte string length %llu exceeds remaining %zu bytes at offset %zu",
                        static_cast<unsigned long long>(len), rem, at);
  }
  v = in_.subspan(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return Status::ok();
}

Status CborReader::read_text(std::span<const uint8_t>& v) {
  const size_t at = pos_;
  uint8_t major;
  uint64_t len;
  REDOUBT_TRY(head(major, len));
  if (major != 3) {
    pos_ = at;
    return wrong_type("text string", major, at);
  }
  if (len > in_.size() - pos_) {
    const size_t rem = in_.size() - pos_;
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: text string length %llu exceeds remaining %zu bytes at offset %zu",
                        static_cast<unsigned long long>(len), rem, at);
  }
  v = in_.subspan(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return Status::ok();
}

Status CborReader::read_array(uint64_t& count) {
  const size_t at = pos_;
  uint8_t major;
  REDOUBT_TRY(head(major, count));
  if (major != 4) {
    pos_ = at;
    return wrong_type("array", major, at);
  }
  // Every item takes at least one byte: a count above the remaining input is a lie.
  if (count > in_.size() - pos_) {
    const size_t rem = in_.size() - pos_;
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: array of %llu items exceeds remaining %zu bytes at offset %zu",
                        static_cast<unsigned long long>(count), rem, at);
  }
  return Status::ok();
}

Status CborReader::read_map(uint64_t& count) {
  const size_t at = pos_;
  uint8_t major;
  REDOUBT_TRY(head(major, count));
  if (major != 5) {
    pos_ = at;
    return wrong_type("map", major, at);
  }
  if (count > (in_.size() - pos_) / 2) {
    const size_t rem = in_.size() - pos_;
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: map of %llu pairs exceeds remaining %zu bytes at offset %zu",
                        static_cast<unsigned long long>(count), rem, at);
  }
  return Status::ok();
}

Status CborReader::read_tag(uint64_t& tag) {
  const size_t at = pos_;
  uint8_t major;
  REDOUBT_TRY(head(major, tag));
  if (major != 6) {
    pos_ = at;
    return wrong_type("tag", major, at);
  }
  if (pos_ >= in_.size()) {
    pos_ = at;
    return Status::fail(Err::malformed, "cbor: tag %llu without content at offset %zu", static_cast<unsigned long long>(tag), at);
  }
  return Status::ok();
}

Status CborReader::read_bool(bool& v) {
  const size_t at = pos_;
  if (pos_ >= in_.size()) return Status::fail(Err::malformed, "cbor: unexpected end of input at offset %zu", at);
  const uint8_t ib = in_[pos_];
  if (ib != 0xf4 && ib != 0xf5) return Status::fail(Err::malformed, "cbor: expected bool, found initial byte 0x%02x at offset %zu", ib, at);
  v = ib == 0xf5;  // RFC 8949 §3.3: simple values 20 (false) / 21 (true)
  ++pos_;
  return Status::ok();
}

Status CborReader::skip() {
  const size_t at = pos_;
  Status st = skip_depth(0);
  if (!st) pos_ = at;
  return st;
}

Status CborReader::skip_depth(int depth) {
  if (depth > kMaxDepth) return Status::fail(Err::malformed, "cbor: nesting deeper than %d at offset %zu", kMaxDepth, pos_);
  const size_t at = pos_;
  uint8_t major;
  uint64_t arg;
  REDOUBT_TRY(head(major, arg));
  switch (major) {
    case 0:
    case 1:
    case 7: return Status::ok();
    case 2:
    case 3:
      if (arg > in_.size() - pos_)
        return Status::fail(Err::malformed, "cbor: %s length %llu exceeds remaining %zu bytes at offset %zu", major_name(major),
                            static_cast<unsigned long long>(arg), in_.size() - pos_, at);
      pos_ += static_cast<size_t>(arg);
      return Status::ok();
    case 4:
    case 5: {
      const uint64_t rem = in_.size() - pos_;
      if (arg > (major == 4 ? rem : rem / 2))
        return Status::fail(Err::malformed, "cbor: %s of %llu %s exceeds remaining %zu bytes at offset %zu", major_name(major),
                            static_cast<unsigned long long>(arg), major == 4 ? "items" : "pairs", in_.size() - pos_, at);
      const uint64_t items = major == 4 ? arg : arg * 2;
      for (uint64_t i = 0; i < items; ++i) REDOUBT_TRY(skip_depth(depth + 1));
      return Status::ok();
    }
    default:  // 6: tag + one item
      return skip_depth(depth + 1);
  }
}

}  // namespace redoubt::policy
