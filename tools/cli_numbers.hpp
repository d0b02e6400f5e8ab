// Strict parsing of every numeric option (issue 16 item 11): a number is decimal
// digits, or 0x and hex digits; no sign, no spaces, no suffix, nothing out of
// range. "-1", "2^64", "18446744073709551616", "8MiB", "" and " 8" are refused
// with a message naming the option (exit code 2), never clamped or wrapped.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace redoubt::tools {

// Throws std::invalid_argument "OPTION: 'TEXT' is not ..." / "... is out of range MIN..MAX".
uint64_t parse_uint(const std::string& text, const std::string& option, uint64_t min = 0,
                    uint64_t max = std::numeric_limits<uint64_t>::max());

// An option whose value goes through parse_uint into `target` (an unsigned or
// signed integer type; [min, max] must lie inside the type's range).
template <class T>
CLI::Option* add_uint_option(CLI::App* app, const std::string& name, T& target, const std::string& help, uint64_t min = 0,
                             uint64_t max = static_cast<uint64_t>(std::numeric_limits<T>::max())) {
  static_assert(std::is_integral_v<T>);
  const std::string option = name.substr(0, name.find(','));
  CLI::Option* opt = app->add_option_function<std::string>(
      name,
      [&target, option, min, max](const std::string& text) {
        try {
          target = static_cast<T>(parse_uint(text, option, min, max));
        } catch (const std::invalid_argument& e) {
          throw CLI::ValidationError(e.what());
        }
      },
      help);
  opt->default_str(std::to_string(target));
  return opt;
}

}  // namespace redoubt::tools
