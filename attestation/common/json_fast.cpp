#include "attestation/common/json_fast.hpp"

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
