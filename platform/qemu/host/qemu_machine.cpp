#include "platform/qemu/host/qemu_machine.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "abi/harness_channel.hpp"

namespace redoubt::qemu {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

int listen_unix(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw std::runtime_error("qemu harness: socket(): " + std::string(strerror(errno)));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) throw std::runtime_error("qemu harness: socket path too long: " + path);
  std::strcpy(a.sun_path, path.c_str());
  ::unlink(path.c_str());
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 1) != 0) {
    const std::string e = strerror(errno);
    ::close(s);
    throw std::runtime_error("qemu harness: cannot listen on " + path + ": " + e);
  }
  return s;
}

// A private directory with a short path (UNIX socket paths are limited to 107 bytes).
struct RunDir {
  std::string path;
  RunDir() {
    char t[] = "/tmp/rdqemu-XXXXXX";
    if (!::mkdtemp(t)) throw std::runtime_error("qemu harness: mkdtemp: " + std::string(strerror(errno)));
    path = t;
  }
  ~RunDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

bool qemu_installed(const std::string& qemu) {
  const std::string cmd = "command -v " + qemu + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

QemuRun run_qemu(const QemuOptions& o, const std::vector<uint8_t>& boot_image, const DrtmFn& drtm,
                 const LineSink& console_line) {
  QemuRun r;
  if (!fs::exists(o.boot_stub)) throw std::runtime_error("qemu harness: no boot stub at " + o.boot_stub.string());
  RunDir dir;
  const std::string image = dir.path + "/boot-image.bin", con_sock = dir.path + "/con", hch_sock = dir.path + "/hch",
                    err_file = dir.path + "/qemu.stderr";
  {
    std::ofstream f(image, std::ios::binary);
    f.write(reinterpret_cast<const char*>(boot_image.data()), std::streamsize(boot_image.size()));
    if (!f) throw std::runtime_error("qemu harness: cannot write " + image);
  }
  Fd con_listen(listen_unix(con_sock)), hch_listen(listen_unix(hch_sock));

  std::vector<std::string>& a = r.command;
  a = {o.qemu, "-accel", "tcg", "-machine", "q35", "-cpu", o.cpu, "-m", std::to_string(o.memory_mib),
       "-display", "none", "-nodefaults", "-no-reboot", "-monitor", "none"};
  if (o.amd_iommu) a.insert(a.end(), {"-device", "amd-iommu"});  // first: it must exist before the PCI devices it covers
  a.insert(a.end(), {"-chardev", "socket,id=con,path=" + con_sock, "-serial", "chardev:con",  // COM1
                     "-chardev", "socket,id=hch,path=" + hch_sock, "-serial", "chardev:hch",  // COM2
                     "-device", "isa-debug-exit,iobase=0xf4,iosize=1"});
  if (!o.tpm_socket.empty())
    a.insert(a.end(), {"-chardev", "socket,id=chrtpm,path=" + o.tpm_socket, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                       "-device", "tpm-tis,tpmdev=tpm0"});
  a.insert(a.end(), o.extra_args.begin(), o.extra_args.end());
  a.insert(a.end(), {"-kernel", o.boot_stub.string(), "-initrd", image, "-append", o.stub_args.empty() ? "mode=image" : "mode=image " + o.stub_args});

  const auto t0 = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("qemu harness: fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = ::open("/dev/null", O_RDWR);
    if (e >= 0) {
      ::dup2(e, 1);
      ::dup2(e, 2);
    }
    if (n >= 0) ::dup2(n, 0);
    std::vector<char*> argv;
    for (std::string& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }

  Fd con, hch;
  std::string line;
  bool exited = false;
  int status = 0;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto on_console = [&](const uint8_t* p, size_t n) {
    if (n && r.seconds_to_first_byte < 0) r.seconds_to_first_byte = elapsed();
    r.console.append(reinterpret_cast<const char*>(p), n);
    for (size_t i = 0; i < n; ++i) {
      const char c = char(p[i]);
      if (c == '\n') {
        if (console_line) console_line(line);
        line.clear();
      } else if (c != '\r') {
        line += c;
      }
    }
  };
  // The SKINIT request: "RDBTSKIN" | u64 base | u32 length | bytes (abi/harness_channel.hpp).
  auto check_skinit = [&] {
    if (r.skinit_requested) return;
    const auto& b = r.harness_channel;
    const uint8_t* m = reinterpret_cast<const uint8_t*>(abi::kSkinitMagic);
    auto it = std::search(b.begin(), b.end(), m, m + 8);
    if (it == b.end()) return;
    const size_t at = size_t(it - b.begin()) + 8;
    if (b.size() < at + 12) return;
    uint32_t len;
    std::memcpy(&r.slb_base, b.data() + at, 8);
    std::memcpy(&len, b.data() + at + 8, 4);
    if (len > 65536) len = 0;  // nonsense: measure nothing and let the DRTM callback refuse it
    if (b.size() < at + 12 + len) return;
    r.skinit_requested = true;
    r.seconds_to_skinit = elapsed();
    r.skinit_measured.assign(b.begin() + long(at + 12), b.begin() + long(at + 12 + len));
    uint8_t answer = abi::kSkinitGo;
    try {
      if (len == 0) throw std::runtime_error("the SKINIT request's SLB length is not in 1..65536");
      drtm(r.skinit_measured);
      r.drtm_done = true;
    } catch (const std::exception& e) {
      r.drtm_error = e.what();
      answer = abi::kSkinitAbort;
    }
    if (::write(hch.fd, &answer, 1) != 1) r.drtm_error += " (could not answer the stub: " + std::string(strerror(errno)) + ")";
  };

  for (;;) {
    pollfd p[4];
    int n = 0;
    int con_i = -1, hch_i = -1, cl_i = -1, hl_i = -1;
    if (con.fd >= 0) p[con_i = n++] = {con.fd, POLLIN, 0};
    else if (!exited) p[cl_i = n++] = {con_listen.fd, POLLIN, 0};
    if (hch.fd >= 0) p[hch_i = n++] = {hch.fd, POLLIN, 0};
    else if (!exited) p[hl_i = n++] = {hch_listen.fd, POLLIN, 0};
    if (n == 0) break;  // QEMU gone and both channels drained
    int k = ::poll(p, nfds_t(n), 50);
    if (k < 0 && errno != EINTR) break;
    uint8_t buf[65536];
    if (cl_i >= 0 && (p[cl_i].revents & POLLIN)) con.reset(::accept4(con_listen.fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (hl_i >= 0 && (p[hl_i].revents & POLLIN)) hch.reset(::accept4(hch_listen.fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (con_i >= 0 && (p[con_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = ::read(con.fd, buf, sizeof buf);
      if (got > 0) on_console(buf, size_t(got));
      else con.reset();
    }
    if (hch_i >= 0 && (p[hch_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = ::read(hch.fd, buf, sizeof buf);
      if (got > 0) {
        r.harness_channel.insert(r.harness_channel.end(), buf, buf + got);
        check_skinit();
      } else {
        hch.reset();
      }
    }
    if (!exited) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) exited = true;
      else if (elapsed() > o.timeout_s) {
        r.timed_out = true;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        exited = true;
      }
    }
    if (exited && con.fd < 0 && hch.fd < 0) break;
    if (exited && elapsed() > o.timeout_s + 5) break;
  }
  if (!line.empty() && console_line) console_line(line);
  r.seconds_total = elapsed();
  r.qemu_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  r.qemu_stderr = read_text(err_file);
  return r;
}

}  // namespace redoubt::qemu
