// libFuzzer: replay_diagnosis (attestation/verifier) on an arbitrary DRTM log against
// quoted values taken from the input's first bytes, and against the log's own replay with
// one event left out (so the extra / swapped / missing searches run on real shapes).
// Aborts when a diagnosis names an event that is not on the diagnosed PCR.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/verifier/replay_diagnosis.hpp"
#include "policy/host/eventlog_reader.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {
void check(const policy::EventLog& log, uint32_t pcr, HashAlg bank, const Bytes& quoted) {
  const auto d = diagnose_replay(log, pcr, bank, quoted);
  if (!d) return;
  for (size_t i : d->events) {
    if (i >= log.events.size() || log.events[i].pcr != pcr) abort();
  }
  if (d->kind == ReplayDiagnosis::Kind::missing && d->expected_type == 0) abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t skip = data[0];  // which event the "TPM" did not see
  policy::EventLog log;
  try {
    log = policy::parse_event_log({data + 1, size - 1});
  } catch (const policy::EventLogError&) {
    return 0;
  }
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384}) {
    const size_t n = bank == HashAlg::sha256 ? 32 : 48;
    for (uint32_t pcr = 17; pcr <= 20; ++pcr) {
      // The TPM's value: the PCR's events without the skip-th one.
      std::vector<const policy::LogEvent*> seen;
      size_t k = 0;
      for (const policy::LogEvent& e : log.events)
        if (e.pcr == pcr && e.type != 3 && k++ != skip) seen.push_back(&e);
      check(log, pcr, bank, replay_pcr(seen, bank));
      check(log, pcr, bank, Bytes(n, skip));
    }
  }
  return 0;
}
