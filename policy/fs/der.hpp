// A small, bounds-checked DER (ITU-T X.690 §10) reader for freestanding code:
// single-byte tags only, definite minimal lengths, no allocation. Enough to walk
// X.509 certificates (RFC 5280) for the fields the BearSSL minimal engine does
// not check for us (extensions, serial, names, validity).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/status.hpp"

namespace redoubt::policy {

// Universal / context tags used by X.509 (X.690 §8, RFC 5280 §4.1).
namespace der {
inline constexpr uint8_t kBoolean = 0x01, kInteger = 0x02, kBitString = 0x03, kOctetString = 0x04, kNull = 0x05,
                         kOid = 0x06, kUtf8 = 0x0c, kPrintable = 0x13, kUtcTime = 0x17, kGenTime = 0x18,
                         kSequence = 0x30, kSet = 0x31, kCtx0 = 0xa0, kCtx3 = 0xa3;
}  // namespace der

struct DerItem {
  uint8_t tag = 0;
  std::span<const uint8_t> body;   // contents octets
  std::span<const uint8_t> whole;  // tag + length + contents (what gets hashed)
};

class DerReader {
 public:
  explicit DerReader(std::span<const uint8_t> in) : in_(in) {}
  // Reads the next TLV. Refuses multi-byte tags, indefinite or non-minimal
  // lengths, lengths beyond the input (naming the offset).
  Status next(DerItem& out);
  // next() + a tag check ("what" names the field in the message).
  Status expect(uint8_t tag, DerItem& out, const char* what);
  bool peek(uint8_t tag) const { return pos_ < in_.size() && in_[pos_] == tag; }
  bool at_end() const { return pos_ == in_.size(); }
  size_t offset() const { return pos_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

bool bytes_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

// UTCTime (YYMMDDHHMMSSZ, RFC 5280 §4.1.2.5.1) or GeneralizedTime
// (YYYYMMDDHHMMSSZ, §4.1.2.5.2) -> days since 0000-01-01 (proleptic Gregorian,
// BearSSL's convention) and seconds in the day.
Status der_time(const DerItem& t, uint32_t& days, uint32_t& seconds);

// Unix time (seconds since 1970-01-01T00:00:00Z) -> BearSSL days/seconds.
inline constexpr uint32_t kUnixEpochDays = 719528;  // days from 0000-01-01 to 1970-01-01
inline void unix_to_days(uint64_t t, uint32_t& days, uint32_t& seconds) {
  days = static_cast<uint32_t>(kUnixEpochDays + t / 86400);
  seconds = static_cast<uint32_t>(t % 86400);
}

// The commonName (2.5.4.3) of an X.500 Name TLV, printable ASCII only, for
// messages: copies at most cap-1 bytes ('?' for others), always terminated;
// "(no CN)" when there is none.
void der_name_cn(std::span<const uint8_t> name, char* out, size_t cap);

}  // namespace redoubt::policy
