// libFuzzer: the verifier's event-log appraisal (attestation/verifier: eventlog_appraiser,
// event_order, guest_appraiser). The input is a DRTM log; the "quoted" PCR17-20 values are
// what the log itself replays to, so every parsed log gets past the replay into the order
// check, the launch claims and the guest appraisal — with and without reference values.
// Aborts when the appraisal claims a launch that the order check would not allow, or when the
// DRTM claim does not follow the emulated-DRTM marker (drtm_origin.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/verifier/eventlog_appraiser.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/eventlog_reader.hpp"

using namespace redoubt;
using namespace redoubt::attest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  policy::EventLog log;
  try {
    log = policy::parse_event_log({data, size});
  } catch (const policy::EventLogError&) {
    return 0;
  }
  const auto replayed = policy::replay_event_log(log);
  QuotedPcrs q;
  q.selection = make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384})
    for (uint32_t pcr = 17; pcr <= 20; ++pcr) {
      Bytes v(bank == HashAlg::sha256 ? 32 : 48, 0);
      auto b = replayed.find(bank);
      if (b != replayed.end() && b->second.count(pcr)) v = b->second.at(pcr);
      q.values.push_back(v);
    }
  static const ReferenceValues ref = [] {
    ReferenceValues r;
    r.id = "fuzz";
    r.hv_signers.insert(std::string(64, '0'));
    r.min_svn = 1;
    r.guest_rules["hello"] = {};
    return r;
  }();
  static const ReferenceValues allow_emulated = [] {
    ReferenceValues r = ref;
    r.drtm_allow_emulated = true;
    return r;
  }();
  bool claims_marker = false;  // does any event claim to be the emulated-DRTM marker?
  for (const policy::LogEvent& e : log.events) claims_marker |= policy::claims_emulated_drtm_marker(e);
  for (const ReferenceValues* r : {static_cast<const ReferenceValues*>(nullptr), &ref, &allow_emulated}) {
    Findings f;
    const LogAppraisal a = appraise_event_log({data, size}, q, r, f);
    // A launch is claimed only from a log whose SL events are all at their place.
    if (a.launched && !a.log_matches_pcrs) abort();
    for (const Finding& x : f.failures)
      if (x.code.empty() || x.message.empty()) abort();
    // The DRTM claim follows the marker exactly, and an emulated DRTM fails unless allowed.
    if (a.drtm["method"] != (claims_marker ? "harness-emulated" : "skinit")) abort();
    bool emulated_failure = false;
    for (const Finding& x : f.failures) emulated_failure |= x.code == "drtm_emulated";
    if (emulated_failure != (claims_marker && r != &allow_emulated)) abort();
    (void)a.drtm.dump();  // the marker's text is a claim: it must be valid UTF-8
  }
  return 0;
}
