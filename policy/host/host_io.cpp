#include "policy/host/host_io.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

namespace redoubt::policy {

std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

int write_file_mode_errno(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  // The file may have existed with wider permissions: force the mode.
  int e = 0;
  if (::fchmod(fd, mode) != 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) e = errno;
  ::close(fd);
  return e;
}

int read_file_errno(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return errno ? errno : ENOENT;
  out.assign(std::istreambuf_iterator<char>(f), {});
  return 0;
}

}  // namespace redoubt::policy
