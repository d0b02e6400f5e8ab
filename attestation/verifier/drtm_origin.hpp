// How the launch's DRTM was made, as the event log declares it: by the CPU
// ("skinit") or by a test harness that sent SKINIT's hash sequence to a
// software TPM itself ("harness-emulated": the emulated-DRTM marker,
// policy/host/drtm_marker.hpp, docs/attestation.md "Emulated DRTM (QEMU)").
//
// The PCRs are the same either way by design, and the marker is not extended,
// so this is a declaration: an endpoint that lies can strip it. What keeps a
// harness-made "DRTM" out of production verdicts is the TPM's identity (a
// software TPM's EK certificate chains to a software CA, which production
// verifiers do not trust); the marker makes honest test set-ups visible and
// refused unless reference values allow them.
#pragma once
#include <optional>

#include "attestation/verifier/finding.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

inline constexpr char kDrtmSkinit[] = "skinit";
inline constexpr char kDrtmHarnessEmulated[] = "harness-emulated";
inline constexpr char kDrtmUnknown[] = "unknown";  // the log was not appraised

struct DrtmOrigin {
  std::string method = kDrtmUnknown;
  const policy::LogEvent* marker = nullptr;          // the first event claiming to be the marker
  std::optional<policy::EmulatedDrtmMarker> parsed;  // that event, when well-formed and in its place
  std::string problem;                               // else the DrtmMarkerError cause
};

// Every event that claims to be the marker (policy::claims_emulated_drtm_marker) is checked
// here and nowhere else (check_event_order skips them). Failures, one per such event:
//   drtm_marker_duplicated  a second one (detail.first names the first)
//   drtm_marker_misplaced   not the first event after the Spec ID header (detail.expected_index 0)
//   drtm_marker_wrong_pcr   not on PCR17 (detail.expected_pcr)
//   drtm_marker_malformed   detail.cause: "digest" (not all zero), "signature", "truncated", "version", "text"
//   drtm_marker_more        after kMaxMarkerFindings duplicates, one count of the rest (detail.count)
// method: "harness-emulated" when any event claims to be the marker, else "skinit".
inline constexpr size_t kMaxMarkerFindings = 16;
DrtmOrigin check_drtm_origin(const policy::EventLog& log, Findings& f);

// Reference values decide (drtm.allow_emulated, default false; no reference values: false):
// a harness-emulated launch is the failure `drtm_emulated`, or, when allowed, the note
// `drtm_emulated`. Returns whether it was allowed.
bool appraise_drtm_origin(const DrtmOrigin& o, const ReferenceValues* ref, Findings& f);

// The EAR claim "redoubt.drtm": {"method": "skinit"} | {"method": "unknown"} |
// {"method": "harness-emulated", "allowed": bool, "marker": {"event": {...}, "version": 1, "text": "..."}
//  (or "malformed": cause instead of version and text)}.
nlohmann::json drtm_claim(const DrtmOrigin& o, bool allowed);

}  // namespace redoubt::attest
