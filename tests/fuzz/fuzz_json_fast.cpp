// The verifier's request-body fast path (attestation/common/json_fast.hpp) against nlohmann, an
// implementation nobody here wrote: whatever the fast path accepts, nlohmann must accept too and
// give the very same value (the fast path's contract); whatever it gives up on is nlohmann's to
// parse or reject. Any difference aborts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attestation/common/json_fast.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<nlohmann::json> fast = redoubt::attest::parse_flat_json(text);
  if (!fast) return 0;
  const nlohmann::json ref = nlohmann::json::parse(text, nullptr, false);
  if (ref.is_discarded() || ref != *fast) std::abort();
  return 0;
}
