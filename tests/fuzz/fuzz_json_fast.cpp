// The verifier's JSON fast paths against nlohmann, an implementation nobody here wrote:
//  - the request-body parser (attestation/common/json_fast.hpp): whatever it accepts, nlohmann must
//    accept too and give the very same value (the fast path's contract); whatever it gives up on is
//    nlohmann's to parse or reject;
//  - the string writer the EAR and the verdict summary are written with (json_text.hpp): the input
//    as a JSON string must come out as dump() writes it, or be refused with dump()'s very error;
//  - the tree writer (append_json_value): any document nlohmann parses must come out of it as
//    dump() writes it.
// Any difference aborts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attestation/common/json_fast.hpp"
#include "attestation/common/json_text.hpp"

namespace {
std::string written(const std::string& s, bool ours) {
  try {
    if (!ours) return nlohmann::json(s).dump();
    std::string out;
    redoubt::attest::append_json_string(out, s);
    return out;
  } catch (const nlohmann::json::type_error& e) {
    return std::string("type_error: ") + e.what();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string s(text);
  if (written(s, true) != written(s, false)) std::abort();
  if (const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false); !doc.is_discarded()) {
    std::string ours;
    redoubt::attest::append_json_value(ours, doc);
    if (ours != doc.dump()) std::abort();
  }
  const std::optional<nlohmann::json> fast = redoubt::attest::parse_flat_json(text);
  if (!fast) return 0;
  const nlohmann::json ref = nlohmann::json::parse(text, nullptr, false);
  if (ref.is_discarded() || ref != *fast) std::abort();
  return 0;
}
