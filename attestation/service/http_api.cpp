#include "attestation/service/http_api.hpp"

#include <httplib.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <iostream>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/service/http_conn.hpp"
#include "attestation/service/status_page.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {

// Invalid UTF-8 (a path id, a route) is replaced, never a throw from inside an error path (issue 16 item 8d).
void send_error(httplib::Response& res, int status, const std::string& code, const std::string& reason) {
  res.status = status;
  res.set_content(json{{"error", code}, {"reason", reason}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// What a route answers: JSON, or text (the Prometheus exposition), or the status page (html).
struct Answer {
  json body;
  std::string text;
  bool html = false;
  std::string json_text;  // an answer already serialised as JSON (POST /v1/verify)
};

// The error answer for an exception (what respond() sends when a route throws, and what a held
// answer sends instead when its verdict could not be stored); returns its code.
std::string send_exception(httplib::Response& res, std::exception_ptr ex) {
  try {
    std::rethrow_exception(ex);
  } catch (const AttestError& e) {
    send_error(res, e.http_status(), e.code(), e.reason());
    // RFC 6750 §3: a 401 names the scheme (and, for a token that does not pass, invalid_token).
    if (e.http_status() == 401)
      res.set_header("WWW-Authenticate", e.code() == "unauthenticated" ? "Bearer realm=\"redoubt-verifier\""
                                                                       : "Bearer realm=\"redoubt-verifier\", error=\"invalid_token\"");
    return e.code();
  } catch (const json::exception& e) {
    send_error(res, 400, "bad_request", std::string("JSON: ") + e.what());
    return "bad_request";
  } catch (const std::exception& e) {
    send_error(res, 500, "internal", e.what());
  } catch (...) {
    send_error(res, 500, "internal", "an unknown error");
  }
  return "internal";
}

// Runs fn and fills res; returns the error code ("" on success). Never lets an exception escape.
template <class F>
std::string respond(httplib::Response& res, F&& fn) {
  std::string code;
  try {
    Answer out = fn();
    res.status = 200;
    if (out.html) {
      res.set_content(out.text, "text/html; charset=utf-8");
      res.set_header("Content-Security-Policy", status_page().csp);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-store");
    } else if (!out.json_text.empty()) res.set_content(out.json_text, "application/json");
    else if (!out.text.empty()) res.set_content(out.text, "text/plain; version=0.0.4; charset=utf-8");
    else res.set_content(out.body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  } catch (...) {
    code = send_exception(res, std::current_exception());
  }
  if (DeadlineServer::closing()) res.set_header("Connection", "close");  // RFC 9112 §9.6: the client must not reuse it
  return code;
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

// The query parameters, each once (a repeated one is a 400 naming it).
std::map<std::string, std::string> params_of(const httplib::Request& req) {
  std::map<std::string, std::string> p;
  for (const auto& [k, v] : req.params)
    if (!p.emplace(k, v).second) throw AttestError("bad_parameter", "query parameter \"" + k + "\": given more than once");
  return p;
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
  // Issue 13 (throughput): glibc hands a heap's free top back to the kernel once it passes 128 KB, and
  // the next requests fault those pages in again, zeroed (clear_page ~3 % of a profile under 32
  // clients). A server allocating the same sizes request after request keeps up to 64 MB per heap.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  SSL_CTX* tls = (!o_.tls_cert.empty() || !o_.tls_key.empty()) ? tls_context(o_.tls_cert, o_.tls_key) : nullptr;
  ConnLimits l;
  l.header_timeout_s = o_.header_timeout_s;
  l.body_timeout_s = o_.body_timeout_s;
  l.max_body = kMaxRequestBody;
  l.pool.running = svc_.parallel_appraisals();  // as many run as may appraise at once (conn_pool.hpp)
  l.pool.min_threads = static_cast<size_t>(std::max(1, o_.threads));
  l.pool.max_threads = static_cast<size_t>(std::max(o_.threads, o_.max_connections));
  l.pool.max_parked = static_cast<size_t>(std::max(1, o_.max_connections));
  srv_ = std::make_unique<DeadlineServer>(l, tls);
  // Remember the listening socket (the callback runs on it before bind) so bind() can raise its backlog.
  // Not httplib's default (SO_REUSEPORT): with it a second verifier on the same port also "listened" and
  // the kernel split the connections between the two (issue 13). SO_REUSEADDR alone lets a restart bind
  // over TIME_WAIT connections but, on Linux, never next to a listening socket.
  srv_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd_ = sock;
  });
  if (!o_.token_issuer.empty()) tokens_.emplace(policy::load_public_key(o_.token_issuer));
  else if (!o_.insecure_no_auth)
    throw AttestError("no_auth", "no --token-issuer PUB.pem to verify bearer tokens with (or, for local tests only, --insecure-no-auth)", 500);
  if (!o_.access_log.empty()) log_ = std::make_unique<AccessLog>(o_.access_log);
  routes();
}

VerifierHttpServer::~VerifierHttpServer() {
  stop();
  if (poller_.joinable()) poller_.join();
  if (sweeper_.joinable()) sweeper_.join();
  if (leaser_.joinable()) leaser_.join();
}

// Issue 13: who is calling, and may they call this route? 401 without a valid token, 403 with the wrong
// role or, for an endpoint token, another endpoint's id.
Principal VerifierHttpServer::authorize(const ApiRoute& r, const httplib::Request& req) const {
  Principal p;
  if (r.allowed == 0) {
    p.subject = "";
    return p;
  }
  if (o_.insecure_no_auth) {
    p.role = Role::admin;
    p.subject = "insecure-no-auth";
    return p;
  }
  p = tokens_->verify(req.get_header_value("Authorization"), unix_now());
  // Revoked before its exp (POST /v1/tokens/revoke on any instance; each one's list is refreshed every lease round).
  if (!p.token_id.empty() && svc_.token_revoked(p.token_id))
    throw AttestError("token_revoked", "this token (jti " + p.token_id + ") was revoked by an admin", 401);
  if ((r.allowed & roles(p.role)) == 0) {
    std::string need;
    for (Role x : {Role::admin, Role::relying_party, Role::endpoint})
      if (r.allowed & roles(x)) need += (need.empty() ? "" : " or ") + std::string(role_name(x));
    throw AttestError("forbidden", std::string(r.method) + " " + r.pattern + " needs the role " + need + "; this token's role is " + role_name(p.role), 403);
  }
  if (r.own_endpoint && p.role == Role::endpoint && req.matches[1] != p.endpoint)
    throw AttestError("forbidden", "this endpoint token acts for endpoint \"" + p.endpoint + "\" only", 403);
  return p;
}

void VerifierHttpServer::dispatch(const ApiRoute& r, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
  const auto t0 = std::chrono::steady_clock::now();
  VerifierService& s = svc_;
  std::optional<Principal> who;
  std::string endpoint_id = req.matches.size() > 1 && r.id != RouteId::verdict ? req.matches[1].str() : "";
  std::string result_status;
  std::function<void(std::function<void(std::exception_ptr)>, std::function<void()>)> store_later;  // a one-shot verdict stored after its answer is written
  const std::string code = respond(res, [&]() -> Answer {
    try {
      who = authorize(r, req);
    } catch (const AttestError&) {
      if (r.has_body) DeadlineServer::close_after_response();  // its body is left unread
      throw;
    }
    const std::string body = r.has_body ? read_body(req, *reader) : "";
    auto id = [&] { return req.matches[1].str(); };
    switch (r.id) {
      case RouteId::info: return {s.info(), ""};
      case RouteId::list_endpoints: return {s.list_endpoints(params_of(req)), ""};
      case RouteId::enrol: {
        json b = parse_json_body(body);
        if (b.is_object() && b.contains("id") && b["id"].is_string()) endpoint_id = b["id"].get<std::string>();
        return {s.enrol(b), ""};
      }
      case RouteId::get_endpoint: return {s.endpoint_status(id(), history_param(req)), ""};
      case RouteId::delete_endpoint: return {s.delete_endpoint(id()), ""};
      case RouteId::activate: return {s.activate(id(), parse_json_body(body)), ""};
      case RouteId::nonce: return {s.issue_nonce(id()), ""};
      case RouteId::evidence: {
        json out = s.submit_evidence(id(), parse_json_body(body));
        result_status = out.value("status", "");
        return {out, ""};
      }
      case RouteId::verify: {
        Answer a;
        if (s.defers_oneshot_verdicts() && DeadlineServer::can_defer()) {  // sent once stored (below)
          VerifierService::DeferredOneshot d = s.verify_oneshot_deferred(parse_json_body(body));
          a.json_text = std::move(d.answer);
          result_status = std::move(d.status);
          store_later = std::move(d.store);
          return a;
        }
        a.json_text = s.verify_oneshot_text(parse_json_body(body), result_status);
        return a;
      }
      case RouteId::verdict: return {s.verdict(std::stoll(id())), ""};
      case RouteId::get_reference_values: return {s.reference_values_info(), ""};
      case RouteId::put_reference_values: return {s.set_reference_values(parse_json_body(body), who->subject), ""};
      case RouteId::healthz: return {json{{"status", "ok"}}, ""};
      case RouteId::readyz: {
        // Ready = the store answers and there are reference values to appraise with (fail closed).
        std::string why;
        try {
          s.store().schema_version();
        } catch (const std::exception& e) {
          why = std::string("the store does not answer: ") + e.what();
        }
        if (why.empty() && !s.reference())
          why = "no reference values (verifier serve --reference FILE --authority PUB, or PUT /v1/reference-values)";
        if (!why.empty()) throw AttestError("not_ready", why, 503);
        return {json{{"status", "ready"}, {"reference_values", s.reference()->id}}, ""};
      }
      case RouteId::metrics: {
        const WebhookCounts w = s.webhook_counts();
        return {json(), metrics_.render(s.endpoints_by_status()) + render_lifecycle_metrics(s.stale_marked_total(), w.delivered, w.dropped, w.retried, s.lease_counts()) +
                              s.store().metrics_text()};
      }
      case RouteId::status_page: return {json(), status_page().html, true};
      case RouteId::fleet: return {s.list_endpoints(params_of(req), true), ""};
      case RouteId::jwks: return {s.jwks(), ""};
      case RouteId::set_group: return {s.set_endpoint_group(id(), parse_json_body(body)), ""};
      case RouteId::reference_history: return {s.reference_history(params_of(req)), ""};
      case RouteId::rollback_reference_values: return {s.rollback_reference_values(parse_json_body(body), who->subject), ""};
      case RouteId::revoke_token: return {s.revoke_token(parse_json_body(body), who->subject), ""};
    }
    throw AttestError("internal", "route without a handler", 500);
  });
  // The request's metrics and access-log line, once its answer is final.
  auto record = [this, t0, route = &r, who, endpoint_id, remote = req.remote_addr, method = req.method, path = req.path](
                    int status, const std::string& code, const std::string& result_status) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics_.request(route_name(route->id), status);
    if (!result_status.empty()) metrics_.appraisal(result_status, secs);
    if (code == "db" || code == "db_connection") metrics_.store_error();
    if (!log_) return;
    json line = {{"ts", unix_now()},   {"remote", remote}, {"method", method}, {"path", path},
                 {"route", route_name(route->id)}, {"status", status},   {"ms", static_cast<int64_t>(secs * 1000)}};
    if (who && route->allowed != 0) {
      line["who"] = who->subject;
      line["role"] = role_name(who->role);
      if (!who->token_id.empty()) line["token"] = who->token_id;
    } else {
      line["who"] = nullptr;
    }
    if (!endpoint_id.empty()) line["endpoint"] = endpoint_id;
    if (!code.empty()) line["error"] = code;
    if (!result_status.empty()) line["result"] = result_status;
    try {
      log_->write(line);
    } catch (const std::exception&) {
      // a full disk must not fail the request
    }
  };
  if (!store_later || !code.empty()) {
    record(res.status, code, result_status);
    return;
  }
  // A one-shot verdict on a store that defers verdicts (PostgreSQL): the answer just written is held
  // and leaves only once the verdict is committed; if storing fails, that error is the answer instead
  // (as verify_oneshot_text would have thrown it) and is what the metrics and the log say.
  DeadlineServer::defer_answer([store = std::move(store_later), record = std::move(record), status = res.status,
                                result = std::move(result_status)](DeadlineServer::Held held) mutable {
    store([record = std::move(record), status, result = std::move(result), done = std::move(held.done)](std::exception_ptr err) {
      if (!err) {
        record(status, "", result);
        done(std::nullopt);
        return;
      }
      httplib::Response failed;
      const std::string code = send_exception(failed, err);
      record(failed.status, code, "");
      done(DeadlineServer::HeldAnswerError{failed.status, failed.body});
    }, std::move(held.going_on));
  });
}

void VerifierHttpServer::routes() {
  for (const ApiRoute& r : api_routes()) {
    const ApiRoute* rp = &r;
    const std::string m = r.method;
    if (r.has_body) {
      httplib::Server::HandlerWithContentReader h = [this, rp](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& rd) {
        dispatch(*rp, req, res, &rd);
      };
      if (m == "POST") srv_->Post(r.pattern, h);
      else if (m == "PUT") srv_->Put(r.pattern, h);
      else throw AttestError("internal", std::string("route table: a body on ") + r.method, 500);
    } else {
      httplib::Server::Handler h = [this, rp](const httplib::Request& req, httplib::Response& res) { dispatch(*rp, req, res, nullptr); };
      if (m == "GET") srv_->Get(r.pattern, h);
      else if (m == "DELETE") srv_->Delete(r.pattern, h);
      else throw AttestError("internal", std::string("route table: no body on ") + r.method, 500);
    }
  }
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
  if (port_ <= 0) {
    // httplib does not keep errno: find out whether someone listens there already.
    std::string why;
    if (o_.port != 0) {
      const int probe = ::socket(o_.host.find(':') != std::string::npos ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      sockaddr_storage sa{};
      socklen_t len = 0;
      if (o_.host.find(':') == std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in*>(&sa);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<uint16_t>(o_.port));
        if (::inet_pton(AF_INET, o_.host.c_str(), &a->sin_addr) == 1) len = sizeof(*a);
      } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(o_.port));
        if (::inet_pton(AF_INET6, o_.host.c_str(), &a->sin6_addr) == 1) len = sizeof(*a);
      }
      int yes = 1;
      if (probe >= 0 && len) {
        ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        if (::bind(probe, reinterpret_cast<sockaddr*>(&sa), len) != 0)
          why = errno == EADDRINUSE ? ": the address is already in use (another `verifier serve`, or another program, listens there)"
                                    : std::string(": ") + std::strerror(errno);
      }
      if (probe >= 0) ::close(probe);
    }
    throw AttestError("listen", "cannot listen on " + o_.host + ":" + std::to_string(o_.port) + why, 500);
  }
  // Debian's libcpp-httplib 0.11 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG is compiled
  // into the .so). 32 clients connecting at once overflow it: the kernel drops handshakes (1 s SYN
  // retransmits) and resets some connections after their request was sent (bench_attest's "transport:
  // Read" failures). Linux lets listen() on a listening socket change the backlog (capped by somaxconn).
  if (listen_fd_ >= 0 && ::listen(listen_fd_, kListenBacklog) != 0)
    throw AttestError("listen", std::string("cannot raise the listen backlog: ") + std::strerror(errno), 500);
  if (o_.lease_renew_ms > 0) {
    svc_.lease_round();  // before the first poll: this instance polls only what it holds
    leaser_ = std::thread([this] { lease_loop(); });
  }
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
      if (o_.lease_renew_ms <= 0) {  // no lease rounds: this instance alone refreshes and marks here
        svc_.sync_policy();
        svc_.mark_stale_round();
      }
    } catch (const std::exception&) {
      // a busy or failing database: the next round tries again
    }
    const int interval_ms = svc_.purge_interval_s() * 1000;
    for (int waited = 0; waited < interval_ms && !stop_; waited += 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Issue 13: renew this instance's leases and take over those of dead instances, every lease_renew_ms;
// an orderly stop gives them up at once.
void VerifierHttpServer::lease_loop() {
  while (!stop_) {
    for (int waited = 0; waited < o_.lease_renew_ms && !stop_; waited += 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop_) break;
    try {
      const LeaseRound r = svc_.lease_round();
      svc_.sync_policy();       // reference values, groups and revoked tokens another instance changed
      svc_.mark_stale_round();  // this instance's silent endpoints: endpoint.stale, once
      if (r.taken_over > 0 || r.released > 0)
        std::cerr << "redoubt verifier: instance " << svc_.instance_id() << ": took over " << r.taken_over << ", released " << r.released
                  << " endpoint leases; holds " << r.owned.size() << " (" << r.live_instances << " live instances)\n";
    } catch (const std::exception&) {
      // the store does not answer: leases lapse and others take over, as if this instance were dead
    }
  }
  try {
    svc_.release_leases();
  } catch (const std::exception&) {
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
