// The verifier's access and audit log (issue 13): one JSON object per line,
// per request — time, client address, who (the token's subject), role, route,
// method, path, endpoint id, HTTP status, error code, milliseconds — appended
// to a file and flushed line by line.
#pragma once
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace redoubt::attest {

class AccessLog {
 public:
  explicit AccessLog(const std::string& path);  // opened for append (created 0600); throws AttestError("access_log")
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  void write(const nlohmann::json& line);

 private:
  std::mutex mu_;
  FILE* f_ = nullptr;
};

}  // namespace redoubt::attest
