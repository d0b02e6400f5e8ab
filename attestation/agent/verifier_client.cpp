#include "attestation/agent/verifier_client.hpp"

#include <httplib.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {
// What a transport failure means, once, and what to check (not httplib's bare "Connection").
std::string unreachable(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect (nothing listens there, or no route to it)";
    case httplib::Error::ConnectionTimeout: return "no answer within the connect timeout";
    case httplib::Error::Read: return "the connection broke while reading the answer";
    case httplib::Error::Write: return "the connection broke while sending the request";
    case httplib::Error::SSLConnection: return "the TLS handshake failed";
    default: return httplib::to_string(e);
  }
}

json answer(httplib::Client& c, const httplib::Result& r, const std::string& what) {
  if (!r && r.error() == httplib::Error::SSLServerVerification)  // name the X.509 reason (RFC 5280 path validation)
    throw AttestError("tls_untrusted", what + ": the verifier's TLS certificate is not trusted (" +
                                           X509_verify_cert_error_string(c.get_openssl_verify_result()) +
                                           "); pass the CA that issued it with --ca FILE", 502);
  if (!r)
    throw AttestError("verifier_unreachable",
                      what + ": " + unreachable(r.error()) + "; check the --verifier URL and that `redoubt verifier serve` runs there", 502);
  json j = json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    if (!j.is_discarded() && j.is_object() && j.contains("error"))
      throw AttestError(j["error"].get<std::string>(), j.value("reason", ""), r->status);
    throw AttestError("verifier_error", what + ": HTTP " + std::to_string(r->status), r->status);
  }
  if (j.is_discarded()) throw AttestError("verifier_error", what + ": the answer is not JSON", 502);
  return j;
}
}  // namespace

VerifierClient::VerifierClient(std::string base_url, std::string ca_file) : base_(std::move(base_url)), ca_file_(std::move(ca_file)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (!ca_file_.empty() && base_.rfind("https://", 0) != 0)
    throw AttestError("bad_request", "--ca " + ca_file_ + " given but the verifier URL " + base_ + " is not https://");
}

json VerifierClient::get(const std::string& path) {
  httplib::Client c(base_);
  // Pinned: only this CA file, not the system store (the verifier is the company's own service).
  if (!ca_file_.empty()) c.set_ca_cert_path(ca_file_.c_str());
  c.enable_server_certificate_verification(true);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(30, 0);
  if (!token_.empty()) c.set_bearer_token_auth(token_.c_str());  // RFC 6750 §2.1
  auto r = c.Get(path.c_str());
  return answer(c, r, "GET " + base_ + path);
}

json VerifierClient::post(const std::string& path, const json& body) {
  httplib::Client c(base_);
  // Pinned: only this CA file, not the system store (the verifier is the company's own service).
  if (!ca_file_.empty()) c.set_ca_cert_path(ca_file_.c_str());
  c.enable_server_certificate_verification(true);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(30, 0);
  if (!token_.empty()) c.set_bearer_token_auth(token_.c_str());  // RFC 6750 §2.1
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  return answer(c, r, "POST " + base_ + path);
}

std::string VerifierClient::read_token_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw AttestError("bad_token_file", "cannot read the token file " + path);
  std::string t((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (t.size() > 8192) throw AttestError("bad_token_file", path + " is longer than a token (8192 bytes)");
  const size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
  t = b == std::string::npos ? "" : t.substr(b, e - b + 1);
  // base64url and dots only (RFC 7515 §7.1): anything else is not a token (and must not reach a header).
  if (t.empty() || t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
    throw AttestError("bad_token_file", path + " does not hold a token (base64url and dots only)");
  return t;
}

}  // namespace redoubt::attest
