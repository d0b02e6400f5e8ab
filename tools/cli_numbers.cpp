#include "tools/cli_numbers.hpp"

#include <stdexcept>

namespace redoubt::tools {

uint64_t parse_uint(const std::string& text, const std::string& option, uint64_t min, uint64_t max) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const size_t start = hex ? 2 : 0;
  const uint64_t base = hex ? 16 : 10;
  auto bad = [&] {
    return std::invalid_argument(option + ": '" + text + "' is not a " + (min == 0 ? "non-negative " : "") +
                                 "integer (decimal, or hex with 0x)");
  };
  if (text.size() == start) throw bad();
  uint64_t v = 0;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    uint64_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint64_t>(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = static_cast<uint64_t>(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = static_cast<uint64_t>(c - 'A' + 10);
    else throw bad();
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base)
      throw std::invalid_argument(option + ": '" + text + "' is out of range " + std::to_string(min) + ".." + std::to_string(max));
    v = v * base + d;
  }
  if (v < min || v > max)
    throw std::invalid_argument(option + ": " + text + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

}  // namespace redoubt::tools
