#include "attestation/verifier/replay_diagnosis.hpp"

#include <algorithm>

#include "attestation/tpm/tpm_public.hpp"
#include "policy/fs/pcr_map.hpp"

namespace redoubt::attest {
namespace {

using policy::LogEvent;

std::vector<const LogEvent*> events_of(const policy::EventLog& log, uint32_t pcr) {
  std::vector<const LogEvent*> v;
  for (const LogEvent& e : log.events)
    if (e.pcr == pcr && e.type != policy::kEvNoAction) v.push_back(&e);  // PFP §10.4.5: EV_NO_ACTION is not extended
  return v;
}

// Events of `type` on `pcr`: the shape of a PCR depends only on the SL's PCRs, never on what the
// log claims for a PCR nobody replays (issue 16: a PCR23 LAUNCH_FAILED hid every diagnosis).
size_t count_type(const policy::EventLog& log, uint32_t pcr, uint32_t type) {
  return static_cast<size_t>(std::count_if(log.events.begin(), log.events.end(), [&](const LogEvent& e) { return e.pcr == pcr && e.type == type; }));
}

// The event types a complete Redoubt launch records into `pcr`, in order (sl/secure_loader.cpp
// verify_and_measure); empty when there is no fixed shape (guest PCRs, a refused launch).
std::vector<uint32_t> expected_shape(const policy::EventLog& log, uint32_t pcr) {
  if (count_type(log, policy::kPcrDrtmDetail, policy::kEvLaunchFailed) + count_type(log, policy::kPcrDrtmAuthority, policy::kEvLaunchFailed) > 0)
    return {};
  const size_t anchors = count_type(log, policy::kPcrDrtmAuthority, policy::kEvGuestAnchor);
  const bool has_policy = anchors > 0 || count_type(log, policy::kPcrDrtmDetail, policy::kEvLaunchPolicy) > 0;
  // The hypervisor's failure cap follows the SL's separator (hypervisor/core/fail_closed.cpp).
  const bool hv_failed = count_type(log, pcr, policy::kEvHvFailed) > 0;
  if (pcr == policy::kPcrDrtmDetail) {
    std::vector<uint32_t> s = {policy::kEvSkinitSlb, policy::kEvHvManifest, policy::kEvHvImage};
    if (has_policy) s.push_back(policy::kEvLaunchPolicy);
    s.push_back(policy::kEvSeparator);
    if (hv_failed) s.push_back(policy::kEvHvFailed);
    return s;
  }
  if (pcr == policy::kPcrDrtmAuthority) {
    std::vector<uint32_t> s = {policy::kEvHvSigner};
    s.insert(s.end(), anchors, policy::kEvGuestAnchor);
    s.push_back(policy::kEvSeparator);
    if (hv_failed) s.push_back(policy::kEvHvFailed);
    return s;
  }
  return {};
}

// TPM 2.0 Part 1 §17.2: PCR_new = H(PCR_old || digest), with the event's digest in `bank`
// (an event without a digest in that bank extended nothing there).
void extend(Bytes& v, const LogEvent* e, HashAlg bank) {
  for (const auto& [alg, digest] : e->digests) {
    if (alg != bank) continue;
    Bytes in = v;
    in.insert(in.end(), digest.begin(), digest.end());
    v = tpm_hash(static_cast<TPMI_ALG_HASH>(bank), in);
    return;
  }
}

}  // namespace

Bytes replay_pcr(const std::vector<const LogEvent*>& events, HashAlg bank) {
  Bytes v(tpm_hash_size(static_cast<TPMI_ALG_HASH>(bank)), 0);
  for (const LogEvent* e : events) extend(v, e, bank);
  return v;
}

std::optional<ReplayDiagnosis> diagnose_replay(const policy::EventLog& log, uint32_t pcr, HashAlg bank, const Bytes& quoted) {
  const std::vector<const LogEvent*> ev = events_of(log, pcr);
  const size_t n = ev.size();
  // prefix[k] = the PCR after the first k events: each variant below replays only from where it differs.
  std::vector<Bytes> prefix(n + 1, Bytes(tpm_hash_size(static_cast<TPMI_ALG_HASH>(bank)), 0));
  for (size_t k = 0; k < n; ++k) {
    prefix[k + 1] = prefix[k];
    extend(prefix[k + 1], ev[k], bank);
  }
  // The log comes from the endpoint: bound the work an oversized PCR can cause (O(n²) and O(n³) hashes).
  if (n <= kMaxEventsForExtraSearch) {
    // Extra: the TPM never saw one of the log's events.
    for (size_t i = 0; i < n; ++i) {
      Bytes v = prefix[i];
      for (size_t k = i + 1; k < n; ++k) extend(v, ev[k], bank);
      if (v == quoted) return ReplayDiagnosis{ReplayDiagnosis::Kind::extra, {ev[i]->index}, 0, ev[i]->index};
    }
  }
  if (n <= kMaxEventsForSwapSearch) {
    // Swapped: the TPM saw two of them in the other order.
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j) {
        Bytes v = prefix[i];
        extend(v, ev[j], bank);
        for (size_t k = i + 1; k < j; ++k) extend(v, ev[k], bank);
        extend(v, ev[i], bank);
        for (size_t k = j + 1; k < n; ++k) extend(v, ev[k], bank);
        if (v == quoted) return ReplayDiagnosis{ReplayDiagnosis::Kind::swapped, {ev[i]->index, ev[j]->index}, 0, ev[i]->index};
      }
  }
  // Missing: walk the launch's fixed shape; the first expected type the log skips is named.
  const std::vector<uint32_t> shape = expected_shape(log, pcr);
  if (shape.empty()) return std::nullopt;
  size_t k = 0;
  for (size_t i = 0; i < ev.size() && k < shape.size(); ++i) {
    if (ev[i]->type == shape[k]) {
      ++k;
      continue;
    }
    // ev[i] is not the expected one: if the expected type never comes later in this PCR, it is missing here.
    const bool later = std::any_of(ev.begin() + static_cast<long>(i), ev.end(), [&](const LogEvent* e) { return e->type == shape[k]; });
    if (!later) {
      ReplayDiagnosis d{ReplayDiagnosis::Kind::missing, {}, shape[k], ev[i]->index};
      if (i > 0) d.events.push_back(ev[i - 1]->index);
      return d;
    }
    return std::nullopt;  // an unexpected event before the expected one: not one of the three shapes
  }
  if (k < shape.size() && ev.size() < shape.size()) {
    ReplayDiagnosis d{ReplayDiagnosis::Kind::missing, {}, shape[k], log.events.size()};
    if (!ev.empty()) {
      d.events.push_back(ev.back()->index);
      d.position = ev.back()->index + 1;
    }
    return d;
  }
  return std::nullopt;
}

}  // namespace redoubt::attest
