// libFuzzer: the replay diagnosis (attestation/verifier/replay_diagnosis): which
// event is extra, missing or swapped when a PCR does not replay. Input: byte 0 =
// PCR (17 + bits 0-1) and bank (bit 2: sha384), byte 1 bit 0: quote = the replay
// of the log with one event dropped (byte 2 = which) so the "extra" search has a
// real answer, else quote = the next 32/48 bytes; then the event log. A diagnosis
// must be checkable: "extra" names an event of that PCR whose removal replays to
// the quote; "swapped" two events of that PCR. Anything else is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/replay_diagnosis.hpp"
#include "policy/fs/pcr_map.hpp"

using namespace redoubt;
using namespace redoubt::attest;
using policy::LogEvent;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint32_t pcr = 17 + (data[0] & 3);
  const HashAlg bank = (data[0] & 4) ? HashAlg::sha384 : HashAlg::sha256;
  const size_t dsize = bank == HashAlg::sha384 ? 48 : 32;
  const bool drop = data[1] & 1;
  const uint8_t which = data[2];
  std::span<const uint8_t> rest(data + 3, size - 3);
  Bytes quoted(dsize, 0);
  if (!drop) {
    for (size_t i = 0; i < dsize && i < rest.size(); ++i) quoted[i] = rest[i];
    rest = rest.subspan(std::min(dsize, rest.size()));
  }
  policy::EventLog log;
  try {
    log = policy::parse_event_log(rest);
  } catch (const policy::EventLogError&) {
    return 0;
  }
  std::vector<const LogEvent*> mine;
  for (const LogEvent& e : log.events)
    if (e.pcr == pcr && e.type != policy::kEvNoAction) mine.push_back(&e);
  if (drop && !mine.empty()) {
    std::vector<const LogEvent*> without = mine;
    without.erase(without.begin() + (which % without.size()));
    quoted = replay_pcr(without, bank);
  }
  try {
    std::optional<ReplayDiagnosis> d = diagnose_replay(log, pcr, bank, quoted);
    if (!d) return 0;
    auto ours = [&](size_t index) {
      return std::any_of(mine.begin(), mine.end(), [&](const LogEvent* e) { return e->index == index; });
    };
    switch (d->kind) {
      case ReplayDiagnosis::Kind::extra: {
        if (d->events.size() != 1 || !ours(d->events[0])) std::abort();
        std::vector<const LogEvent*> without;
        for (const LogEvent* e : mine)
          if (e->index != d->events[0]) without.push_back(e);
        if (replay_pcr(without, bank) != quoted) std::abort();  // the diagnosis must be true
        break;
      }
      case ReplayDiagnosis::Kind::swapped:
        if (d->events.size() != 2 || !ours(d->events[0]) || !ours(d->events[1]) || d->events[0] == d->events[1]) std::abort();
        break;
      case ReplayDiagnosis::Kind::missing:
        if (d->expected_type == 0 || d->events.size() > 1 || d->position > log.events.size()) std::abort();
        break;
    }
  } catch (const AttestError&) {
  }
  return 0;
}
