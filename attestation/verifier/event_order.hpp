// Which events of a DRTM log count: only those on a quoted (hence replayed)
// PCR, of the type the PCR map puts there, in the order the SL and the
// hypervisor record them (docs/pcr-map.md; sl/secure_loader.cpp,
// hypervisor/core/guest_admission.cpp). Every other event is a named failure
// and is never used for a claim — a log may say anything about a PCR the
// quote does not cover (issue 16, item 1).
#pragma once
#include <set>
#include <vector>

#include "attestation/verifier/finding.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

// The SL's events (PCR17/18), each at its place; null when the log has none there.
struct LaunchEvents {
  const policy::LogEvent *slb = nullptr, *manifest = nullptr, *image = nullptr, *signer = nullptr, *policy = nullptr;
  std::vector<const policy::LogEvent*> anchors;
  const policy::LogEvent* failed = nullptr;  // the first EV_REDOUBT_LAUNCH_FAILED
  const policy::LogEvent* hv_failed = nullptr;  // the first EV_REDOUBT_HV_FAILED (the hypervisor failed after the launch)
  bool pcr17_closed = false, pcr18_closed = false;  // the SL's EV_SEPARATORs
  // Intel TXT (the log's first PCR17 event is EV_TXT_HASH_START): SINIT's events replace the SLB event
  // (docs/pcr-map.md "Intel TXT (SENTER)", details/authorities mapping). `failed` may then be SINIT's
  // EV_TXT_CAP_VALUE.
  bool intel = false;
  const policy::LogEvent *acm = nullptr, *mle = nullptr, *sinit_signer = nullptr, *lcp_control = nullptr, *lcp_details = nullptr;
};

struct OrderedLog {
  LaunchEvents launch;         // points into the log passed in
  std::vector<const policy::LogEvent*> expected;  // the events at their place (into the log), for the guest appraiser
};

// At most this many unexpected events are named one by one; the rest are counted in one
// failure `event_unexpected_more` (the log is the endpoint's: bound the verdict's size).
inline constexpr size_t kMaxEventOrderFindings = 16;

// Failures (codes): event_unquoted_pcr, event_unknown_type, event_wrong_pcr, event_duplicated,
// event_out_of_order, event_unexpected_more. `quoted_pcrs`: every PCR the quote covers.
// Events that claim to be the emulated-DRTM marker are skipped: check_drtm_origin (drtm_origin.hpp)
// names every one that is malformed, duplicated or out of place.
OrderedLog check_event_order(const policy::EventLog& log, const std::set<uint32_t>& quoted_pcrs, const std::string& quote_text, Findings& f);

}  // namespace redoubt::attest
