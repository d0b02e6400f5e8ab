// A fast path for the request bodies the verifier parses most (issue 13, throughput): an object
// whose values are strings of printable ASCII without escapes, or objects of the same kind (the
// evidence of POST /v1/verify and of a push: ~14 KB of base64). nlohmann's lexer copies such a
// string one character at a time (about a seventh of a one-shot appraisal's server CPU); this scans
// it and copies it once. For anything outside that subset — any escape, non-ASCII byte, number,
// literal, array, duplicate key, nesting deeper than kMaxDepth, trailing bytes — it gives nothing
// and the caller parses with nlohmann, so the result for any accepted input is the very value
// nlohmann::json::parse gives (RFC 8259 §2, §4, §7 for the subset), and every rejection is nlohmann's.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace redoubt::attest {

inline constexpr int kFlatJsonMaxDepth = 4;

std::optional<nlohmann::json> parse_flat_json(std::string_view text);

}  // namespace redoubt::attest
