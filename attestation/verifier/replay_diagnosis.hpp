// When a PCR does not replay from the event log, say *which* event is the
// problem, not only which PCR (Keylime cannot). Three structural faults are
// recognised exactly by replaying variants of the log against the quoted value:
//   - an extra event: the log replays to the TPM's value without it;
//   - two events swapped: it replays with the pair exchanged;
//   - a missing event: the log lacks an event the DRTM launch always records
//     at that point (sl/secure_loader.cpp: PCR17 = SKINIT_SLB, HV_MANIFEST,
//     HV_IMAGE, [LAUNCH_POLICY], SEPARATOR; PCR18 = HV_SIGNER, GUEST_ANCHOR*,
//     SEPARATOR).
// Anything else stays an unexplained pcr_replay_mismatch (an altered digest).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "attestation/common/encoding.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {

struct ReplayDiagnosis {
  enum class Kind { extra, swapped, missing } kind;
  std::vector<size_t> events;     // log indices: the extra one / the two swapped ones / missing: the event it should follow (if any)
  uint32_t expected_type = 0;     // missing: the event type that should be there
  size_t position = 0;            // missing: where in the log it belongs (index of the event it should precede, or log size)
};

// The search for an extra / a swapped event is skipped for a PCR with more events than this
// (the log is the endpoint's: n events cost O(n²) / O(n³) hash operations).
inline constexpr size_t kMaxEventsForExtraSearch = 256;
inline constexpr size_t kMaxEventsForSwapSearch = 48;

// PCR_new = H(PCR_old || digest) over `events` of one PCR in one bank, from zero (DRTM reset).
Bytes replay_pcr(const std::vector<const policy::LogEvent*>& events, HashAlg bank);

// Diagnoses why the events of `pcr` do not replay to `quoted` in `bank`; nullopt if none of the three fits.
std::optional<ReplayDiagnosis> diagnose_replay(const policy::EventLog& log, uint32_t pcr, HashAlg bank, const Bytes& quoted);

}  // namespace redoubt::attest
