// libFuzzer: the guest side of the appraisal (attestation/verifier/guest_appraiser):
// launch policy, guest anchors, signed / unsigned / refused guests in a parsed DRTM
// log, against fixed reference values (byte 0 bit 0 clear) or none (set). The rest of
// the input is the event log. Any outcome but findings / claims or an AttestError
// (a crash, a sanitizer report, another exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/guest_appraiser.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {

const ReferenceValues& reference() {
  static const ReferenceValues r = parse_reference_values(nlohmann::json::parse(R"({
    "type": "redoubt.reference-values/1", "id": "fuzz-guests",
    "hypervisor": {"signers": ["4444444444444444444444444444444444444444444444444444444444444444"], "min_svn": 0},
    "launch_policy": {"required": true, "min_serial": 2},
    "guests": {"anchors": ["1111111111111111111111111111111111111111111111111111111111111111"],
               "signers": ["2222222222222222222222222222222222222222222222222222222222222222"],
               "allow_unsigned": true,
               "rules": {"demo": {"min_svn": 1, "kernel_sha256": ["3333333333333333333333333333333333333333333333333333333333333333"]},
                         "other": {"min_svn": 0}}}})"));
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  policy::EventLog log;
  try {
    log = policy::parse_event_log({data + 1, size - 1});
  } catch (const policy::EventLogError&) {
    return 0;
  }
  Findings f;
  try {
    GuestClaims c = appraise_guest_events(log, (data[0] & 1) ? nullptr : &reference(), f);
    if (!c.guests.is_array()) std::abort();
    for (const Finding& x : f.failures)
      if (x.code.empty() || x.message.empty()) std::abort();
    (void)c.launch_policy.dump();
    (void)c.guests.dump();
  } catch (const AttestError&) {
  }
  return 0;
}
