// The endpoint agent: enrols this TPM with a verifier (EK certificate, then
// ActivateCredential on the verifier's MakeCredential challenge), then either
// pushes evidence (fetch a nonce, quote, post) or serves GET /v1/quote?nonce=HEX
// for a polling verifier. The measured launch is the caller's (tools/launch_job):
// the agent is handed the DRTM event log of the launch it quotes.
// All TPM use is serialised by one mutex (libtpms: one TPM per process).
#pragma once
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "attestation/agent/endpoint_state.hpp"
#include "attestation/agent/verifier_client.hpp"

namespace httplib {
class Server;
}

namespace redoubt::attest {

class EndpointAgent {
 public:
  EndpointAgent(tpm::TpmDevice& tpm, TpmIdentity& id, Bytes ek_certificate, VerifierClient client, std::string endpoint_id);
  ~EndpointAgent();

  void set_event_log(Bytes log);
  // POST /v1/endpoints, ActivateCredential, POST /v1/endpoints/{id}/activate. Returns the activation answer.
  nlohmann::json enrol(const std::string& mode, const std::string& agent_url = "");
  // POST nonce, quote, POST evidence; returns the verifier's result ({"status", "ear", ...}).
  nlohmann::json push_once();
  Evidence evidence_for(std::span<const uint8_t> nonce);

  // Pull mode: binds host:port (0 = any), returns the port; serve_pull() blocks until stop_pull().
  // tls_cert/tls_key (PEM): serve HTTPS, so pull-mode quotes travel over TLS too.
  int bind_pull(const std::string& host, int port, const std::string& tls_cert = "", const std::string& tls_key = "");
  void serve_pull();
  void stop_pull();

  const std::string& id() const { return id_; }
  // Enrolment (POST /v1/endpoints) is an admin's act (docs/verifier-auth.md): its token, when it is not the endpoint's.
  void set_enrol_token(std::string t) { enrol_token_ = std::move(t); }

 private:
  tpm::TpmDevice& tpm_;
  TpmIdentity& ident_;
  Bytes ek_cert_;
  VerifierClient client_;
  std::string id_;
  std::string enrol_token_;
  Bytes log_;
  std::mutex tpm_mu_;
  std::unique_ptr<httplib::Server> pull_;
};

}  // namespace redoubt::attest
