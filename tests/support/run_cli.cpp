#include "tests/support/run_cli.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/launch_fixture.hpp"

extern char** environ;

namespace redoubt::test {

static std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

CliResult run_program_raw(const std::vector<std::string>& argv) {
  TempDir tmp;
  std::string out_path = (tmp / "out").string(), err_path = (tmp / "err").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

CliResult run_program(const std::vector<std::string>& argv) {
  CliResult r = run_program_raw(argv);
#ifdef REDOUBT_SANITIZE_BUILD
  if (r.exit_code == kSanitizerExitCode)
    throw SanitizerReport(argv[0] + ": sanitizer report (exit " + std::to_string(r.exit_code) + "):\n" +
                          r.err.substr(0, 4000));
#endif
  return r;
}

CliResult run_redoubt(const std::vector<std::string>& args) {
  // $REDOUBT_TEST_CLI: run the tests against another binary (e.g. one built before a fix, to show a test fails).
  const char* other = std::getenv("REDOUBT_TEST_CLI");
  std::vector<std::string> argv = {other && *other ? std::string(other) : (build_dir() / "redoubt").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

}  // namespace redoubt::test
