#include "policy/fs/der.hpp"

namespace redoubt::policy {

Status DerReader::next(DerItem& out) {
  const size_t at = pos_;
  if (in_.size() - pos_ < 2) return Status::fail(Err::malformed, "der: truncated TLV at offset %zu", at);
  const uint8_t tag = in_[pos_];
  if ((tag & 0x1f) == 0x1f) return Status::fail(Err::malformed, "der: multi-byte tag at offset %zu", at);
  const uint8_t l0 = in_[pos_ + 1];
  size_t p = pos_ + 2;
  size_t len;
  if (l0 < 0x80) {
    len = l0;
  } else {
    const size_t n = l0 & 0x7f;
    // X.690 §10.1: definite form, fewest octets; we need at most 3 (16 MiB).
    if (n == 0) return Status::fail(Err::malformed, "der: indefinite length at offset %zu", at);
    if (n > 3) return Status::fail(Err::malformed, "der: %zu-byte length at offset %zu is too large", n, at);
    if (in_.size() - p < n) return Status::fail(Err::malformed, "der: truncated length at offset %zu", at);
    if (in_[p] == 0) return Status::fail(Err::malformed, "der: non-minimal length at offset %zu", at);
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | in_[p + i];
    if (len < 0x80) return Status::fail(Err::malformed, "der: non-minimal length at offset %zu", at);
    p += n;
  }
  if (len > in_.size() - p)
    return Status::fail(Err::malformed, "der: length %zu exceeds remaining %zu bytes at offset %zu", len, in_.size() - p, at);
  out.tag = tag;
  out.body = in_.subspan(p, len);
  out.whole = in_.subspan(at, p + len - at);
  pos_ = p + len;
  return Status::ok();
}

Status DerReader::expect(uint8_t tag, DerItem& out, const char* what) {
  const size_t at = pos_;
  Status st = next(out);
  if (!st) return Status::fail(Err::malformed, "der: %s: %s", what, st.message());
  if (out.tag != tag) {
    pos_ = at;
    return Status::fail(Err::malformed, "der: %s: expected tag 0x%02x, found 0x%02x at offset %zu", what, tag, out.tag, at);
  }
  return Status::ok();
}

bool bytes_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

namespace {

bool digits(std::span<const uint8_t> s, size_t at, size_t n, uint32_t& v) {
  v = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = s[at + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

// Days from 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, uint32_t m, uint32_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const uint32_t yoe = static_cast<uint32_t>(y - era * 400);
  const uint32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Status der_time(const DerItem& t, uint32_t& days, uint32_t& seconds) {
  const auto s = t.body;
  size_t yl;
  if (t.tag == der::kUtcTime) yl = 2;
  else if (t.tag == der::kGenTime) yl = 4;
  else return Status::fail(Err::malformed, "der: time has tag 0x%02x, not UTCTime or GeneralizedTime", t.tag);
  // RFC 5280 §4.1.2.5: always seconds, always 'Z', no fractions.
  if (s.size() != yl + 11 || s[s.size() - 1] != 'Z') return Status::fail(Err::malformed, "der: time is not in the RFC 5280 form ...SSZ");
  uint32_t y, mo, d, h, mi, se;
  if (!digits(s, 0, yl, y) || !digits(s, yl, 2, mo) || !digits(s, yl + 2, 2, d) || !digits(s, yl + 4, 2, h) ||
      !digits(s, yl + 6, 2, mi) || !digits(s, yl + 8, 2, se))
    return Status::fail(Err::malformed, "der: time contains a non-digit");
  if (yl == 2) y += y < 50 ? 2000 : 1900;  // RFC 5280 §4.1.2.5.1
  static constexpr uint8_t kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kMonthDays[mo - 1] || h > 23 || mi > 59 || se > 59)
    return Status::fail(Err::malformed, "der: time %04u-%02u-%02u %02u:%02u:%02u is out of range", y, mo, d, h, mi, se);
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return Status::fail(Err::malformed, "der: time %04u-02-29 is not a leap day", y);
  days = static_cast<uint32_t>(days_from_civil(y, mo, d) + kUnixEpochDays);
  seconds = h * 3600 + mi * 60 + se;
  return Status::ok();
}

void der_name_cn(std::span<const uint8_t> name, char* out, size_t cap) {
  static constexpr uint8_t kCn[] = {0x55, 0x04, 0x03};  // 2.5.4.3
  static constexpr char kNone[] = "(no CN)";
  size_t k = 0;
  DerReader top(name);
  DerItem seq, rdn, atv, oid, val;
  if (top.expect(der::kSequence, seq, "name")) {
    DerReader rdns(seq.body);
    while (!rdns.at_end() && rdns.expect(der::kSet, rdn, "rdn")) {
      DerReader atvs(rdn.body);
      while (!atvs.at_end() && atvs.expect(der::kSequence, atv, "atv")) {
        DerReader f(atv.body);
        if (!f.expect(der::kOid, oid, "type") || !bytes_equal(oid.body, kCn) || !f.next(val)) continue;
        for (; k < val.body.size() && k + 1 < cap; ++k) {
          const uint8_t c = val.body[k];
          out[k] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
        }
        out[k] = '\0';
        return;
      }
    }
  }
  for (; kNone[k] && k + 1 < cap; ++k) out[k] = kNone[k];
  if (cap) out[k] = '\0';
}

}  // namespace redoubt::policy
