// libFuzzer: the verifier's event-log appraisal (attestation/verifier/eventlog_appraiser)
// against fixed reference values. Input: byte 0 selects what the quote says (bit 0: the
// PCRs the log itself replays to, so the appraisal reaches the hypervisor, SLB, launch
// policy and guest checks; else PCR values from the input's tail, which exercises the
// replay diagnosis), bit 1: appraise without reference values; then a u16 log length,
// the log, and (bit 0 clear) the quoted values. Malformed input must end in a finding
// or an AttestError; a crash, a sanitizer report or another exception type is a bug.
// Invariants: a log that does not match the quote never yields claims; a failure is
// never empty-coded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/eventlog_appraiser.hpp"
#include "policy/host/eventlog_reader.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {

const ReferenceValues& reference() {
  static const ReferenceValues r = parse_reference_values(nlohmann::json::parse(R"({
    "type": "redoubt.reference-values/1", "id": "fuzz",
    "hypervisor": {"signers": ["0000000000000000000000000000000000000000000000000000000000000000"], "min_svn": 2},
    "slb": {"sha256": []},
    "launch_policy": {"required": false, "min_serial": 1},
    "guests": {"anchors": [], "signers": [], "allow_unsigned": false,
               "rules": {"demo": {"min_svn": 1, "kernel_sha256": []}}}})"));
  return r;
}

QuotedPcrs from_replay(const policy::EventLog& log) {
  QuotedPcrs q;
  q.selection = make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
  const auto replayed = policy::replay_event_log(log);
  for (TPMI_ALG_HASH bank : {TPM2_ALG_SHA256, TPM2_ALG_SHA384})
    for (uint32_t pcr = 17; pcr <= 20; ++pcr) {
      Bytes v(bank == TPM2_ALG_SHA256 ? 32 : 48, 0);
      auto b = replayed.find(static_cast<HashAlg>(bank));
      if (b != replayed.end())
        if (auto p = b->second.find(pcr); p != b->second.end()) v = p->second;
      q.values.push_back(v);
    }
  return q;
}

QuotedPcrs from_tail(std::span<const uint8_t> tail) {
  QuotedPcrs q;
  q.selection = make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
  size_t at = 0;
  for (int i = 0; i < 8; ++i) {
    Bytes v(i < 4 ? 32 : 48, 0);
    for (auto& b : v) b = at < tail.size() ? tail[at++] : 0;
    q.values.push_back(v);
  }
  return q;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0];
  const size_t len = std::min<size_t>(size - 3, data[1] | size_t(data[2]) << 8);
  std::span<const uint8_t> log(data + 3, len), tail(data + 3 + len, size - 3 - len);
  QuotedPcrs quoted;
  if (mode & 1) {
    try {
      quoted = from_replay(policy::parse_event_log(log));
    } catch (const policy::EventLogError&) {
      quoted = from_tail(tail);
    }
  } else {
    quoted = from_tail(tail);
  }
  Findings f;
  try {
    LogAppraisal a = appraise_event_log(log, quoted, (mode & 2) ? nullptr : &reference(), f);
    if (!a.log_matches_pcrs && (a.launched || !a.guests.empty())) std::abort();  // claims from an unverified log
    if (!a.log_matches_pcrs && f.failures.empty()) std::abort();                 // a mismatch must be named
    for (const Finding& x : f.failures)
      if (x.code.empty() || x.message.empty()) std::abort();
    (void)a.launch.dump();
    (void)a.guests.dump();
  } catch (const AttestError&) {
  }
  return 0;
}
