// Runs build/redoubt as a child process and captures its exit code and output.
#pragma once
#include <string>
#include <vector>

namespace redoubt::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliResult run_redoubt(const std::vector<std::string>& args);
CliResult run_program(const std::vector<std::string>& argv);  // argv[0] searched in PATH

}  // namespace redoubt::test
