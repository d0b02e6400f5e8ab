#include "attestation/verifier/drtm_origin.hpp"

#include "attestation/verifier/log_event_text.hpp"

namespace redoubt::attest {

DrtmOrigin check_drtm_origin(const policy::EventLog& log, Findings& f) {
  DrtmOrigin o;
  o.method = kDrtmSkinit;
  size_t duplicates = 0, more = 0;
  for (const policy::LogEvent& e : log.events) {
    if (!policy::claims_emulated_drtm_marker(e)) continue;
    o.method = kDrtmHarnessEmulated;  // the endpoint says so, even when it says it badly
    nlohmann::json d = {{"event", event_json(e)}};
    if (o.marker && ++duplicates > kMaxMarkerFindings) {  // the log is the endpoint's: bound the verdict
      ++more;
      continue;
    }
    if (o.marker) {
      d["first"] = event_json(*o.marker);
      f.fail("drtm_marker_duplicated",
             event_text(e) + ": a second emulated-DRTM marker; the log carries one, and event #" + std::to_string(o.marker->index) + " is the first", d);
      continue;
    }
    o.marker = &e;
    if (e.index != 0) {  // the harness inserts it right after the Spec ID header, before SKINIT's event
      o.problem = "position";
      d["expected_index"] = 0;
      f.fail("drtm_marker_misplaced",
             event_text(e) + ": the emulated-DRTM marker is the first event after the Spec ID header, before EV_REDOUBT_SKINIT_SLB; here it is event #" +
                 std::to_string(e.index),
             d);
      continue;
    }
    try {
      o.parsed = policy::parse_emulated_drtm_marker(e);
    } catch (const policy::DrtmMarkerError& err) {
      o.problem = err.cause();
      if (err.cause() == "pcr") {
        d["expected_pcr"] = policy::kEmulatedDrtmPcr;
        f.fail("drtm_marker_wrong_pcr", event_text(e) + ": " + err.what(), d);
      } else {
        d["cause"] = err.cause();
        f.fail("drtm_marker_malformed", event_text(e) + ": " + err.what(), d);
      }
    }
  }
  if (more)
    f.fail("drtm_marker_more", std::to_string(more) + " more events claim to be the emulated-DRTM marker (the first " +
                                   std::to_string(kMaxMarkerFindings) + " duplicates are named above)",
           {{"count", more}});
  return o;
}

bool appraise_drtm_origin(const DrtmOrigin& o, const ReferenceValues* ref, Findings& f) {
  if (o.method != kDrtmHarnessEmulated) return false;
  const bool allowed = ref && ref->drtm_allow_emulated;
  nlohmann::json d = {{"event", event_json(*o.marker)}};
  if (o.parsed) d["text"] = o.parsed->text;
  const std::string what = event_text(*o.marker) + ": the event log declares an emulated DRTM" +
                           (o.parsed ? " (\"" + o.parsed->text + "\")" : std::string()) +
                           ": a harness, not the CPU's SKINIT, measured the SLB into the TPM";
  if (allowed)
    f.note("drtm_emulated", what + "; reference values " + ref->id + " allow it (drtm.allow_emulated)", d);
  else
    f.fail("drtm_emulated", what + "; " + (ref ? "reference values " + ref->id + " do not allow it (drtm.allow_emulated)" : std::string("no reference values allow it")), d);
  return allowed;
}

nlohmann::json drtm_claim(const DrtmOrigin& o, bool allowed) {
  nlohmann::json c = {{"method", o.method}};
  if (o.method != kDrtmHarnessEmulated) return c;
  c["allowed"] = allowed;
  nlohmann::json m = {{"event", event_json(*o.marker)}};
  if (o.parsed) {
    m["version"] = o.parsed->version;
    m["text"] = o.parsed->text;  // valid UTF-8 (parse_emulated_drtm_marker_data checks it)
  } else {
    m["malformed"] = o.problem;
  }
  c["marker"] = m;
  return c;
}

}  // namespace redoubt::attest
