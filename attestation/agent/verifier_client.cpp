#include "attestation/agent/verifier_client.hpp"

#include <httplib.h>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {
json answer(const httplib::Result& r, const std::string& what) {
  if (!r) throw AttestError("verifier_unreachable", what + ": " + httplib::to_string(r.error()), 502);
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
}

json VerifierClient::get(const std::string& path) {
  httplib::Client c(base_);
  if (!ca_file_.empty()) c.set_ca_cert_path(ca_file_.c_str());
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(30, 0);
  return answer(c.Get(path.c_str()), "GET " + base_ + path);
}

json VerifierClient::post(const std::string& path, const json& body) {
  httplib::Client c(base_);
  if (!ca_file_.empty()) c.set_ca_cert_path(ca_file_.c_str());
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(30, 0);
  return answer(c.Post(path.c_str(), body.dump(), "application/json"), "POST " + base_ + path);
}

}  // namespace redoubt::attest
