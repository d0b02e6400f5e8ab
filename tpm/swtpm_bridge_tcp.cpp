#include "tpm/swtpm_bridge_tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tpm/swtpm_ctrl.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {
namespace {

constexpr uint32_t kTpmFail = 9;                  // swtpm's ptm_res for a refused command
constexpr uint64_t kPtmCapSetLocality = 1u << 3;  // tpm_ioctl.h PTM_CAP_SET_LOCALITY

int listen_on(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  return ntohs(a.sin_port);
}

// Reads exactly n bytes within timeout_ms per wait; false on EOF, error or timeout.
bool read_exact(int fd, uint8_t* p, size_t n, int timeout_ms) {
  while (n) {
    pollfd pf{fd, POLLIN, 0};
    const int pr = ::poll(&pf, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

}  // namespace

SwtpmBridgeTcpServer::SwtpmBridgeTcpServer(std::shared_ptr<SwtpmQemuBridge> bridge, uint16_t port, int io_timeout_ms)
    : bridge_(std::move(bridge)), io_timeout_ms_(io_timeout_ms) {
  if (!bridge_) throw TpmError("SwtpmBridgeTcpServer: no bridge");
  // Data on P, control on P+1 (tcti-swtpm's convention). With port 0, try kernel-chosen P until P+1 is free too.
  for (int attempt = 0; attempt < 50 && ctrl_listen_ < 0; ++attempt) {
    data_listen_ = listen_on(port);
    if (data_listen_ < 0) break;
    const uint16_t p = bound_port(data_listen_);
    if (p != 65535) ctrl_listen_ = listen_on(static_cast<uint16_t>(p + 1));
    if (ctrl_listen_ >= 0) {
      port_ = p;
    } else {
      ::close(data_listen_);
      data_listen_ = -1;
      if (port != 0) break;
    }
  }
  if (ctrl_listen_ < 0)
    throw TpmError("swtpm bridge TCP server: cannot bind 127.0.0.1:" + (port ? std::to_string(port) + " and " + std::to_string(port + 1) : std::string("a free port pair")));
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(data_listen_);
    ::close(ctrl_listen_);
    throw TpmError(std::string("swtpm bridge TCP server: pipe: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { loop(); });
}

SwtpmBridgeTcpServer::~SwtpmBridgeTcpServer() {
  const char c = 0;
  (void)!::write(wake_[1], &c, 1);
  if (thread_.joinable()) thread_.join();
  for (int fd : {data_listen_, ctrl_listen_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

void SwtpmBridgeTcpServer::loop() {
  for (;;) {
    pollfd pf[3] = {{wake_[0], POLLIN, 0}, {data_listen_, POLLIN, 0}, {ctrl_listen_, POLLIN, 0}};
    if (::poll(pf, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (pf[0].revents) return;
    for (int i = 1; i < 3; ++i) {
      if (!(pf[i].revents & POLLIN)) continue;
      const int fd = ::accept4(pf[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (i == 1) serve_data(fd);
      else serve_ctrl(fd);
      ::close(fd);
    }
  }
}

void SwtpmBridgeTcpServer::serve_data(int fd) {
  for (;;) {
    uint8_t hdr[10];
    if (!read_exact(fd, hdr, sizeof hdr, io_timeout_ms_)) return;  // EOF: the client's command is done
    const uint32_t size = be32(hdr + 2);
    if (size < 10 || size > 16384) return;
    std::vector<uint8_t> cmd(hdr, hdr + 10);
    cmd.resize(size);
    if (size > 10 && !read_exact(fd, cmd.data() + 10, size - 10, io_timeout_ms_)) return;
    std::vector<uint8_t> resp;
    try {
      resp = bridge_->harness_transmit(cmd.data(), cmd.size());
    } catch (const TpmError&) {
      return;  // refused (QEMU attached) or swtpm failed: the client sees the connection close
    }
    ++tpm_commands_;
    if (!write_all(fd, resp.data(), resp.size())) return;
  }
}

void SwtpmBridgeTcpServer::serve_ctrl(int fd) {
  for (;;) {
    uint8_t code_be[4];
    if (!read_exact(fd, code_be, 4, io_timeout_ms_)) return;
    ++ctrl_commands_;
    const uint32_t code = be32(code_be);
    std::vector<uint8_t> out;
    if (code == kSwtpmGetCapability) {
      for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(kPtmCapSetLocality >> s));
    } else if (code == kSwtpmSetLocality) {
      uint8_t loc = 0;
      if (!read_exact(fd, &loc, 1, io_timeout_ms_)) return;
      uint32_t res = 0;
      if (loc > 4) {
        res = kTpmFail;
      } else {
        try {
          bridge_->harness_set_locality(loc);
        } catch (const TpmError&) {
          res = kTpmFail;
        }
      }
      put_be32(out, res);
    } else {
      // Not served; its payload length is not known here, so the connection ends after the answer.
      put_be32(out, kTpmFail);
      write_all(fd, out.data(), out.size());
      return;
    }
    if (!write_all(fd, out.data(), out.size())) return;
  }
}

}  // namespace redoubt::tpm
