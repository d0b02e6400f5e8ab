#include "policy/host/drtm_marker.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "policy/fs/pcr_map.hpp"

namespace redoubt::policy {
namespace {

// "" when `s` is well-formed UTF-8 (RFC 3629 §4: no overlongs, no surrogates, nothing
// above U+10FFFF) without NUL, else why not (with the byte offset).
std::string utf8_problem(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == 0) return "a NUL at byte " + std::to_string(i);
    const size_t n = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 3) {
      const auto c = static_cast<unsigned char>(s[i + 1]);
      ok = !(b == 0xE0 && c < 0xA0) && !(b == 0xED && c > 0x9F);
    }
    if (ok && n == 4) {
      const auto c = static_cast<unsigned char>(s[i + 1]);
      ok = !(b == 0xF0 && c < 0x90) && !(b == 0xF4 && c > 0x8F);
    }
    if (!ok) return "invalid UTF-8 at byte " + std::to_string(i);
    i += n;
  }
  return "";
}

void check_text(std::string_view text) {
  if (text.empty()) throw DrtmMarkerError("text", "the text is empty (it names the platform and how the DRTM was emulated)");
  if (text.size() > kEmulatedDrtmMaxText)
    throw DrtmMarkerError("text", "the text is " + std::to_string(text.size()) + " bytes, more than " + std::to_string(kEmulatedDrtmMaxText));
  if (std::string why = utf8_problem(text); !why.empty()) throw DrtmMarkerError("text", "the text has " + why);
}

void put_u16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put_u32(std::vector<uint8_t>& b, uint32_t v) {  // PFP §10.2: little-endian
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

std::vector<uint8_t> emulated_drtm_marker_data(const std::string& text) {
  check_text(text);
  std::vector<uint8_t> d(kEmulatedDrtmSignature, kEmulatedDrtmSignature + sizeof kEmulatedDrtmSignature);
  put_u32(d, kEmulatedDrtmVersion);
  d.insert(d.end(), text.begin(), text.end());
  return d;
}

std::vector<uint8_t> insert_emulated_drtm_marker(const std::vector<uint8_t>& log, const std::string& text) {
  const std::vector<uint8_t> data = emulated_drtm_marker_data(text);
  EventLog parsed;
  try {
    parsed = parse_event_log(log);
  } catch (const EventLogError& e) {
    throw DrtmMarkerError("log", std::string("cannot insert into this log: ") + e.what());
  }
  for (const LogEvent& e : parsed.events)
    if (claims_emulated_drtm_marker(e))
      throw DrtmMarkerError("duplicated", "the log already has one (event #" + std::to_string(e.index) + ", PCR" + std::to_string(e.pcr) + ")");
  // TCG_PCR_EVENT2 (PFP §10.2.2): pcrIndex, eventType, TPML_DIGEST_VALUES (a digest for every Spec ID
  // bank, EV_NO_ACTION included: PFP §10.1; zero, as EV_NO_ACTION is not extended: §10.4.5), eventSize, event.
  std::vector<uint8_t> rec;
  put_u32(rec, kEmulatedDrtmPcr);
  put_u32(rec, kEvNoAction);
  put_u32(rec, static_cast<uint32_t>(parsed.banks.size()));
  for (const auto& [alg, size] : parsed.banks) {
    put_u16(rec, static_cast<uint16_t>(alg));
    rec.insert(rec.end(), size, 0);
  }
  put_u32(rec, static_cast<uint32_t>(data.size()));
  rec.insert(rec.end(), data.begin(), data.end());
  // The header ends where the first event starts (or at the end of a log without events).
  const size_t at = parsed.events.empty() ? log.size() : parsed.events.front().offset;
  std::vector<uint8_t> out(log.begin(), log.begin() + static_cast<long>(at));
  out.insert(out.end(), rec.begin(), rec.end());
  out.insert(out.end(), log.begin() + static_cast<long>(at), log.end());
  return out;
}

bool claims_emulated_drtm_marker(const LogEvent& e) {
  constexpr size_t kPrefix = sizeof kEmulatedDrtmSignature - 1;
  return e.type == kEvNoAction && e.data.size() >= kPrefix && std::memcmp(e.data.data(), kEmulatedDrtmSignature, kPrefix) == 0;
}

EmulatedDrtmMarker parse_emulated_drtm_marker_data(std::span<const uint8_t> data) {
  if (data.size() < sizeof kEmulatedDrtmSignature || std::memcmp(data.data(), kEmulatedDrtmSignature, sizeof kEmulatedDrtmSignature) != 0)
    throw DrtmMarkerError("signature", "the event data does not begin with the 16-byte signature \"RedoubtEmulDRTM\\0\"");
  if (data.size() < sizeof kEmulatedDrtmSignature + 4)
    throw DrtmMarkerError("truncated", "the event data is " + std::to_string(data.size()) + " bytes: no room for the 4-byte version after the signature");
  const uint8_t* v = data.data() + sizeof kEmulatedDrtmSignature;
  EmulatedDrtmMarker m;
  m.version = static_cast<uint32_t>(v[0]) | static_cast<uint32_t>(v[1]) << 8 | static_cast<uint32_t>(v[2]) << 16 | static_cast<uint32_t>(v[3]) << 24;
  if (m.version != kEmulatedDrtmVersion)
    throw DrtmMarkerError("version", "version " + std::to_string(m.version) + " (" + hex32(m.version) + "), only version " +
                                         std::to_string(kEmulatedDrtmVersion) + " is defined");
  m.text.assign(reinterpret_cast<const char*>(v + 4), data.size() - sizeof kEmulatedDrtmSignature - 4);
  check_text(m.text);
  return m;
}

EmulatedDrtmMarker parse_emulated_drtm_marker(const LogEvent& e) {
  if (e.type != kEvNoAction)
    throw DrtmMarkerError("type", std::string("event type ") + event_type_name(e.type) + " (" + hex32(e.type) + "), the marker is EV_NO_ACTION");
  if (e.pcr != kEmulatedDrtmPcr)
    throw DrtmMarkerError("pcr", "on PCR" + std::to_string(e.pcr) + ", the marker belongs on PCR" + std::to_string(kEmulatedDrtmPcr) +
                                     " (the DRTM PCR SKINIT extends)");
  for (const auto& [alg, d] : e.digests)
    for (uint8_t b : d)
      if (b != 0)
        throw DrtmMarkerError("digest", std::string("the ") + hash_alg_name(alg) +
                                            " digest is not zero: an EV_NO_ACTION event is not extended and carries zero digests (PFP §10.4.5)");
  return parse_emulated_drtm_marker_data(e.data);
}

std::optional<EmulatedDrtmMarker> find_emulated_drtm_marker(const EventLog& log) {
  std::optional<EmulatedDrtmMarker> found;
  const LogEvent* first = nullptr;
  for (const LogEvent& e : log.events) {
    if (!claims_emulated_drtm_marker(e)) continue;
    if (first)
      throw DrtmMarkerError("duplicated", "event #" + std::to_string(e.index) + " is a second marker; event #" + std::to_string(first->index) +
                                              " is the first");
    first = &e;
    if (e.index != 0)
      throw DrtmMarkerError("position", "event #" + std::to_string(e.index) +
                                            ": the marker is the first event after the Spec ID header, before the SKINIT measurement");
    found = parse_emulated_drtm_marker(e);
  }
  return found;
}

}  // namespace redoubt::policy
