// The emulated-DRTM marker: one informational event a test harness that performs
// SKINIT's measurement itself (QEMU + swtpm: the DRTM hash sequence over
// SLB[0:length] sent on swtpm's control channel, since QEMU emulates neither
// SKINIT nor locality 4) puts into the DRTM log, so that the verifier can tell
// such a launch from a real one (docs/attestation.md "Emulated DRTM (QEMU)").
//
// The record (TCG PC Client PFP 1.05 §10.2.2 TCG_PCR_EVENT2), the log's first
// event, right after the Spec ID Event03 header (§10.4.5.1):
//   pcrIndex  17
//   eventType EV_NO_ACTION (3): informational, never extended (PFP §10.4.5)
//   digests   one per bank of the Spec ID header, in its order (PFP §10.1, 1.04 §9.1: "there
//             SHALL be a corresponding digest in all TCG_PCR_EVENT2 structures ... This includes
//             EV_NO_ACTION events which do not extend the PCR"), all zero (PFP §10.4.5)
//   event     "RedoubtEmulDRTM\0" (16 bytes) || u32 version = 1 (little-endian,
//             PFP §10.2) || UTF-8 text, no NUL, 1..1024 bytes, naming the platform
//             and how, e.g. "qemu: SKINIT emulated by the host harness (swtpm
//             control channel HASH_START/DATA/END)".
// The marker is unauthenticated: it changes no PCR, so an endpoint can strip it.
// It is a declaration, not evidence; see the document above.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/host/eventlog_reader.hpp"

namespace redoubt::policy {

// "RedoubtEmulDRTM" and its NUL.
inline constexpr uint8_t kEmulatedDrtmSignature[16] = {'R', 'e', 'd', 'o', 'u', 'b', 't', 'E', 'm', 'u', 'l', 'D', 'R', 'T', 'M', 0};
inline constexpr uint32_t kEmulatedDrtmVersion = 1;
inline constexpr uint32_t kEmulatedDrtmPcr = 17;
inline constexpr size_t kEmulatedDrtmMaxText = 1024;

// A marker that is not what this header describes. cause(): "log" (not a parsable
// DRTM log), "type", "pcr", "digest", "signature", "truncated", "version", "text",
// "duplicated" (a second marker), "position" (not the first event after the header).
class DrtmMarkerError : public std::runtime_error {
 public:
  DrtmMarkerError(std::string cause, const std::string& message)
      : std::runtime_error("emulated-DRTM marker: " + message), cause_(std::move(cause)) {}
  const std::string& cause() const { return cause_; }

 private:
  std::string cause_;
};

struct EmulatedDrtmMarker {
  uint32_t version = 0;
  std::string text;  // valid UTF-8 (RFC 3629), no NUL
};

// The marker's event data for `text`. DrtmMarkerError("text") when the text is empty,
// longer than kEmulatedDrtmMaxText, holds a NUL or is not UTF-8.
std::vector<uint8_t> emulated_drtm_marker_data(const std::string& text);

// `log` (a crypto-agile DRTM log) with the marker inserted right after its Spec ID
// header, digests zero for each of the header's banks in header order. Throws
// DrtmMarkerError: "log" (the log does not parse: the reader's message), "text",
// "duplicated" (the log already has an event claiming to be the marker).
std::vector<uint8_t> insert_emulated_drtm_marker(const std::vector<uint8_t>& log, const std::string& text);

// Does `e` claim to be the marker: an EV_NO_ACTION whose data begins with
// "RedoubtEmulDRTM" (the signature without its NUL, so a bad terminator is still
// recognised and named rather than taken for some other event)?
bool claims_emulated_drtm_marker(const LogEvent& e);

// The marker's event data: signature, version 1, text. Throws DrtmMarkerError
// ("signature", "truncated", "version", "text").
EmulatedDrtmMarker parse_emulated_drtm_marker_data(std::span<const uint8_t> data);

// One event: EV_NO_ACTION ("type"), on PCR17 ("pcr"), every digest zero ("digest"),
// then the data as above. Position in the log is not checked here.
EmulatedDrtmMarker parse_emulated_drtm_marker(const LogEvent& e);

// The log's marker: nullopt when no event claims to be one; the marker when exactly
// one does, is well-formed and is event 0 (the first after the header). Otherwise
// DrtmMarkerError naming the first problem ("duplicated", "position", or the event's).
std::optional<EmulatedDrtmMarker> find_emulated_drtm_marker(const EventLog& log);

}  // namespace redoubt::policy
