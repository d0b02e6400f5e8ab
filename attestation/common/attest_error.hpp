// The one error type of attestation/: a stable machine-readable code
// ("malformed_attest", "nonce_reused", ...) and a message for people.
// HTTP handlers map it to a 4xx with {"error": code, "reason": message}.
#pragma once
#include <stdexcept>
#include <string>

namespace redoubt::attest {

class AttestError : public std::runtime_error {
 public:
  AttestError(std::string code, const std::string& message, int http_status = 400)
      : std::runtime_error(code + ": " + message), code_(std::move(code)), reason_(message), http_(http_status) {}
  const std::string& code() const { return code_; }
  const std::string& reason() const { return reason_; }
  int http_status() const { return http_; }

 private:
  std::string code_;
  std::string reason_;
  int http_;
};

}  // namespace redoubt::attest
