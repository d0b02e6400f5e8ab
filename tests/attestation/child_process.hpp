// Background child processes for the attestation tests: a verifier or an
// endpoint started with its stdout in a file, waited for by a line it prints.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace redoubt::test {

// How many times slower the children run in this build: REDOUBT_TEST_TIMEOUT_SCALE (6 in the
// sanitizer build, CMakeLists.txt REDOUBT_SANITIZER_ENV), else 1. Waits and intervals scale by it.
int timeout_scale();

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& out_file);
  ~ChildProcess();  // SIGTERM, then SIGKILL after 5 s
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Polls the output file (bounded: at most `timeout_ms`) until a line contains `needle`; returns that line.
  std::string wait_for(const std::string& needle, int timeout_ms = 20000);
  void kill_hard();        // SIGKILL + reap
  int terminate();         // SIGTERM + reap; exit code
  int wait_exit(int timeout_ms);  // reaps it if it exits within timeout_ms: its exit code, else -1 (still running)
  pid_t pid() const { return pid_; }
  std::string output() const;
  // Where a child's sanitizer report goes (default: a Boost error, or exit 86 outside a Boost
  // test); sanitizer_exit_test swaps it to see that the report arrives.
  static inline void (*on_sanitizer_report)(const std::string& what) = nullptr;

 private:
  // Every reap goes through here: the exit code; a sanitizer report (exit 86 in the sanitizer
  // build) is a test failure quoting it even when the test ignores the code (the destructor).
  int reaped(int status);
  pid_t pid_ = -1;
  std::string name_;
  std::filesystem::path out_;
};

// Starts `redoubt verifier serve --listen 127.0.0.1:0 ...extra` and returns its base URL.
struct VerifierProcess {
  ChildProcess proc;
  std::string url;
  VerifierProcess(const std::vector<std::string>& extra, const std::filesystem::path& out_file);
};

}  // namespace redoubt::test
