// libFuzzer: reference values (attestation/verifier/reference_values): byte 0 even ->
// parse_reference_values on the rest as JSON; odd -> verify_reference_values on the
// rest as a COSE_Sign1 with the fuzz authority key (fuzz_state.hpp; the seeds are
// signed by it). The contract: a value or AttestError; anything else is a bug. A
// parsed set must satisfy what the appraiser relies on (at least one hypervisor
// signer, digests 64 lower-case hex characters).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "tests/fuzz/fuzz_state.hpp"

using namespace redoubt;
using namespace redoubt::attest;

namespace {

void check_hex_set(const std::set<std::string>& s) {
  for (const std::string& h : s) {
    if (h.size() != 64) std::abort();
    for (char c : h)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
  }
}

void check(const ReferenceValues& r) {
  if (r.hv_signers.empty() || r.id.empty()) std::abort();
  check_hex_set(r.hv_signers);
  check_hex_set(r.hv_sha256);
  check_hex_set(r.slb_sha256);
  check_hex_set(r.launch_policy_sha256);
  check_hex_set(r.guest_anchors);
  check_hex_set(r.guest_signers);
  for (const auto& [name, rule] : r.guest_rules) {
    if (name.empty() || name.size() > 63) std::abort();
    check_hex_set(rule.kernel_sha256);
  }
  (void)r.document.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const policy::EvpKey authority = policy::load_private_key(fuzz_state::authority_prefix() + ".key.pem");
  std::span<const uint8_t> in(data + 1, size - 1);
  try {
    if (data[0] & 1) {
      check(verify_reference_values(in, authority));
    } else {
      const nlohmann::json j = nlohmann::json::parse(in.begin(), in.end(), nullptr, false);
      if (j.is_discarded()) return 0;
      check(parse_reference_values(j));
    }
  } catch (const AttestError&) {
  }
  return 0;
}
