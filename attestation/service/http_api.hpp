// The verifier's HTTP/JSON API, /v1/... (docs/api.md), on cpp-httplib with the
// connection handling of http_conn.hpp (deadlines, body limit, the workers of
// conn_pool.hpp); TLS over OpenSSL when given a certificate and
// key. Every error is a JSON body {"error": code, "reason": text} with a
// 4xx/5xx status; no handler lets an exception escape.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "attestation/service/access_log.hpp"
#include "attestation/service/agent_url.hpp"
#include "attestation/service/api_routes.hpp"
#include "attestation/service/auth.hpp"
#include "attestation/service/metrics.hpp"
#include "attestation/service/verifier_service.hpp"

namespace httplib {
class Server;
class ContentReader;
struct Request;
struct Response;
}

namespace redoubt::attest {

inline constexpr size_t kMaxRequestBody = 4 * 1024 * 1024;  // decoded request body (docs/api.md)
inline constexpr size_t kMaxAgentAnswer = 4 * 1024 * 1024;  // a pull agent's answer

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;                 // 0 = any free port (see bound_port())
  std::string tls_cert, tls_key;  // PEM files; both empty = plain HTTP
  int threads = 8;              // workers kept when idle
  int max_connections = 256;    // workers at once (most of them waiting on slow clients), and idle keep-alive connections kept
  int header_timeout_s = 10;    // a request's headers must arrive within this (the first: of the connection)
  int body_timeout_s = 30;      // and its body within this after the headers
  int poll_interval_ms = 0;     // pull mode: poll every enrolled pull endpoint this often (0 = never)
  std::string endpoint_ca;      // pull mode over https: the only CA (PEM) endpoints' TLS certificates may chain to
  // Issue 13: every route but /healthz and /readyz needs a bearer token signed by this key (auth.hpp),
  // unless insecure_no_auth (local tests only: everyone is admin). One of the two is required.
  std::string token_issuer;     // PEM file of the issuer's public key
  bool insecure_no_auth = false;
  std::string access_log;       // JSON-lines access and audit log ("" = none)
  int lease_renew_ms = 2000;    // several instances on one store: a lease round this often (0 = none; docs/operations.md)
};

class VerifierHttpServer {
 public:
  VerifierHttpServer(VerifierService& svc, HttpOptions o);
  ~VerifierHttpServer();
  int bind();    // binds (throws AttestError("listen"), also when another process listens there), returns the port
  void serve();  // blocks until stop()
  void stop();
  int bound_port() const { return port_; }

 private:
  void routes();
  void dispatch(const ApiRoute& r, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader);
  Principal authorize(const ApiRoute& r, const httplib::Request& req) const;
  void poll_loop();
  void sweep_loop();
  void lease_loop();

  VerifierService& svc_;
  HttpOptions o_;
  std::unique_ptr<httplib::Server> srv_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket, seen through set_socket_options
  static constexpr int kListenBacklog = 1024;
  std::atomic<bool> stop_{false};
  std::thread poller_, sweeper_, leaser_;
  std::optional<TokenVerifier> tokens_;
  std::unique_ptr<AccessLog> log_;
  HttpMetrics metrics_;
};

// GET {agent_url}/v1/quote?nonce=HEX on a pull-mode endpoint, if `allow` lets its host's addresses
// be polled; returns its evidence JSON. Errors name the cause (status, size), never the answer.
nlohmann::json fetch_agent_evidence(const std::string& agent_url, const std::string& nonce_hex, const std::string& ca_file,
                                    const AgentAllowList& allow);

}  // namespace redoubt::attest
