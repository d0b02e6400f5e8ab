#include "tools/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

std::mutex g_mu;
std::set<std::string> g_held;  // lock files this process holds (their descriptors stay open until exit)

std::string holder(const std::string& lock) {
  std::ifstream f(lock);
  std::string line;
  std::getline(f, line);
  return line.empty() ? "another process" : line;
}

std::string self_description() {
  std::ifstream f("/proc/self/cmdline");
  std::string arg, cmd;
  while (std::getline(f, arg, '\0') && cmd.size() < 160) cmd += (cmd.empty() ? "" : " ") + arg;
  return "pid " + std::to_string(getpid()) + " (" + cmd + ")";
}

unsigned wait_seconds() {
  const char* v = std::getenv("REDOUBT_STATE_LOCK_WAIT_S");
  if (!v || !*v) return 300;
  char* end = nullptr;
  const unsigned long n = std::strtoul(v, &end, 10);
  return end && *end == 0 && n <= 86400 ? unsigned(n) : 300;
}

}  // namespace

void lock_state_dir(const std::filesystem::path& tpm_state_dir, const std::function<void(const std::string&)>& say) {
  if (tpm_state_dir.empty()) return;
  const std::string lock = tpm_state_dir.lexically_normal().string() + ".lock";
  std::lock_guard<std::mutex> g(g_mu);
  if (g_held.count(lock)) return;
  make_parent_dir(lock);
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError("cannot open the state lock " + lock + ": " + std::strerror(errno));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds());
  bool told = false;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int e = errno;
      ::close(fd);
      throw InputError("cannot lock " + lock + ": " + std::strerror(e));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      throw InputError("the TPM state " + tpm_state_dir.string() + " is in use by " + holder(lock) +
                       ": wait for it to finish, or give this command another --state");
    }
    if (!told && say) say("[state] " + tpm_state_dir.string() + " is in use by " + holder(lock) + "; waiting for it");
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string me = self_description() + "\n";
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The holder's description is for the message of a waiting command only.
  }
  g_held.insert(lock);  // fd stays open: the lock is released when the process exits
}

}  // namespace redoubt::tools
