#include "attestation/agent/endpoint_agent.hpp"

#include <httplib.h>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/credential.hpp"
#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
using nlohmann::json;

EndpointAgent::EndpointAgent(tpm::TpmDevice& tpm, TpmIdentity& id, Bytes ek_certificate, VerifierClient client, std::string endpoint_id)
    : tpm_(tpm), ident_(id), ek_cert_(std::move(ek_certificate)), client_(std::move(client)), id_(std::move(endpoint_id)) {}

EndpointAgent::~EndpointAgent() { stop_pull(); }

void EndpointAgent::set_event_log(Bytes log) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  log_ = std::move(log);
}

json EndpointAgent::enrol(const std::string& mode, const std::string& agent_url) {
  json req;
  {
    std::lock_guard<std::mutex> l(tpm_mu_);
    req = {{"id", id_},
           {"ek_certificate", to_base64(ek_cert_)},
           {"ek_public", to_base64(marshal_public(ident_.ek_public()))},
           {"ak_public", to_base64(marshal_public(ident_.ak_public()))},
           {"mode", mode}};
  }
  if (!agent_url.empty()) req["agent_url"] = agent_url;
  VerifierClient enroller = client_;
  if (!enrol_token_.empty()) enroller.set_token(enrol_token_);
  const json ch = enroller.post("/v1/endpoints", req);
  Bytes secret;
  {
    std::lock_guard<std::mutex> l(tpm_mu_);
    tpm_.set_locality(0);
    secret = ident_.activate_credential(unmarshal_id_object(json_base64(ch, "credential_blob", 4096)),
                                        unmarshal_encrypted_secret(json_base64(ch, "encrypted_secret", 4096)));
  }
  return client_.post("/v1/endpoints/" + id_ + "/activate", {{"secret", to_base64(secret)}});
}

Evidence EndpointAgent::evidence_for(std::span<const uint8_t> nonce) {
  std::lock_guard<std::mutex> l(tpm_mu_);
  return make_evidence(tpm_, ident_, nonce, log_).evidence;
}

json EndpointAgent::push_once() {
  const json n = client_.post("/v1/endpoints/" + id_ + "/nonce", json::object());
  const Bytes nonce = from_hex(json_string(n, "nonce"), "nonce");
  return client_.post("/v1/endpoints/" + id_ + "/evidence", evidence_to_json(evidence_for(nonce)));
}

int EndpointAgent::bind_pull(const std::string& host, int port, const std::string& tls_cert, const std::string& tls_key) {
  if (tls_cert.empty() != tls_key.empty()) throw AttestError("bad_request", "pull TLS needs both a certificate and a key", 400);
  if (tls_cert.empty()) {
    pull_ = std::make_unique<httplib::Server>();
  } else {
    auto s = std::make_unique<httplib::SSLServer>(tls_cert.c_str(), tls_key.c_str());
    if (!s->is_valid()) throw AttestError("tls", "cannot load the pull-mode TLS certificate/key " + tls_cert + " / " + tls_key, 500);
    pull_ = std::move(s);
  }
  pull_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  pull_->set_tcp_nodelay(true);
  pull_->Get("/v1/quote", [this](const httplib::Request& req, httplib::Response& res) {
    try {
      const Bytes nonce = from_hex(req.get_param_value("nonce"), "nonce");
      if (nonce.empty() || nonce.size() > 64) throw AttestError("bad_nonce", "nonce must be 1..64 bytes of hex");
      res.set_content(evidence_to_json(evidence_for(nonce)).dump(), "application/json");
    } catch (const AttestError& e) {
      res.status = e.http_status();
      res.set_content(json{{"error", e.code()}, {"reason", e.reason()}}.dump(), "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(json{{"error", "internal"}, {"reason", e.what()}}.dump(), "application/json");
    }
  });
  const int p = port == 0 ? pull_->bind_to_any_port(host) : (pull_->bind_to_port(host, port) ? port : -1);
  if (p <= 0) throw AttestError("listen", "cannot listen on " + host + ":" + std::to_string(port), 500);
  return p;
}

void EndpointAgent::serve_pull() {
  if (pull_) pull_->listen_after_bind();
}

void EndpointAgent::stop_pull() {
  if (pull_) pull_->stop();
}

}  // namespace redoubt::attest
