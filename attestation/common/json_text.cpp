#include "attestation/common/json_text.hpp"

#include <charconv>

namespace redoubt::attest {
namespace {

std::string hex_byte(uint8_t b) {
  static constexpr char kHex[] = "0123456789ABCDEF";  // upper case, as nlohmann's messages
  return {kHex[b >> 4], kHex[b & 15]};
}

[[noreturn]] void invalid_byte(size_t at, uint8_t b) {
  throw nlohmann::detail::type_error::create(316, "invalid UTF-8 byte at index " + std::to_string(at) + ": 0x" + hex_byte(b), nullptr);
}

// The length of the UTF-8 sequence at s[i] (RFC 3629 §4: no overlongs, no surrogates, nothing above
// U+10FFFF), checked byte by byte so that a bad one is reported at the index nlohmann's decoder
// stops at; a sequence cut off by the end of the string is "incomplete", as there.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = static_cast<uint8_t>(s[i]);
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (b == 0xED) hi = 0x9F;  // U+D800..DFFF, the UTF-16 surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong below U+10000
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    invalid_byte(i, b);
  }
  for (size_t k = 1; k < n; ++k) {
    if (i + k == s.size())
      throw nlohmann::detail::type_error::create(316, "incomplete UTF-8 string; last byte: 0x" + hex_byte(static_cast<uint8_t>(s.back())), nullptr);
    const auto c = static_cast<uint8_t>(s[i + k]);
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) invalid_byte(i + k, c);
  }
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";  // \u00xx in lower case, as dump() writes it
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied: they need no escape
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {  // copied as it is, once known to be UTF-8
      i += utf8_sequence(s, i);
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {  // RFC 8259 §7: the two-character escapes dump() uses, else \u00xx
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(u, sizeof u);
      }
    }
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

namespace {
template <class Int>
void append_decimal(std::string& out, Int n) {  // as dump_integer writes it
  char b[24];
  out.append(b, std::to_chars(b, b + sizeof b, n).ptr);
}
}  // namespace

void append_json_value(std::string& out, const nlohmann::json& v) {
  // What json::dump() writes, walked here: nlohmann's serializer writes a string a character at a
  // time through a virtual call (~4 ns a byte here, 13 us for a first-seen appraisal's claims).
  // Objects iterate in std::map order, as dump() does; strings go through append_json_string
  // (the same escapes, the same refusal of bad UTF-8); integers are decimal, as dump_integer.
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        append_json_value(out, x);
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const nlohmann::json& x : v.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json_value(out, x);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::string: append_json_string(out, v.get_ref<const std::string&>()); return;
    case nlohmann::json::value_t::boolean: append_json_bool(out, v.get<bool>()); return;
    case nlohmann::json::value_t::null: out += "null"; return;
    case nlohmann::json::value_t::number_integer: append_decimal(out, v.get<int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned: append_decimal(out, v.get<uint64_t>()); return;
    default: {  // floats, binary, discarded: nlohmann's own serializer, into `out`
      nlohmann::detail::serializer<nlohmann::json> w(nlohmann::detail::output_adapter<char, std::string>(out), ' ');
      w.dump(v, false, false, 0);
    }
  }
}

}  // namespace redoubt::attest
