#include "attestation/common/json_fast.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace redoubt::attest {
namespace {

class Flat {
 public:
  explicit Flat(std::string_view t) : p_(t.data()), end_(t.data() + t.size()) {}

  // RFC 8259 §2: JSON-text = ws value ws, here the value an object.
  std::optional<nlohmann::json> text() {
    ws();
    nlohmann::json v;
    if (!object(v, 1)) return std::nullopt;
    ws();
    if (p_ != end_) return std::nullopt;
    return v;
  }

 private:
  // RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ).
  void ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  // RFC 8259 §7, the subset: '"' *( %x20-21 / %x23-5B / %x5D-7E ) '"' — no escape, no control, no
  // byte above 0x7E (so no UTF-8 to validate).
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    const char* s = p_;
#if defined(__SSE2__)
    // 16 bytes at a time up to the first that is not plain (the request's ~9 KB of base64 is one
    // string; byte by byte it cost ~12 us a request): plain is 0x20..0x7E but a quote or a backslash. The
    // byte loop below then decides about that byte. (Signed compares: 0x80..0xFF are negative.)
    while (end_ - p_ >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i printable = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)), _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
      const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
      const unsigned plain = static_cast<unsigned>(_mm_movemask_epi8(_mm_andnot_si128(special, printable)));
      if (plain != 0xffffu) {
        p_ += __builtin_ctz(~plain);
        break;
      }
      p_ += 16;
    }
#endif
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(s, static_cast<size_t>(p_ - s));
        ++p_;
        return true;
      }
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
      ++p_;
    }
    return false;
  }
  // RFC 8259 §4: '{' [ member *( ',' member ) ] '}', member = string ':' value.
  bool object(nlohmann::json& out, int depth) {
    if (depth > kFlatJsonMaxDepth || !eat('{')) return false;
    out = nlohmann::json::object();
    ws();
    if (eat('}')) return true;
    for (;;) {
      std::string_view key;
      if (!string(key)) return false;
      ws();
      if (!eat(':')) return false;
      ws();
      if (p_ == end_) return false;
      // A duplicate name: RFC 8259 §4 leaves its meaning open; nlohmann decides it.
      if (out.contains(key)) return false;
      nlohmann::json& slot = out[std::string(key)];
      if (*p_ == '"') {
        std::string_view s;
        if (!string(s)) return false;
        slot = std::string(s);
      } else if (!object(slot, depth + 1)) {
        return false;
      }
      ws();
      if (eat('}')) return true;
      if (!eat(',')) return false;
      ws();
    }
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<nlohmann::json> parse_flat_json(std::string_view text) { return Flat(text).text(); }

}  // namespace redoubt::attest
