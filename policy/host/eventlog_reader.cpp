#include "policy/host/eventlog_reader.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "policy/fs/pcr_map.hpp"

#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

constexpr uint32_t kMaxPcr = 23;             // TPM 2.0 PC Client: PCR0..23
constexpr uint32_t kMaxEventData = 16 << 20; // sanity bound on eventSize (16 MiB)
constexpr uint32_t kMaxAlgorithms = 16;

// All log fields are little-endian (PFP §10.2).
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}
  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }
  bool at_end() const { return pos_ == b_.size(); }
  // The record being read, named in "truncated event N <what>" (its text is built only on an error).
  void in_event(size_t index) { event_ = index; }
  void need(size_t n, size_t rec, const char* what) const {
    if (n > left())
      throw EventLogError(rec, std::string("truncated ") + (event_ == SIZE_MAX ? "" : "event " + std::to_string(event_) + " ") + what + ": needs " + std::to_string(n) + " bytes at offset " +
                                   std::to_string(pos_) + ", " + std::to_string(left()) + " remain");
  }
  uint8_t u8(size_t rec, const char* what) {
    need(1, rec, what);
    return b_[pos_++];
  }
  uint16_t u16(size_t rec, const char* what) {
    need(2, rec, what);
    uint16_t v = static_cast<uint16_t>(b_[pos_] | b_[pos_ + 1] << 8);
    pos_ += 2;
    return v;
  }
  uint32_t u32(size_t rec, const char* what) {
    need(4, rec, what);
    uint32_t v = static_cast<uint32_t>(b_[pos_]) | static_cast<uint32_t>(b_[pos_ + 1]) << 8 | static_cast<uint32_t>(b_[pos_ + 2]) << 16 |
                 static_cast<uint32_t>(b_[pos_ + 3]) << 24;
    pos_ += 4;
    return v;
  }
  std::span<const uint8_t> bytes(size_t n, size_t rec, const char* what) {
    need(n, rec, what);
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  size_t event_ = SIZE_MAX;
};

std::string hex16(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%04x", v);
  return b;
}

// Fetched once: EVP_sha256() & co. make EVP_Digest fetch the implementation again on every call
// (OpenSSL 3 implicit fetch, crypto(7)), a measurable share of a first-seen log's replay.
const EVP_MD* evp_md(HashAlg a) {
  static EVP_MD* const kMd[4] = {EVP_MD_fetch(nullptr, "SHA1", nullptr), EVP_MD_fetch(nullptr, "SHA256", nullptr),
                                 EVP_MD_fetch(nullptr, "SHA384", nullptr), EVP_MD_fetch(nullptr, "SHA512", nullptr)};
  switch (a) {
    case HashAlg::sha1: return kMd[0];
    case HashAlg::sha256: return kMd[1];
    case HashAlg::sha384: return kMd[2];
    case HashAlg::sha512: return kMd[3];
  }
  return nullptr;
}

}  // namespace

EventLog parse_event_log(std::span<const uint8_t> log) {
  EventLog out;
  Cursor c(log);
  if (log.empty()) throw EventLogError(0, "empty log");
  // Header: TCG_PCClientPCREvent (SHA-1 format, PFP §10.2.1) carrying TCG_EfiSpecIdEvent (§10.4.5.1).
  const uint32_t pcr = c.u32(0, "header");
  const uint32_t type = c.u32(0, "header");
  if (type != kEvNoAction) throw EventLogError(0, "first record has event type " + hex16(type) + ", expected EV_NO_ACTION (Spec ID header)");
  if (pcr != 0) throw EventLogError(0, "Spec ID header is in PCR " + std::to_string(pcr) + ", expected 0");
  auto zero = c.bytes(20, 0, "header");
  for (uint8_t b : zero)
    if (b) throw EventLogError(8, "Spec ID header digest is not zero");
  const uint32_t hdr_size = c.u32(0, "header");
  if (hdr_size > c.left())
    throw EventLogError(28, "Spec ID event size " + std::to_string(hdr_size) + " exceeds remaining " + std::to_string(c.left()) + " bytes");
  const size_t hdr_start = c.pos();
  static constexpr uint8_t kSig[16] = {'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0};
  if (hdr_size < 29) throw EventLogError(28, "Spec ID event size " + std::to_string(hdr_size) + " is below the minimum 29");
  auto sig = c.bytes(16, 0, "Spec ID signature");
  if (std::memcmp(sig.data(), kSig, 16) != 0) throw EventLogError(hdr_start, "bad Spec ID signature (expected \"Spec ID Event03\")");
  c.u32(0, "platformClass");
  const uint8_t minor = c.u8(0, "specVersionMinor");
  const uint8_t major = c.u8(0, "specVersionMajor");
  c.u8(0, "specErrata");
  const uint8_t uintn = c.u8(0, "uintnSize");
  if (major != 2 || minor != 0)
    throw EventLogError(hdr_start + 20, "Spec ID version " + std::to_string(major) + "." + std::to_string(minor) + ", expected 2.0");
  if (uintn != 1 && uintn != 2) throw EventLogError(hdr_start + 23, "uintnSize " + std::to_string(uintn) + " is not 1 or 2");
  const size_t nalg_at = c.pos();
  const uint32_t nalg = c.u32(0, "numberOfAlgorithms");
  if (nalg == 0 || nalg > kMaxAlgorithms)
    throw EventLogError(nalg_at, "numberOfAlgorithms " + std::to_string(nalg) + " is not in 1.." + std::to_string(kMaxAlgorithms));
  if (29 + 4ull * nalg > hdr_size)
    throw EventLogError(nalg_at, std::to_string(nalg) + " algorithms do not fit the Spec ID event of " + std::to_string(hdr_size) + " bytes");
  for (uint32_t i = 0; i < nalg; ++i) {
    const size_t at = c.pos();
    const uint16_t id = c.u16(0, "algorithm id");
    const uint16_t size = c.u16(0, "digest size");
    HashAlg a;
    if (!hash_alg_from_id(id, a)) throw EventLogError(at, "unknown hash algorithm " + hex16(id) + " in the Spec ID header");
    if (size != digest_size(a))
      throw EventLogError(at, std::string(hash_alg_name(a)) + " digest size " + std::to_string(size) + ", expected " +
                                  std::to_string(digest_size(a)));
    for (auto& b : out.banks)
      if (b.first == a) throw EventLogError(at, std::string("algorithm ") + hash_alg_name(a) + " listed twice in the Spec ID header");
    out.banks.emplace_back(a, size);
  }
  const uint8_t vendor = c.u8(0, "vendorInfoSize");
  if (c.pos() + vendor != hdr_start + hdr_size)
    throw EventLogError(hdr_start, "Spec ID event size " + std::to_string(hdr_size) + " does not match its contents (" +
                                       std::to_string(c.pos() + vendor - hdr_start) + " bytes)");
  c.bytes(vendor, 0, "vendorInfo");

  // TCG_PCR_EVENT2 records (PFP §10.2.2).
  while (!c.at_end()) {
    LogEvent e;
    e.index = out.events.size();
    e.offset = c.pos();
    const auto rec = [&] { return "event " + std::to_string(e.index); };  // for messages only: no string per event
    c.in_event(e.index);
    e.pcr = c.u32(e.offset, "pcrIndex");
    if (e.pcr > kMaxPcr) throw EventLogError(e.offset, rec() + ": PCR index " + std::to_string(e.pcr) + " out of range 0.." + std::to_string(kMaxPcr));
    e.type = c.u32(e.offset, "eventType");
    const size_t count_at = c.pos();
    const uint32_t count = c.u32(e.offset, "digest count");
    if (count != out.banks.size())
      throw EventLogError(count_at, rec() + ": digest count " + std::to_string(count) + " does not match the " +
                                        std::to_string(out.banks.size()) + " algorithms in the Spec ID header");
    e.digests.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      const size_t at = c.pos();
      const uint16_t id = c.u16(e.offset, "hashAlg");
      HashAlg a;
      if (!hash_alg_from_id(id, a)) throw EventLogError(at, rec() + ": unknown hash algorithm " + hex16(id));
      bool in_header = false;
      for (auto& b : out.banks) in_header |= b.first == a;
      if (!in_header) throw EventLogError(at, rec() + ": digest algorithm " + hash_alg_name(a) + " is not in the Spec ID header");
      for (auto& d : e.digests)
        if (d.first == a) throw EventLogError(at, rec() + ": two " + hash_alg_name(a) + " digests");
      auto d = c.bytes(digest_size(a), e.offset, "digest");
      e.digests.emplace_back(a, std::vector<uint8_t>(d.begin(), d.end()));
    }
    const size_t size_at = c.pos();
    const uint32_t size = c.u32(e.offset, "eventSize");
    if (size > kMaxEventData || size > c.left())
      throw EventLogError(size_at, rec() + ": eventSize " + std::to_string(size) + " exceeds remaining " + std::to_string(c.left()) + " bytes");
    auto data = c.bytes(size, e.offset, "event data");
    e.data.assign(data.begin(), data.end());
    out.events.push_back(std::move(e));
  }
  return out;
}

namespace {

using Replayed = std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>>;

Replayed replay(const EventLog& log, const std::map<HashAlg, std::set<uint32_t>>* wanted) {
  Replayed pcrs;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);  // one for the whole replay
  if (!ctx) throw EventLogError(0, "hashing failed during replay (no digest context)");
  for (const auto& e : log.events) {
    if (e.type == kEvNoAction) continue;  // PFP §10.4.5: EV_NO_ACTION is informational, never extended
    for (const auto& [alg, digest] : e.digests) {
      if (wanted) {
        const auto bank = wanted->find(alg);
        if (bank == wanted->end() || !bank->second.count(e.pcr)) continue;
      }
      auto& v = pcrs[alg][e.pcr];
      if (v.empty()) v.assign(digest_size(alg), 0);
      // TPM 2.0 Part 1 §17.2 PCR extend: PCR_new = H(PCR_old || digest), hashed in place.
      unsigned len = 0;
      uint8_t out[EVP_MAX_MD_SIZE];
      if (EVP_DigestInit_ex(ctx.get(), evp_md(alg), nullptr) != 1 || EVP_DigestUpdate(ctx.get(), v.data(), v.size()) != 1 ||
          EVP_DigestUpdate(ctx.get(), digest.data(), digest.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out, &len) != 1)
        throw EventLogError(e.offset, "hashing failed during replay");
      v.assign(out, out + len);
    }
  }
  return pcrs;
}

}  // namespace

Replayed replay_event_log(const EventLog& log) { return replay(log, nullptr); }

Replayed replay_event_log(const EventLog& log, const std::map<HashAlg, std::set<uint32_t>>& wanted) { return replay(log, &wanted); }

namespace {

std::string summarize(const std::vector<uint8_t>& data) {
  constexpr size_t kMax = 40;
  if (data.empty()) return "-";
  // Printable ASCII (allowing one trailing NUL) is shown as text, anything else as hex.
  size_t n = data.size();
  if (data.back() == 0) --n;
  bool printable = n > 0;
  for (size_t i = 0; i < n && printable; ++i) printable = data[i] >= 0x20 && data[i] < 0x7f;
  std::string s;
  if (printable) {
    s = "\"" + std::string(data.begin(), data.begin() + static_cast<long>(std::min(n, kMax))) + (n > kMax ? "\"…" : "\"");
  } else {
    const size_t m = std::min(data.size(), kMax / 2);
    s = hex({data.data(), m}) + (data.size() > m ? "…" : "");
  }
  return s + " (" + std::to_string(data.size()) + " B)";
}

}  // namespace

std::string format_event_log(const EventLog& log) {
  std::string out = "banks:";
  for (const auto& [a, size] : log.banks) out += std::string(" ") + hash_alg_name(a) + "(" + std::to_string(size) + ")";
  out += "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-5s %-4s %-28s %-18s %s\n", "#", "PCR", "type", "sha256", "data");
  out += line;
  for (const auto& e : log.events) {
    std::string d = "-";
    for (const auto& [a, dig] : e.digests)
      if (a == HashAlg::sha256) d = hex({dig.data(), 8}) + "…";
    std::snprintf(line, sizeof line, "%-5zu %-4u %-28s %-18s %s\n", e.index, e.pcr, event_type_name(e.type), d.c_str(), summarize(e.data).c_str());
    out += line;
  }
  for (const auto& [alg, pcrs] : replay_event_log(log)) {
    out += std::string("replayed ") + hash_alg_name(alg) + ":\n";
    for (const auto& [pcr, v] : pcrs) out += "  pcr" + std::to_string(pcr) + " " + hex(v) + "\n";
  }
  return out;
}

}  // namespace redoubt::policy
