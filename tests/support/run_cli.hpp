// Runs build/redoubt as a child process and captures its exit code and output.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace redoubt::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The exit code of a sanitizer report in the sanitizer build (CMake REDOUBT_SANITIZER_ENV):
// run_program throws SanitizerReport for it, so no test that expects a refusal (exit 1)
// or "any failure" can pass on a memory error or undefined behaviour in the child.
#ifndef REDOUBT_SANITIZER_EXITCODE  // set by tests/support/CMakeLists.txt from the top-level CMakeLists
#define REDOUBT_SANITIZER_EXITCODE 86
#endif
inline constexpr int kSanitizerExitCode = REDOUBT_SANITIZER_EXITCODE;
struct SanitizerReport : std::runtime_error {
  using std::runtime_error::runtime_error;
};

CliResult run_redoubt(const std::vector<std::string>& args);
CliResult run_program(const std::vector<std::string>& argv);  // argv[0] searched in PATH
// The same without the sanitizer check (the test of that check).
CliResult run_program_raw(const std::vector<std::string>& argv);

}  // namespace redoubt::test
