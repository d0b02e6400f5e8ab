// JSON written directly as text (issue 13, throughput): the EAR claims, the findings summary and the
// answer of POST /v1/verify go into one buffer instead of being built as nlohmann trees and dumped.
// The output is byte for byte what nlohmann::json::dump() writes for the same value, as long as the
// caller writes each object's keys in nlohmann's order (std::map: sorted by bytes) — so stored
// verdicts, the signed payloads and everything that reads them are unchanged
// (attest_json_text_test compares the two; fuzz_json_fast does it for arbitrary strings and documents):
//  - strings per RFC 8259 §7: '"', '\' and U+0000..U+001F escaped (\b \t \n \f \r, the others
//    \u00xx in lower-case hex), everything else as it is ('/', DEL and non-ASCII included);
//  - a string that is not UTF-8 (RFC 3629 §4) is refused the way dump() refuses it: type_error 316.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace redoubt::attest {

// Appends `s` as a JSON string, quotes included. Throws nlohmann::json::type_error (316) for invalid UTF-8.
void append_json_string(std::string& out, std::string_view s);

inline void append_json_int(std::string& out, int64_t v) { out += std::to_string(v); }
inline void append_json_uint(std::string& out, uint64_t v) { out += std::to_string(v); }
inline void append_json_bool(std::string& out, bool v) { out += v ? "true" : "false"; }

// `"key":` — the key as a JSON string, then the colon.
inline void append_json_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

// A value kept as a tree (e.g. a finding's detail), serialised into `out` without a string of its own,
// by a walk of its own (floats and binary through nlohmann's serializer); as dump() writes it.
void append_json_value(std::string& out, const nlohmann::json& v);

}  // namespace redoubt::attest
