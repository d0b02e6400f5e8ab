#include "attestation/service/http_conn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
namespace {
using Clock = std::chrono::steady_clock;

void address_of(const sockaddr_storage& ss, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

// One connection: non-blocking socket (optionally TLS) whose every read and write waits at most
// until the current phase's deadline.
class ConnStream final : public httplib::Stream {
 public:
  enum class Phase { header, body, answer };

  ConnStream(int fd, const ConnLimits& l, const std::atomic<socket_t>& svr) : fd_(fd), l_(l), svr_(svr) {}

  void set_ssl(SSL* s) { ssl_ = s; }
  void start_request() {
    phase_ = Phase::header;
    deadline_ = Clock::now() + std::chrono::seconds(l_.header_timeout_s);
    body_bytes_ = 0;
  }
  void start_body() {
    phase_ = Phase::body;
    deadline_ = Clock::now() + std::chrono::seconds(l_.body_timeout_s);
    body_bytes_ = 0;
  }
  // Between keep-alive requests: bytes of the next request already read (or decrypted).
  // SSL_has_pending: also bytes OpenSSL read from the socket but has not yet decrypted, which epoll
  // would never report (the connection would be parked with its request inside).
  bool next_request_buffered() const { return pos_ < len_ || (ssl_ && SSL_has_pending(ssl_) == 1); }
  // Between keep-alive requests, off the pool: true when the next request's first bytes are there.
  bool wait_next_request() {
    if (!flush()) return false;
    if (next_request_buffered()) return true;
    deadline_ = Clock::now() + std::chrono::seconds(l_.pool.keep_alive_s);
    const bool ok = wait(POLLIN);
    fault_ = ConnFault::none;  // an idle connection timing out is no fault of a request
    return ok;
  }
  bool accept_tls() {
    for (;;) {
      ERR_clear_error();
      const int r = SSL_accept(ssl_);
      if (r == 1) return true;
      const int e = SSL_get_error(ssl_, r);
      if (!((e == SSL_ERROR_WANT_READ && wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))) return false;
    }
  }
  // After refusing a request whose body is still arriving: send FIN after the answer and read
  // what the client already sent (bounded), so that closing does not reset the connection
  // before the client has read the answer.
  void linger() {
    flush();
    ::shutdown(fd_, SHUT_WR);
    deadline_ = Clock::now() + std::chrono::seconds(2);
    char scratch[16384];
    for (size_t drained = 0; drained < 64u * 1024 * 1024;) {
      const ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
      if (n > 0) {
        drained += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!wait(POLLIN)) return;
      } else {
        return;
      }
    }
  }

  ConnFault fault() const { return fault_; }
  bool close_requested() const { return close_; }
  void request_close() { close_ = true; }

  bool is_readable() const override { return next_request_buffered() || wait(POLLIN); }
  bool is_writable() const override { return wait(POLLOUT); }

  ssize_t read(char* p, size_t n) override {
    if (fault_ != ConnFault::none || !flush()) return -1;
    if (phase_ == Phase::body) {  // the raw backstop; handlers enforce max_body on the decoded body
      const size_t cap = 4 * l_.max_body;
      if (body_bytes_ >= cap) {
        fault_ = ConnFault::too_large;
        return -1;
      }
      n = std::min(n, cap - body_bytes_);
    }
    if (pos_ == len_) {
      if (n >= sizeof buf_) return count(raw_read(p, n));
      const ssize_t r = raw_read(buf_, sizeof buf_);
      if (r <= 0) return r;
      pos_ = 0;
      len_ = static_cast<size_t>(r);
    }
    const size_t k = std::min(n, len_ - pos_);
    std::memcpy(p, buf_ + pos_, k);
    pos_ += k;
    return count(static_cast<ssize_t>(k));
  }

  // A held answer (DeadlineServer::defer_answer): what httplib writes is kept until send_held().
  void hold(std::function<void(DeadlineServer::Held)> start) {
    deferred_ = std::move(start);
    hold_ = true;
  }
  bool deferred() const { return static_cast<bool>(deferred_); }
  std::function<void(DeadlineServer::Held)> take_deferred() { return std::exchange(deferred_, nullptr); }
  void drop_held() {
    hold_ = false;
    held_.clear();
  }
  // Sends the held answer (or, with `instead`, that in its place) within write_timeout_s from now.
  bool send_held(const std::string* instead = nullptr) {
    hold_ = false;
    std::string out = instead ? *instead : std::move(held_);
    held_.clear();
    phase_ = Phase::answer;
    deadline_ = Clock::now() + std::chrono::seconds(l_.write_timeout_s);
    for (size_t at = 0; at < out.size();) {
      const ssize_t r = write(out.data() + at, out.size() - at);
      if (r <= 0) return false;
      at += static_cast<size_t>(r);
    }
    return true;
  }

  ssize_t write(const char* p, size_t n) override {
    if (hold_) {
      if (phase_ != Phase::answer) phase_ = Phase::answer;  // no deadline: nothing is sent yet
      held_.append(p, n);
      return static_cast<ssize_t>(n);
    }
    if (phase_ != Phase::answer) {
      phase_ = Phase::answer;
      deadline_ = Clock::now() + std::chrono::seconds(l_.write_timeout_s);
      // Issue 13 (throughput): httplib writes an answer's status line and headers, then its body; on
      // a plain socket the headers wait here and leave with the body in one segment (one send where
      // there were two, each a transmit and a loopback receive on this VM). flush() sends them when
      // no body follows (after the request, before any read or close).
      if (!ssl_ && n <= sizeof head_ && n >= 4 && std::memcmp(p + n - 4, "\r\n\r\n", 4) == 0) {
        std::memcpy(head_, p, n);
        head_len_ = n;
        return static_cast<ssize_t>(n);
      }
    }
    if (head_len_ > 0) return send_with_head(p, n);
    const int len = static_cast<int>(std::min<size_t>(n, INT_MAX));
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        const int r = SSL_write(ssl_, p, len);
        if (r > 0) return r;
        const int e = SSL_get_error(ssl_, r);
        if ((e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)) || (e == SSL_ERROR_WANT_READ && wait(POLLIN))) continue;
        return -1;
      }
      const ssize_t r = ::send(fd_, p, static_cast<size_t>(len), MSG_NOSIGNAL);
      if (r >= 0) return r;
      if (retry(POLLOUT)) continue;
      return -1;
    }
  }

  // httplib asks for both addresses on every request; a connection's do not change, so each is
  // asked of the kernel once (issue 13: two syscalls a request fewer).
  void get_remote_ip_and_port(std::string& ip, int& port) const override { cached_address(remote_, getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { cached_address(local_, getsockname, ip, port); }

  // Sends headers held back by write() (an answer without a body). False: the connection failed.
  bool flush() {
    while (head_len_ > 0) {
      const ssize_t r = ::send(fd_, head_, head_len_, MSG_NOSIGNAL);
      if (r > 0) {
        drop_head(static_cast<size_t>(r));
      } else if (!(r < 0 && retry(POLLOUT))) {
        head_len_ = 0;
        return false;
      }
    }
    return true;
  }
  socket_t socket() const override { return fd_; }

 private:
  struct Address {
    bool known = false;
    std::string ip;
    int port = 0;
  };
  void cached_address(Address& a, int (*query)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    if (!a.known) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (query(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;  // not cached: asked again next time
      address_of(ss, a.ip, a.port);
      a.known = true;
    }
    ip = a.ip;
    port = a.port;
  }
  void drop_head(size_t k) {
    std::memmove(head_, head_ + k, head_len_ - k);
    head_len_ -= k;
  }
  // The held-back headers and then p[0, n) in one sendmsg; returns how much of p went (> 0), or -1.
  ssize_t send_with_head(const char* p, size_t n) {
    for (;;) {
      iovec iov[2] = {{head_, head_len_}, {const_cast<char*>(p), n}};
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = 2;
      const ssize_t r = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
      if (r >= 0) {
        const size_t sent = static_cast<size_t>(r);
        if (sent <= head_len_) {
          drop_head(sent);
          if (head_len_ > 0) continue;
          return send_plain_rest(p, n);
        }
        const size_t body = sent - head_len_;
        head_len_ = 0;
        return static_cast<ssize_t>(body);
      }
      if (retry(POLLOUT)) continue;
      head_len_ = 0;
      return -1;
    }
  }
  ssize_t send_plain_rest(const char* p, size_t n) {  // the headers went, none of p yet
    for (;;) {
      const ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (r >= 0) return r;
      if (retry(POLLOUT)) continue;
      return -1;
    }
  }
  ssize_t count(ssize_t r) {
    if (r > 0 && phase_ == Phase::body) body_bytes_ += static_cast<size_t>(r);
    return r;
  }
  ssize_t raw_read(char* p, size_t n) {
    const int len = static_cast<int>(std::min<size_t>(n, INT_MAX));
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        const int r = SSL_read(ssl_, p, len);
        if (r > 0) return r;
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if ((e == SSL_ERROR_WANT_READ && wait(POLLIN)) || (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT))) continue;
        return -1;
      }
      const ssize_t r = ::recv(fd_, p, static_cast<size_t>(len), 0);
      if (r >= 0) return r;
      if (retry(POLLIN)) continue;
      return -1;
    }
  }
  // After a failed plain send/recv: true to try again (interrupted, or the socket became ready).
  bool retry(short events) const { return errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && wait(events)); }
  // Until the socket is ready, the deadline passes (a fault) or the server stops.
  bool wait(short events) const {
    for (;;) {
      if (svr_ == INVALID_SOCKET) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) {
        fault_ = ConnFault::timeout;
        return false;
      }
      pollfd pf{fd_, events, 0};
      const WaitRegion waiting;  // another worker may run meanwhile (conn_pool.hpp)
      const int r = ::poll(&pf, 1, static_cast<int>(std::min<long long>(left, 200)));
      if (r > 0) return true;  // POLLERR / POLLHUP too: the next call reports them
      if (r < 0 && errno != EINTR) return false;
    }
  }

  int fd_;
  const ConnLimits& l_;
  const std::atomic<socket_t>& svr_;
  SSL* ssl_ = nullptr;
  Phase phase_ = Phase::header;
  Clock::time_point deadline_;
  size_t body_bytes_ = 0;
  mutable ConnFault fault_ = ConnFault::none;
  bool close_ = false;
  // Issue 13 (throughput): one recv takes a whole evidence request (~14 KB) where 4 KB took four,
  // each after a poll (httplib asks for 4 KB at a time).
  char buf_[32768];
  size_t pos_ = 0, len_ = 0;
  char head_[2048];  // an answer's status line and headers, until its body (or flush())
  size_t head_len_ = 0;
  bool hold_ = false;  // defer_answer: writes go to held_
  std::string held_;
  std::function<void(DeadlineServer::Held)> deferred_;
  mutable Address remote_, local_;
};

thread_local ConnStream* tl_current = nullptr;

// RFC 9110 §15: the reason phrases of the statuses a held answer's error may have (a store's errors:
// 409 verdict_exists, 500 db/internal); a client ignores the phrase.
const char* reason_phrase(int status) {
  switch (status) {
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    default: return "Error";
  }
}

std::string json_error(const std::string& code, const std::string& reason) {
  return nlohmann::json{{"error", code}, {"reason", reason}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

DeadlineServer::DeadlineServer(const ConnLimits& l, SSL_CTX* tls) : limits_(l), tls_(tls) {
  set_payload_max_length(l.max_body);
  set_keep_alive_max_count(static_cast<size_t>(l.keep_alive_max));  // what httplib announces in Keep-Alive:
  set_keep_alive_timeout(l.pool.keep_alive_s);                      // the loop below enforces the same
  // Called once the headers are parsed, before any body is read: the body's own deadline starts.
  set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    if (tl_current) tl_current->start_body();
    return HandlerResponse::Unhandled;
  });
  new_task_queue = [pool = l.pool] { return new ConnPool(pool); };
}

DeadlineServer::~DeadlineServer() {
  if (tls_) SSL_CTX_free(tls_);
}

ConnFault DeadlineServer::current_fault() { return tl_current ? tl_current->fault() : ConnFault::none; }

void DeadlineServer::close_after_response() {
  if (tl_current) tl_current->request_close();
}

bool DeadlineServer::closing() { return tl_current && tl_current->close_requested(); }

bool DeadlineServer::can_defer() { return tl_current && !tl_current->deferred() && ConnPool::current(); }

void DeadlineServer::defer_answer(std::function<void(Held)> start) {
  if (!can_defer()) throw AttestError("internal", "an answer can be held only on a worker of the connection pool", 500);
  tl_current->hold(std::move(start));
}

// One connection, its stream and how many requests it has served; parked in the pool between requests.
class DeadlineServer::Conn final : public Parked {
 public:
  Conn(DeadlineServer& s, int fd) : s_(s), strm(fd, s.limits_, s.svr_sock_) {}
  int fd() const override { return strm.socket(); }
  void resume() override { s_.serve(*this, true); }
  void expire() override { s_.finish(*this); }

  DeadlineServer& s_;
  ConnStream strm;
  SSL* ssl = nullptr;
  int served = 0;
  bool ret = false;
};

bool DeadlineServer::process_and_close_socket(socket_t sock) {
  const int flags = fcntl(sock, F_GETFL, 0);
  fcntl(sock, F_SETFL, flags | O_NONBLOCK);
  const int one = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small JSON answers: no Nagle stalls
  auto* c = new Conn(*this, sock);
  c->strm.start_request();  // the first request's header deadline includes the TLS handshake
  if (tls_) {
    c->ssl = SSL_new(tls_);
    if (!c->ssl || SSL_set_fd(c->ssl, sock) != 1) {
      finish(*c);
      return false;
    }
    c->strm.set_ssl(c->ssl);
    if (!c->strm.accept_tls()) {
      finish(*c);
      return false;
    }
  }
  serve(*c, false);
  return true;  // httplib ignores it
}

// Requests while they come; between two, the connection is parked in the pool (resumed = its next
// request began to arrive) or, off the pool, waited for here. Ends in finish() or parked.
void DeadlineServer::serve(Conn& c, bool resumed) {
  tl_current = &c.strm;
  for (; c.served < limits_.keep_alive_max && svr_sock_ != INVALID_SOCKET; ++c.served) {
    if (c.served > 0) {
      if (!resumed) {
        if (!c.strm.flush()) break;
        if (!c.strm.next_request_buffered()) {
          tl_current = nullptr;
          if (ConnPool::park(c)) return;  // the pool owns it now
          tl_current = &c.strm;
          if (!c.strm.wait_next_request()) break;
        }
      }
      c.strm.start_request();
    }
    resumed = false;
    bool closed = false;
    c.ret = process_request(c.strm, c.served + 1 == limits_.keep_alive_max, closed, nullptr) && c.strm.flush();
    if (c.strm.deferred()) {  // the answer is held until start() reports (defer_answer)
      const std::optional<ReportedHere> here = hold(c, closed);
      if (!here) return;  // a worker of the pool answers it (answer_held)
      tl_current = &c.strm;  // reported here: answered here, and the loop goes on (no recursion)
      if (!send_held_answer(c, here->err) || closed) break;
      continue;
    }
    if (!c.ret || closed || c.strm.fault() != ConnFault::none || c.strm.close_requested()) break;
  }
  tl_current = nullptr;
  finish(c);
}

namespace {
// A report that came on the holding thread while start() still ran (this worker led the commit that
// held its verdict — always, with one client): answered on this thread after start() returns, not as
// a job for another worker (which cost a wake-up each) — unless start goes on with other work first
// (going_on: then it is a job after all).
// Known by a number unique in the process, not by its connection's address: while this worker still
// leads commits, the connection may be answered, closed, and its memory reused by a new one whose
// report must not be taken for this one's.
struct InlineReport {
  uint64_t id;
  bool reported = false, handed_over = false;
  std::optional<DeadlineServer::HeldAnswerError> err;
};
thread_local InlineReport* tl_inline = nullptr;
std::atomic<uint64_t> g_next_hold{1};
}  // namespace

// The connection belongs to `start` until it reports; then a worker of this pool answers and goes on
// (answer_held), or — reported on this thread before start returned — the report is returned.
std::optional<DeadlineServer::ReportedHere> DeadlineServer::hold(Conn& c, bool closed) {
  std::function<void(Held)> start = c.strm.take_deferred();
  tl_current = nullptr;
  ConnPool* pool = ConnPool::current();
  auto to_pool = [this, &c, closed, pool](std::optional<HeldAnswerError> err) {
    pool->enqueue([this, &c, closed, err = std::move(err)] { answer_held(c, closed, err); });
  };
  InlineReport mine{g_next_hold.fetch_add(1, std::memory_order_relaxed)};
  InlineReport* const outer = std::exchange(tl_inline, &mine);
  try {
    start(Held{[id = mine.id, to_pool](std::optional<HeldAnswerError> err) {
                 if (tl_inline && tl_inline->id == id) {
                   tl_inline->reported = true;
                   tl_inline->err = std::move(err);
                   return;
                 }
                 to_pool(std::move(err));
               },
               [&mine, to_pool] {
                 if (mine.reported && !mine.handed_over) {
                   to_pool(mine.err);
                   mine.handed_over = true;
                 }
               }});
  } catch (...) {  // it threw before taking the answer over (VerifierStore::add_verdict_deferred)
    tl_inline = outer;
    if (mine.handed_over) return std::nullopt;
    if (mine.reported) return ReportedHere{mine.err};
    return ReportedHere{HeldAnswerError{500, json_error("internal", "the verdict could not be handed to the store")}};
  }
  tl_inline = outer;
  if (mine.reported && !mine.handed_over) return ReportedHere{mine.err};
  return std::nullopt;
}

// A job of the pool: the held answer (or the error in its place), then the connection goes on.
void DeadlineServer::answer_held(Conn& c, bool closed, const std::optional<HeldAnswerError>& err) {
  tl_current = &c.strm;
  if (!send_held_answer(c, err) || closed) {
    tl_current = nullptr;
    finish(c);
    return;
  }
  ++c.served;
  serve(c, false);  // between two requests: parked, or the next one served
}

// False: the connection ends here (it failed, or must close).
bool DeadlineServer::send_held_answer(Conn& c, const std::optional<HeldAnswerError>& err) {
  if (!c.ret) {  // the request itself failed: nothing to send
    c.strm.drop_held();
  } else if (err) {
    c.strm.request_close();
    const std::string answer = "HTTP/1.1 " + std::to_string(err->status) + " " + reason_phrase(err->status) +
                               "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(err->body.size()) +
                               "\r\n\r\n" + err->body;
    c.ret = c.strm.send_held(&answer);
  } else {
    c.ret = c.strm.send_held();
  }
  return c.ret && c.strm.fault() == ConnFault::none && !c.strm.close_requested();
}

void DeadlineServer::finish(Conn& c) {
  const int sock = c.strm.socket();
  if (c.ssl) {
    if (c.ret) SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
  }
  c.strm.flush();  // an answer without a body, after which the loop above left
  if (c.strm.close_requested() || c.strm.fault() == ConnFault::too_large) c.strm.linger();
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  delete &c;
}

}  // namespace redoubt::attest
