#include "tpm/swtpm_ctrl.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

namespace {

int connect_tcp(const std::string& host, uint16_t port, std::string* err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string p = std::to_string(port);
  int g = getaddrinfo(host.c_str(), p.c_str(), &hints, &res);
  if (g != 0) {
    if (err) *err = gai_strerror(g);
    return -1;
  }
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last_errno = errno;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0 && err) *err = std::strerror(last_errno);
  return fd;
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

}  // namespace

SwtpmCtrl::SwtpmCtrl(const std::string& host, uint16_t port, int recv_timeout_ms)
    : where_(host + ":" + std::to_string(port)) {
  std::string err;
  fd_ = connect_tcp(host, port, &err);
  if (fd_ < 0) throw TpmError("swtpm control channel " + where_ + ": connect failed: " + err);
  timeval tv{recv_timeout_ms / 1000, (recv_timeout_ms % 1000) * 1000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

SwtpmCtrl::~SwtpmCtrl() {
  if (fd_ >= 0) ::close(fd_);
}

void SwtpmCtrl::send_all(const uint8_t* p, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = ::send(fd_, p + put, n - put, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw TpmError("swtpm control channel " + where_ + ": send failed: " + std::strerror(errno));
    put += w;
  }
}

void SwtpmCtrl::read_exact(uint8_t* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = ::recv(fd_, buf + got, len - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw TpmError("swtpm control channel " + where_ + ": connection closed by swtpm");
    if (r < 0) throw TpmError("swtpm control channel " + where_ + ": no reply: " + std::strerror(errno));
    got += r;
  }
}

uint32_t SwtpmCtrl::command(uint32_t cmd, const void* payload, size_t n, void* extra, size_t extra_n) {
  // One write per request: swtpm reads a control message with a single read().
  std::vector<uint8_t> req(4 + n);
  put_be32(req.data(), cmd);
  if (n) std::memcpy(req.data() + 4, payload, n);
  send_all(req.data(), req.size());
  uint8_t res[4];
  read_exact(res, 4);
  const uint32_t result = (uint32_t(res[0]) << 24) | (uint32_t(res[1]) << 16) | (uint32_t(res[2]) << 8) | res[3];
  if (result == 0 && extra_n) read_exact(static_cast<uint8_t*>(extra), extra_n);
  return result;
}

uint64_t SwtpmCtrl::get_capability() {
  uint8_t req[4];
  put_be32(req, kSwtpmGetCapability);
  send_all(req, 4);
  uint8_t cap[8];
  read_exact(cap, 8);
  uint64_t v = 0;
  for (uint8_t b : cap) v = (v << 8) | b;
  return v;
}

void SwtpmCtrl::checked(const char* what, uint32_t cmd, const void* payload, size_t n) {
  const uint32_t r = command(cmd, payload, n);
  if (r != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", r);
    throw TpmError(std::string(what) + " on swtpm control channel " + where_ + ": result " + hex, r);
  }
}

bool SwtpmCtrl::reachable(const std::string& host, uint16_t port) {
  int fd = connect_tcp(host, port, nullptr);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace redoubt::tpm
