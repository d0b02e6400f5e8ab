#include "attestation/service/http_api.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/service/http_conn.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {

// Invalid UTF-8 (a path id, a route) is replaced, never a throw from inside an error path (issue 16 item 8d).
void send_error(httplib::Response& res, int status, const std::string& code, const std::string& reason) {
  res.status = status;
  res.set_content(json{{"error", code}, {"reason", reason}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

template <class F>
void respond(httplib::Response& res, F&& fn) {
  try {
    json out = fn();
    res.status = 200;
    res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  } catch (const AttestError& e) {
    send_error(res, e.http_status(), e.code(), e.reason());
  } catch (const json::exception& e) {
    send_error(res, 400, "bad_request", std::string("JSON: ") + e.what());
  } catch (const std::exception& e) {
    send_error(res, 500, "internal", e.what());
  }
  if (DeadlineServer::closing()) res.set_header("Connection", "close");  // RFC 9112 §9.6: the client must not reuse it
}

template <class F>
httplib::Server::Handler handler(F fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) { respond(res, [&] { return fn(req); }); };
}

// The body, read through the content reader and refused (413) as soon as its decoded size passes
// the limit: httplib itself appends chunked bodies without any (issue 16 item 8a).
std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader) {
  const std::string too_large = "the request body exceeds the limit of " + std::to_string(kMaxRequestBody) + " bytes";
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
      DeadlineServer::close_after_response();
      throw AttestError("bad_request", "Content-Length is not a decimal number (RFC 9110 §8.6)");
    }
    if (std::stoull(v) > kMaxRequestBody) {  // refused before reading any of it
      DeadlineServer::close_after_response();
      throw AttestError("too_large", too_large + " (Content-Length " + v + ")", 413);
    }
  }
  std::string body;
  bool over = false;
  const bool ok = reader([&](const char* d, size_t n) {
    if (body.size() + n > kMaxRequestBody) {
      over = true;
      return false;
    }
    body.append(d, n);
    return true;
  });
  if (over || DeadlineServer::current_fault() == ConnFault::too_large) {
    DeadlineServer::close_after_response();
    throw AttestError("too_large", too_large, 413);
  }
  if (!ok) {
    DeadlineServer::close_after_response();
    if (DeadlineServer::current_fault() == ConnFault::timeout) throw AttestError("request_timeout", "the request body did not arrive in time", 408);
    throw AttestError("bad_request", "the request body could not be read (truncated, or a malformed chunked encoding)");
  }
  return body;
}

template <class F>
httplib::Server::HandlerWithContentReader body_handler(F fn) {
  return [fn](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    respond(res, [&] { return fn(req, read_body(req, reader)); });
  };
}

int history_param(const httplib::Request& req) {
  if (!req.has_param("history")) return 20;
  const std::string v = req.get_param_value("history");
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
    throw AttestError("bad_request", "history must be an integer 0..9999");
  return std::stoi(v);
}

// The server's TLS context, as httplib::SSLServer sets it up but with TLS 1.2 at least (RFC 8996).
SSL_CTX* tls_context(const std::string& cert, const std::string& key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw AttestError("listen", "cannot create a TLS context", 500);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    throw AttestError("listen", "cannot load the TLS certificate/key " + cert + " / " + key, 500);
  }
  return ctx;
}

}  // namespace

VerifierHttpServer::VerifierHttpServer(VerifierService& svc, HttpOptions o) : svc_(svc), o_(std::move(o)) {
  SSL_CTX* tls = (!o_.tls_cert.empty() || !o_.tls_key.empty()) ? tls_context(o_.tls_cert, o_.tls_key) : nullptr;
  ConnLimits l;
  l.header_timeout_s = o_.header_timeout_s;
  l.body_timeout_s = o_.body_timeout_s;
  l.max_body = kMaxRequestBody;
  l.min_workers = static_cast<size_t>(std::max(1, o_.threads));
  l.max_workers = static_cast<size_t>(std::max(o_.threads, o_.max_connections));
  srv_ = std::make_unique<DeadlineServer>(l, tls);
  // Remember the listening socket (the callback runs on it before bind) so bind() can raise its backlog.
  srv_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;
  });
  routes();
}

VerifierHttpServer::~VerifierHttpServer() {
  stop();
  if (poller_.joinable()) poller_.join();
  if (sweeper_.joinable()) sweeper_.join();
}

void VerifierHttpServer::routes() {
  VerifierService& s = svc_;
  srv_->Get("/v1/info", handler([&s](const httplib::Request&) { return s.info(); }));
  srv_->Get("/v1/endpoints", handler([&s](const httplib::Request&) { return s.list_endpoints(); }));
  srv_->Post("/v1/endpoints", body_handler([&s](const httplib::Request&, const std::string& b) { return s.enrol(parse_json_body(b)); }));
  srv_->Get(R"(/v1/endpoints/([^/]+))", handler([&s](const httplib::Request& r) { return s.endpoint_status(r.matches[1], history_param(r)); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/activate)",
             body_handler([&s](const httplib::Request& r, const std::string& b) { return s.activate(r.matches[1], parse_json_body(b)); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/nonce)", body_handler([&s](const httplib::Request& r, const std::string&) { return s.issue_nonce(r.matches[1]); }));
  srv_->Post(R"(/v1/endpoints/([^/]+)/evidence)",
             body_handler([&s](const httplib::Request& r, const std::string& b) { return s.submit_evidence(r.matches[1], parse_json_body(b)); }));
  srv_->Post("/v1/verify", body_handler([&s](const httplib::Request&, const std::string& b) { return s.verify_oneshot(parse_json_body(b)); }));
  srv_->Get(R"(/v1/verdicts/(\d{1,18}))", handler([&s](const httplib::Request& r) { return s.verdict(std::stoll(r.matches[1])); }));
  const int header_s = o_.header_timeout_s, body_s = o_.body_timeout_s;
  srv_->set_error_handler([header_s, body_s](const httplib::Request& req, httplib::Response& res) {
    switch (DeadlineServer::current_fault()) {
      case ConnFault::too_large:
        DeadlineServer::close_after_response();
        res.set_header("Connection", "close");
        return send_error(res, 413, "too_large", "the request body exceeds the limit of " + std::to_string(kMaxRequestBody) + " bytes");
      case ConnFault::timeout:
        return send_error(res, 408, "request_timeout",
                          "the request did not arrive in time (headers within " + std::to_string(header_s) + " s, the body within " + std::to_string(body_s) + " s)");
      case ConnFault::none:
        break;
    }
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
  sweeper_ = std::thread([this] { sweep_loop(); });
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
      return fetch_agent_evidence(url, nonce, o_.endpoint_ca, svc_.agent_allow());
    });
    for (int waited = 0; waited < o_.poll_interval_ms && !stop_; waited += 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Expired nonces are purged on their own schedule, with or without pull mode (issue 16 item 8c).
void VerifierHttpServer::sweep_loop() {
  while (!stop_) {
    try {
      svc_.purge_nonces();
    } catch (const std::exception&) {
      // a busy or failing database: the next round tries again
    }
    const int interval_ms = svc_.purge_interval_s() * 1000;
    for (int waited = 0; waited < interval_ms && !stop_; waited += 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

json fetch_agent_evidence(const std::string& agent_url, const std::string& nonce_hex, const std::string& ca_file, const AgentAllowList& allow) {
  const AgentUrl u = parse_agent_url(agent_url);
  const std::string address = allow.resolve(u);  // checked now, and the connection goes to this very address
  httplib::Client c(u.base());
  c.set_hostname_addr_map({{u.host, address}});
  if (!ca_file.empty()) c.set_ca_cert_path(ca_file.c_str());  // RFC 5280 path validation to this CA only
  c.set_follow_location(false);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  // The answer is counted as it arrives and never shown: only its status and size reach last_error.
  std::string body;
  bool too_large = false;
  auto r = c.Get(("/v1/quote?nonce=" + nonce_hex).c_str(), [&](const char* d, size_t n) {
    if (body.size() + n > kMaxAgentAnswer) {
      too_large = true;
      return false;
    }
    body.append(d, n);
    return true;
  });
  if (too_large) throw AttestError("agent_answer_too_large", "the agent's answer is more than " + std::to_string(kMaxAgentAnswer) + " bytes (not read further)", 502);
  if (!r && r.error() == httplib::Error::SSLServerVerification)
    throw AttestError("agent_tls_untrusted", agent_url + ": the endpoint's TLS certificate is not trusted (verifier --endpoint-ca)", 502);
  if (!r) throw AttestError("agent_unreachable", agent_url + ": " + httplib::to_string(r.error()), 502);
  if (r->status != 200)
    throw AttestError("agent_error", "the agent answered HTTP " + std::to_string(r->status) + " (" + std::to_string(body.size()) + " bytes, not shown)", 502);
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw AttestError("agent_bad_answer", "the agent's answer (" + std::to_string(body.size()) + " bytes, not shown) is not a JSON object", 502);
  return j;
}

}  // namespace redoubt::attest
