// How findings name a DRTM log event: "event #N (PCRp, TYPE, sha256 …)" for
// people and {"index", "pcr", "type", "type_id", "sha256"} for programs.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "attestation/common/encoding.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

inline Bytes digest_of(const policy::LogEvent& e, HashAlg a) {
  for (const auto& [alg, d] : e.digests)
    if (alg == a) return d;
  return {};
}

inline nlohmann::json event_json(const policy::LogEvent& e) {
  return {{"index", e.index},
          {"pcr", e.pcr},
          {"type", policy::event_type_name(e.type)},
          {"type_id", e.type},
          {"sha256", to_hex(digest_of(e, HashAlg::sha256))}};
}

// A string the endpoint's log carries (manifest name/version/cmdline, policy name, certificate
// subject) as a JSON-safe claim: policy/fs accepts any bytes but NUL there, and nlohmann::json
// throws on dump() for invalid UTF-8 (found by fuzz_guest_appraiser, issue 16), so each byte of an
// invalid sequence becomes U+FFFD. Valid UTF-8 (RFC 3629 §4) passes unchanged.
inline std::string log_string(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 3) {  // no overlongs (E0 80..9F), no surrogates (ED A0..BF)
      const auto c = static_cast<unsigned char>(s[i + 1]);
      ok = !(b == 0xE0 && c < 0xA0) && !(b == 0xED && c > 0x9F);
    }
    if (ok && n == 4) {  // no overlongs (F0 80..8F), nothing above U+10FFFF (F4 90..)
      const auto c = static_cast<unsigned char>(s[i + 1]);
      ok = !(b == 0xF0 && c < 0x90) && !(b == 0xF4 && c > 0x8F);
    }
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

inline std::string event_text(const policy::LogEvent& e) {
  return "event #" + std::to_string(e.index) + " (PCR" + std::to_string(e.pcr) + ", " + policy::event_type_name(e.type) + ", sha256 " +
         to_hex(digest_of(e, HashAlg::sha256)).substr(0, 16) + "…)";
}

}  // namespace redoubt::attest
