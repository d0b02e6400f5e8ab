#include "tpm/swtpm_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <utility>
#include <sstream>
#include <thread>
#include <vector>

#include "tpm/swtpm_ctrl.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Binds a listening TCP socket on 127.0.0.1:port (0 = any free port); -1 on failure.
int listen_loopback(uint16_t port, uint16_t* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Like any server: allow rebinding a port whose old connections linger in TIME_WAIT
  // (an active listener still makes bind fail with EADDRINUSE).
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *bound = ntohs(a.sin_port);
  return fd;
}

// Ports [lo, hi] for P (P+1 <= hi+1): below the ephemeral range if there is room, else above it.
std::pair<int, int> candidate_port_range() {
  int eph_lo = 32768, eph_hi = 60999;
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  f >> eph_lo >> eph_hi;
  if (eph_lo - 2 - 10000 >= 1000) return {10000, eph_lo - 2};
  if (65534 - (eph_hi + 1) >= 1000) return {eph_hi + 1, 65533};
  return {1024, 65533};  // odd configuration: take our chances (bind failures are retried)
}

// Waits up to `ms` for the child to exit; true if reaped.
bool wait_exit(pid_t pid, int ms, int* status) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

// One attempt: true when the child answers on its control channel; false (child reaped,
// reason in *why) when it exited during start-up.
bool SwtpmProcess::spawn_once(std::string* why) {
  // P is drawn at random from OUTSIDE the kernel's ephemeral range: tcti-swtpm opens a new
  // TCP connection per command, so a busy process leaves thousands of TIME_WAIT sockets whose
  // local ephemeral ports would make "free" ports next to a kernel-chosen P rarely usable.
  std::mt19937 rng(std::random_device{}());
  const auto [lo, hi] = candidate_port_range();
  std::uniform_int_distribution<int> pick(lo, hi);
  int ctrl_fd = -1;
  for (int i = 0; i < 256 && ctrl_fd < 0; ++i) {
    const uint16_t p = static_cast<uint16_t>(pick(rng));
    const int data_fd = listen_loopback(p, &port_);
    if (data_fd < 0) continue;
    ctrl_fd = listen_loopback(static_cast<uint16_t>(p + 1), &ctrl_port_);
    ::close(data_fd);  // swtpm binds P itself
  }
  if (ctrl_fd < 0) throw TpmError("swtpm: found no free pair of loopback ports P, P+1");
  // Keep it clear of 0..4 so that the dup2 to 3 below cannot clobber anything we need.
  const int c = ::fcntl(ctrl_fd, F_DUPFD_CLOEXEC, 10);
  ::close(ctrl_fd);

  const std::string log = run_dir_ + "/swtpm.log";
  std::vector<std::string> args = {"swtpm",    "socket",      "--tpm2",        "--tpmstate",
                                   "dir=" + state_dir_,       "--server",      "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1",
                                   "--ctrl",   "type=tcp,fd=3", "--flags",     "not-need-init"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int nullfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_ = ::fork();
  if (pid_ == 0) {  // child: async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test/tool that spawned us
    if (::getppid() != parent) _exit(127);
    if (nullfd >= 0) ::dup2(nullfd, 0);
    if (logfd >= 0) {
      ::dup2(logfd, 1);
      ::dup2(logfd, 2);
    }
    ::dup2(c, 3);  // dup2 clears FD_CLOEXEC on 3
    ::execvp("swtpm", argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  ::close(c);
  if (logfd >= 0) ::close(logfd);
  if (nullfd >= 0) ::close(nullfd);
  if (pid_ < 0) throw TpmError(std::string("swtpm: fork failed: ") + std::strerror(fork_errno));

  // Ready when the control channel answers CMD_GET_CAPABILITY: swtpm binds the data port
  // before it serves the control channel, so by then P is certainly its own.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      *why = "swtpm exited during start-up (wait status " + std::to_string(st) + "): " + log_tail();
      return false;
    }
    try {
      SwtpmCtrl ctrl("127.0.0.1", ctrl_port_, 500);
      if (ctrl.get_capability() != 0) return true;
    } catch (const TpmError&) {
    }
    if (Clock::now() >= deadline) throw TpmError("swtpm did not answer on its control channel: " + log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Runs swtpm_setup to completion (output in run_dir_/swtpm_setup.log); throws on failure.
void SwtpmProcess::run_swtpm_setup(const std::string& setup_config) {
  const std::string log = run_dir_ + "/swtpm_setup.log";
  std::vector<std::string> args = {"swtpm_setup", "--tpm2", "--ecc", "--create-ek-cert", "--create-platform-cert",
                                   "--tpm-state", state_dir_, "--config", fs::absolute(setup_config).string(),
                                   "--logfile", log};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int nullfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int outfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);  // its stray prints, too
  const pid_t child = ::fork();
  if (child == 0) {  // async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (nullfd >= 0) ::dup2(nullfd, 0);
    if (outfd >= 0) {
      ::dup2(outfd, 1);
      ::dup2(outfd, 2);
    }
    ::execvp("swtpm_setup", argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  if (nullfd >= 0) ::close(nullfd);
  if (outfd >= 0) ::close(outfd);
  if (child < 0) throw TpmError(std::string("swtpm_setup: fork failed: ") + std::strerror(fork_errno));
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    std::error_code ec;
    fs::remove(state_dir_ + "/tpm2-00.permall", ec);  // half-manufactured: let the next start run swtpm_setup again
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    if (s.size() > 600) s = "..." + s.substr(s.size() - 600);
    throw TpmError("swtpm_setup --config " + setup_config + " failed (wait status " + std::to_string(st) + "): " +
                   (s.empty() ? "(no log; is swtpm-tools installed?)" : s));
  }
}

// Transport::unix_ctrl: the control channel is a socketpair; ready when CMD_GET_CAPABILITY is
// answered on it. false (child reaped, reason in *why) when swtpm exited during start-up.
bool SwtpmProcess::spawn_unix_once(std::string* why) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw TpmError(std::string("swtpm: socketpair for the control channel failed: ") + std::strerror(errno));
  // The child's end is kept clear of 0..4 so that the dup2 to 3 below cannot clobber anything.
  const int c = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  ::close(sv[1]);
  ctrl_fd_ = sv[0];

  const std::string log = run_dir_ + "/swtpm.log";
  std::vector<std::string> args = {"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state_dir_,
                                   "--ctrl", "type=unixio,clientfd=3", "--flags", "not-need-init"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int nullfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ == 0) {  // child: async-signal-safe calls only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    if (nullfd >= 0) ::dup2(nullfd, 0);
    if (logfd >= 0) {
      ::dup2(logfd, 1);
      ::dup2(logfd, 2);
    }
    ::dup2(c, 3);
    ::execvp("swtpm", argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  ::close(c);
  if (logfd >= 0) ::close(logfd);
  if (nullfd >= 0) ::close(nullfd);
  if (pid_ < 0) throw TpmError(std::string("swtpm: fork failed: ") + std::strerror(fork_errno));

  // CMD_GET_CAPABILITY (no ptm_res in its reply: just the 8-byte capability word).
  const uint8_t req[4] = {0, 0, 0, kSwtpmGetCapability};
  if (::send(ctrl_fd_, req, 4, MSG_NOSIGNAL) != 4) {
    *why = std::string("swtpm: cannot write its control channel: ") + std::strerror(errno);
  } else {
    uint8_t cap[8];
    size_t got = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (got < sizeof cap) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      pollfd p{ctrl_fd_, POLLIN, 0};
      const int r = left > 0 ? ::poll(&p, 1, left) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) throw TpmError("swtpm did not answer CMD_GET_CAPABILITY on its control channel within 10 s: " + log_tail());
      const ssize_t n = ::recv(ctrl_fd_, cap + got, sizeof cap - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += n;
    }
    if (got == sizeof cap) return true;
    *why = "swtpm closed its control channel during start-up";
  }
  int st = 0;
  if (!wait_exit(pid_, 2000, &st)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
  }
  pid_ = -1;
  ::close(ctrl_fd_);
  ctrl_fd_ = -1;
  *why += " (wait status " + std::to_string(st) + "): " + log_tail();
  return false;
}

SwtpmProcess::SwtpmProcess(const std::string& state_dir, const std::string& setup_config, Transport transport)
    : transport_(transport) {
  std::string tmpl = (fs::temp_directory_path() / "redoubt-swtpm-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw TpmError("swtpm: cannot create a temporary directory");
  run_dir_ = tmpl;
  state_dir_ = state_dir.empty() ? run_dir_ + "/state" : fs::absolute(state_dir).string();
  try {
    std::error_code ec;
    fs::create_directories(state_dir_, ec);  // swtpm requires an existing --tpmstate dir
    if (ec) throw TpmError("swtpm: cannot create state directory " + state_dir_ + ": " + ec.message());
    if (!setup_config.empty() && !fs::exists(state_dir_ + "/tpm2-00.permall")) run_swtpm_setup(setup_config);

    // swtpm's `--server type=tcp,fd=N` means an already *connected* client (it exits when that
    // one closes), so the data port is given by number: P comes from the kernel and is released
    // just before the fork. The control channel *does* take a listening socket (`--ctrl
    // type=tcp,fd=N`), so P+1 (tcti-swtpm's fixed convention) stays ours throughout. If
    // another process grabs P in between, swtpm fails to bind and exits: retry with new ports.
    std::string last_failure;
    if (transport_ == Transport::unix_ctrl) {  // nothing to race for: one attempt
      if (spawn_unix_once(&last_failure)) return;
      throw TpmError("swtpm: could not start a private swtpm: " + last_failure);
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (spawn_once(&last_failure)) return;
    }
    throw TpmError("swtpm: could not start a private swtpm: " + last_failure);
  } catch (...) {
    stop();
    throw;
  }
}

SwtpmProcess::~SwtpmProcess() { stop(); }

void SwtpmProcess::stop() {
  if (pid_ > 0) {
    int st = 0;
    if (transport_ == Transport::unix_ctrl) {
      // CMD_SHUTDOWN on our control socketpair; its reply is not needed (the exit is awaited below).
      const uint8_t req[4] = {0, 0, 0, kSwtpmShutdown};
      if (ctrl_fd_ >= 0) (void)::send(ctrl_fd_, req, 4, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      try {
        SwtpmCtrl ctrl("127.0.0.1", ctrl_port_, 1000);
        ctrl.command(kSwtpmShutdown, nullptr, 0);
      } catch (const TpmError&) {
      }
    }
    if (!wait_exit(pid_, 2000, &st)) {
      ::kill(pid_, SIGTERM);
      if (!wait_exit(pid_, 2000, &st)) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
      }
    }
    pid_ = -1;
  }
  if (ctrl_fd_ >= 0) {
    ::close(ctrl_fd_);
    ctrl_fd_ = -1;
  }
  if (!run_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(run_dir_, ec);  // log + temporary state; a given state_dir lives elsewhere
    run_dir_.clear();
  }
}

std::string SwtpmProcess::exit_reason() {
  if (pid_ > 0) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(st)) exit_reason_ = "swtpm exited with status " + std::to_string(WEXITSTATUS(st));
      else if (WIFSIGNALED(st)) exit_reason_ = "swtpm was killed by signal " + std::to_string(WTERMSIG(st));
      else exit_reason_ = "swtpm ended (wait status " + std::to_string(st) + ")";
    }
  }
  return exit_reason_;
}

std::string SwtpmProcess::log_tail() const {
  std::ifstream f(run_dir_ + "/swtpm.log");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > 600) s = "..." + s.substr(s.size() - 600);
  return s.empty() ? "(swtpm printed nothing; is swtpm installed?)" : s;
}

}  // namespace redoubt::tpm
