// The guest side of a Redoubt launch in the DRTM log (issue 4's events,
// docs/pcr-map.md), appraised against reference values (docs/attestation.md
// "Guests"): the launch policy (PCR17 EV_REDOUBT_LAUNCH_POLICY), the guest
// trust anchors (PCR18 EV_REDOUBT_GUEST_ANCHOR), and each guest — signed
// (PCR19 EV_REDOUBT_GUEST_CHAIN + PCR20 EV_REDOUBT_GUEST_MANIFEST), unsigned
// (EV_REDOUBT_GUEST_UNSIGNED + EV_REDOUBT_GUEST_IMAGE) or refused
// (EV_REDOUBT_GUEST_REFUSED). Only called on a log that replays to the quote.
#pragma once
#include <nlohmann/json.hpp>

#include <span>

#include "attestation/verifier/finding.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

struct GuestClaims {
  nlohmann::json launch_policy = nullptr;             // {"sha256", "name", "serial", "anchors": [...]} or null
  nlohmann::json guests = nlohmann::json::array();    // one entry per guest, in launch order
};

// Appends failures / warnings to `f`. `ref` may be null: then only what the log
// itself proves wrong (an undecodable manifest or chain) fails, unsigned and
// refused guests are warnings.
GuestClaims appraise_guest_events(const policy::EventLog& log, const ReferenceValues* ref, Findings& f);
// The same over events chosen from a log (check_event_order's, pointing into it), in their order.
GuestClaims appraise_guest_events(std::span<const policy::LogEvent* const> events, const ReferenceValues* ref, Findings& f);

}  // namespace redoubt::attest
