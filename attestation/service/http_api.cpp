#include "attestation/service/http_api.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {

void send_error(httplib::Response& res, int status, const std::string& code, const std::string& reason) {
  res.status = status;
  res.set_content(json{{"error", code}, {"reason", reason}}.dump(), "application/json");
}

template <class F>
httplib::Server::Handler handler(F fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      json out = fn(req);
      res.status = 200;
      res.set_content(out.dump(), "application/json");
    } catch (const AttestError& e) {
      send_error(res, e.http_status(), e.code(), e.reason());
    } catch (const json::exception& e) {
      send_error(res, 400, "bad_request", std::string("JSON: ") + e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, "internal", e.what());
    }
  };
}

int history_param(const httplib::Request& req) {
  if (!req.has_param("history")) return 20;
  const std::string v = req.get_param_value("history");
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
    throw AttestError("bad_request", "history must be an integer 0..9999");
  return std::stoi(v);
}

}  // namespace

VerifierHttpServer::VerifierHttpServer(VerifierService& svc, HttpOptions o) : svc_(svc), o_(std::move(o)) {
  if (!o_.tls_cert.empty() || !o_.tls_key.empty()) {
    auto s = std::make_unique<httplib::SSLServer>(o_.tls_cert.c_str(), o_.tls_key.c_str());
    if (!s->is_valid()) throw AttestError("listen", "cannot load the TLS certificate/key " + o_.tls_cert + " / " + o_.tls_key, 500);
    srv_ = std::move(s);
  } else {
    srv_ = std::make_unique<httplib::Server>();
  }
  const int threads = o_.threads;
  srv_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv_->set_payload_max_length(4 * 1024 * 1024);
  srv_->set_tcp_nodelay(true);  // small JSON answers: no Nagle / delayed-ACK stalls (~40 ms each)
  // Remember the listening socket (the callback runs on it before bind) so bind() can raise its backlog.
  srv_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;
  });
  srv_->set_read_timeout(10, 0);
  srv_->set_write_timeout(10, 0);
  routes();
}

VerifierHttpServer::~VerifierHttpServer() {
  stop();
  if (poller_.joinable()) poller_.join();
}

void VerifierHttpServer::routes() {
  VerifierService& s = svc_;
  srv_->Get("/v1/info", handler([&s](const httplib::Request&) { return s.info(); }));
  srv_->Get("/v1/endpoints", handler([&s](const httplib::Request&) { return s.list_endpoints(); }));
  srv_->Post("/v1/endpoints", handler([&s](const httplib::Request& r) { return s.enrol(parse_json_body(r.body)); }));
  srv_->Get(R"(/v1/endpoints/([^/]+))", handler([&s](const httplib::Request& r) { return s.endpoint_status(r.matches[1], history_param(r)); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/activate)",
             handler([&s](const httplib::Request& r) { return s.activate(r.matches[1], parse_json_body(r.body)); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/nonce)", handler([&s](const httplib::Request& r) { return s.issue_nonce(r.matches[1]); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/evidence)",
             handler([&s](const httplib::Request& r) { return s.submit_evidence(r.matches[1], parse_json_body(r.body)); }));
  srv_->Post("/v1/verify", handler([&s](const httplib::Request& r) { return s.verify_oneshot(parse_json_body(r.body)); }));
  srv_->Get(R"(/v1/verdicts/(\d{1,18}))", handler([&s](const httplib::Request& r) { return s.verdict(std::stoll(r.matches[1])); }));
  srv_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) send_error(res, res.status, res.status == 404 ? "not_found" : "http_error", "no route " + req.method + " " + req.path);
  });
  srv_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal", "unexpected exception");
  });
}

int VerifierHttpServer::bind() {
  port_ = o_.port == 0 ? srv_->bind_to_any_port(o_.host) : (srv_->bind_to_port(o_.host, o_.port) ? o_.port : -1);
  if (port_ <= 0) throw AttestError("listen", "cannot listen on " + o_.host + ":" + std::to_string(o_.port), 500);
  // Debian's libcpp-httplib 0.11 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG is compiled
  // into the .so). 32 clients connecting at once overflow it: the kernel drops handshakes (1 s SYN
  // retransmits) and resets some connections after their request was sent (bench_attest's "transport:
  // Read" failures). Linux lets listen() on a listening socket change the backlog (capped by somaxconn).
  if (listen_fd_ >= 0 && ::listen(listen_fd_, kListenBacklog) != 0)
    throw AttestError("listen", std::string("cannot raise the listen backlog: ") + std::strerror(errno), 500);
  if (o_.poll_interval_ms > 0) poller_ = std::thread([this] { poll_loop(); });
  return port_;
}

void VerifierHttpServer::serve() { srv_->listen_after_bind(); }

void VerifierHttpServer::stop() {
  stop_ = true;
  if (srv_) srv_->stop();
}

void VerifierHttpServer::poll_loop() {
  while (!stop_) {
    svc_.poll_round([this](const std::string& url, const std::string& nonce) {
      return fetch_agent_evidence(url, nonce, o_.endpoint_ca);
    });
    for (int waited = 0; waited < o_.poll_interval_ms && !stop_; waited += 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

json fetch_agent_evidence(const std::string& agent_url, const std::string& nonce_hex, const std::string& ca_file) {
  httplib::Client c(agent_url);
  if (!ca_file.empty()) c.set_ca_cert_path(ca_file.c_str());  // RFC 5280 path validation to this CA only
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  auto r = c.Get(("/v1/quote?nonce=" + nonce_hex).c_str());
  if (!r && r.error() == httplib::Error::SSLServerVerification)
    throw AttestError("agent_tls_untrusted", agent_url + ": the endpoint's TLS certificate is not trusted (verifier --endpoint-ca)", 502);
  if (!r) throw AttestError("agent_unreachable", agent_url + ": " + httplib::to_string(r.error()), 502);
  if (r->status != 200) throw AttestError("agent_error", agent_url + " answered " + std::to_string(r->status) + ": " + r->body.substr(0, 200), 502);
  return parse_json_body(r->body);
}

}  // namespace redoubt::attest
