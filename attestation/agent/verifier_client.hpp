// A small JSON-over-HTTP(S) client for the verifier API: POST/GET a path,
// return the JSON body on 200, else throw AttestError carrying the verifier's
// own {"error", "reason"} and HTTP status.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace redoubt::attest {

class VerifierClient {
 public:
  explicit VerifierClient(std::string base_url, std::string ca_file = "");  // "http://127.0.0.1:8080" or https://...
  nlohmann::json get(const std::string& path);
  nlohmann::json post(const std::string& path, const nlohmann::json& body);
  const std::string& base() const { return base_; }
  // A bearer token (docs/verifier-auth.md) sent as Authorization: Bearer on every request ("" = none).
  void set_token(std::string token) { token_ = std::move(token); }
  // The token read from a file (surrounding white space dropped); throws AttestError("bad_token_file").
  static std::string read_token_file(const std::string& path);

 private:
  std::string base_, ca_file_, token_;
};

}  // namespace redoubt::attest
