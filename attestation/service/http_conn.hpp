// How the verifier serves a connection under cpp-httplib (issue 16 item 8):
// every request must deliver its headers within header_timeout_s of its first
// byte (of the connection, for the first one) and its body within
// body_timeout_s; its answer must be taken within write_timeout_s; a body may
// not exceed max_body bytes (the handlers count the decoded body; the stream
// stops any request at 4 x max_body raw bytes); TLS is done here over OpenSSL.
// Workers (conn_pool.hpp): at most pool.running run at once, more only while
// others wait (on slow clients, among others) up to pool.max_threads, so a few slow
// clients cannot hold every worker; a keep-alive connection between requests is
// parked and holds none. httplib's own connection loop has none of this.
#pragma once
#include <httplib.h>
#include <openssl/ssl.h>

#include <functional>
#include <optional>
#include <string>

#include "attestation/service/conn_pool.hpp"

namespace redoubt::attest {

struct ConnLimits {
  int header_timeout_s = 10;
  int body_timeout_s = 30;
  int write_timeout_s = 10;
  int keep_alive_max = 100;
  size_t max_body = 4 * 1024 * 1024;
  PoolLimits pool;  // the workers, and the idle keep-alive connections (keep_alive_s, max_parked)
};

// Why the request this thread is serving could not be read.
enum class ConnFault { none, timeout, too_large };

class DeadlineServer : public httplib::Server {
 public:
  DeadlineServer(const ConnLimits& l, SSL_CTX* tls);  // takes `tls` (may be null: plain HTTP)
  ~DeadlineServer() override;
  const ConnLimits& limits() const { return limits_; }

  // For handlers, on the thread serving the request:
  static ConnFault current_fault();
  static void close_after_response();  // part of the request is left unread: do not reuse the connection
  static bool closing();               // close_after_response() was called for this request

  // An answer that may leave only once something has happened (a verdict committed: POST /v1/verify
  // on PostgreSQL, docs/verifier-performance.md, fifteenth round) without a thread waiting for it.
  // A handler on a pool worker (can_defer()) calls defer_answer(start): the answer it gives is then
  // held, not sent, and once the handler has returned start(held) runs on this worker.
  // held.done(nullopt), once, from any thread, sends the held answer; held.done(error) drops it and
  // sends the error answer instead (Connection: close). Either way a worker of the pool then goes on
  // with the connection as after any answer. If start, on this thread, goes on with other work after
  // done (a commit's leader committing others' verdicts), it calls held.going_on() first, so that the
  // answer is not kept waiting for it. A `start` that throws has not taken the answer over: it is
  // answered 500 internal (unless done was called).
  struct HeldAnswerError {
    int status;
    std::string body;  // JSON
  };
  using HeldAnswerDone = std::function<void(std::optional<HeldAnswerError>)>;
  struct Held {
    HeldAnswerDone done;
    std::function<void()> going_on;
  };
  static bool can_defer();
  static void defer_answer(std::function<void(Held)> start);

 private:
  class Conn;
  bool process_and_close_socket(socket_t sock) override;  // replaces httplib's (private virtual)
  void serve(Conn& c, bool resumed);
  // A held answer's report that came on the holding thread: the caller answers it now (with `err`
  // in its place, when set).
  struct ReportedHere {
    std::optional<HeldAnswerError> err;
  };
  // After a request whose answer is held (defer_answer): nullopt when a worker of the pool answers it.
  std::optional<ReportedHere> hold(Conn& c, bool closed);
  void answer_held(Conn& c, bool closed, const std::optional<HeldAnswerError>& err);  // a job of the pool
  bool send_held_answer(Conn& c, const std::optional<HeldAnswerError>& err);
  void finish(Conn& c);  // closes and deletes it

  ConnLimits limits_;
  SSL_CTX* tls_;
};

}  // namespace redoubt::attest
