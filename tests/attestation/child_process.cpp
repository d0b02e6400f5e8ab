#include "tests/attestation/child_process.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

extern char** environ;

namespace redoubt::test {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& out_file) : name_(argv.at(0)), out_(out_file) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int rc = posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
}

int timeout_scale() {
  const char* k = std::getenv("REDOUBT_TEST_TIMEOUT_SCALE");
  return k && std::atoi(k) > 1 ? std::atoi(k) : 1;
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  // LSan checks at exit: an instrumented child needs longer to stop (REDOUBT_TEST_TIMEOUT_SCALE).
  const int tries = 500 * timeout_scale();
  for (int i = 0; i < tries; ++i) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      reaped(st);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

int ChildProcess::reaped(int st) {
  pid_ = -1;
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
#ifdef REDOUBT_SANITIZE_BUILD
  // Issue 16 item 12: a daemon's report (a request handler's, or LSan's at its exit) is never
  // taken for the refusal or the stop the test expected.
  if (code == kSanitizerExitCode) {
    const std::string what = name_ + ": sanitizer report (exit " + std::to_string(code) + "):\n" + output().substr(0, 4000);
    if (on_sanitizer_report) {
      on_sanitizer_report(what);
    } else if (boost::unit_test::framework::test_in_progress()) {
      BOOST_ERROR(what);
    } else {  // a program that is not a Boost test (bench_verifier_fleet, attest_fleet_test) exits as the child did
      std::fprintf(stderr, "%s\n", what.c_str());
      std::_Exit(code);
    }
  }
#endif
  return code;
}

std::string ChildProcess::output() const {
  std::ifstream f(out_);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string ChildProcess::wait_for(const std::string& needle, int timeout_ms) {
  timeout_ms *= timeout_scale();  // sanitizer builds run the children several times slower
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    std::istringstream in(output());
    for (std::string line; std::getline(in, line);)
      if (line.find(needle) != std::string::npos) return line;
    int st = 0;
    if (pid_ > 0 && waitpid(pid_, &st, WNOHANG) == pid_) {
      reaped(st);
      throw std::runtime_error("child exited before printing '" + needle + "': " + output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("timed out waiting for '" + needle + "': " + output());
}

void ChildProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int ChildProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int st = 0;
  waitpid(pid_, &st, 0);
  return reaped(st);
}

int ChildProcess::wait_exit(int timeout_ms) {
  for (int waited = 0; pid_ > 0 && waited <= timeout_ms; waited += 10) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) return reaped(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

VerifierProcess::VerifierProcess(const std::vector<std::string>& extra, const std::filesystem::path& out_file)
    : proc([&] {
        std::vector<std::string> a = {(build_dir() / "redoubt").string(), "verifier", "serve", "--listen", "127.0.0.1:0"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
      }(),
           out_file) {
  const std::string line = proc.wait_for("listening on ");
  const size_t p = line.find("http");
  url = line.substr(p, line.find(' ', p) - p);
}

}  // namespace redoubt::test
