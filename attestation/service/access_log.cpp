#include "attestation/service/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {

AccessLog::AccessLog(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw AttestError("access_log", "cannot open the access log " + path + ": " + std::strerror(errno), 500);
  f_ = ::fdopen(fd, "a");
  if (!f_) {
    ::close(fd);
    throw AttestError("access_log", "cannot open the access log " + path, 500);
  }
}

AccessLog::~AccessLog() {
  if (f_) std::fclose(f_);
}

void AccessLog::write(const nlohmann::json& line) {
  const std::string s = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> l(mu_);
  std::fwrite(s.data(), 1, s.size(), f_);
  std::fflush(f_);
}

}  // namespace redoubt::attest
