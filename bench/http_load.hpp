// A load generator for the verifier's HTTP benchmarks: one thread drives N keep-alive HTTP/1.1
// connections to 127.0.0.1 with epoll, each connection sending its requests one after another (the
// next once the answer is in), as N clients each waiting for its answer would.
//
// Why not N httplib::Client threads (bench_attest until the sixteenth round of
// docs/verifier-performance.md; still there with REDOUBT_BENCH_CLIENT=httplib): the clients share this
// machine's two cores with the server. Their CPU time is subtracted from the server's, but not what
// they do to it: 32 threads were woken one per answer, each a context switch on a core a server worker
// was using, and each parsed its answer into a fresh std::string and header map — the server then
// ran with colder caches than it would with its clients on other machines. One thread and one
// epoll_wait per batch of answers is the lightest client this machine can have.
//
// Answers are parsed just enough to be checked: the status, Content-Length (a chunked answer is a
// failure: the verifier never sends one), `Connection: close` (the connection is then made again).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace redoubt::bench {

struct HttpLoadResult {
  std::vector<std::vector<double>> started_ms;  // per connection: each request's start, ms since the clock started
  std::vector<std::vector<double>> latency_ms;  // per connection: each request's latency
  std::vector<int> ok;                          // per connection: answers 200
  std::map<std::string, int> failures;          // why the others failed, and how often
};

class HttpLoad {
  using Clock = std::chrono::steady_clock;

 public:
  // Connection c sends bodies[c * per_conn + i] for i in [0, per_conn) as POST `path`.
  HttpLoad(int port, std::string path, int conns, int per_conn, const std::vector<std::string>& bodies)
      : port_(port), path_(std::move(path)), per_(per_conn), bodies_(bodies), c_(static_cast<size_t>(conns)) {
    if (bodies_.size() < static_cast<size_t>(conns) * static_cast<size_t>(per_conn)) throw std::runtime_error("http_load: fewer bodies than requests");
  }
  ~HttpLoad() {
    for (Conn& c : c_)
      if (c.fd >= 0) ::close(c.fd);
    if (ep_ >= 0) ::close(ep_);
  }
  HttpLoad(const HttpLoad&) = delete;
  HttpLoad& operator=(const HttpLoad&) = delete;

  // Connects every connection and sends each one unmeasured request first — POST `warm_body` if it is
  // given (the store's first statements warmed up), else GET /healthz — and waits for its answer.
  void connect_all(const std::string* warm_body) {
    for (Conn& c : c_) {
      open(c);
      const std::string head = warm_body ? post_head(warm_body->size()) : "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      send_blocking(c.fd, head, warm_body ? *warm_body : std::string());
      Answer a;
      if (!read_blocking(c, a) || a.status != 200) throw std::runtime_error("http_load: the unmeasured first request failed (" + a.why + ")");
    }
  }

  // Runs every request. on_start() is called right before the first is sent (the caller's clock).
  HttpLoadResult run(const std::function<void()>& on_start) {
    HttpLoadResult r;
    r.started_ms.resize(c_.size());
    r.latency_ms.resize(c_.size());
    r.ok.assign(c_.size(), 0);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::runtime_error("http_load: epoll_create1 failed");
    on_start();
    t0_ = Clock::now();
    size_t active = 0;
    for (size_t i = 0; i < c_.size(); ++i) {
      if (per_ <= 0) continue;
      watch(i);
      start(i, r);
      ++active;
    }
    epoll_event evs[64];
    while (active > 0) {
      const int n = epoll_wait(ep_, evs, 64, 30000);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // every request not yet answered fails, and the phase ends
        const std::string why = n == 0 ? "no answer for 30 s" : "epoll_wait failed: " + std::string(std::strerror(errno));
        for (const Conn& c : c_)
          if (c.next < per_) r.failures[why] += per_ - c.next;
        break;
      }
      for (int k = 0; k < n; ++k) {
        const size_t i = evs[k].data.u64;
        Conn& c = c_[i];
        if (evs[k].events & EPOLLOUT) flush(i);
        if (!(evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
        bool closed = false;
        char buf[65536];
        for (;;) {
          const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
          if (got > 0) {
            c.in.append(buf, static_cast<size_t>(got));
            if (static_cast<size_t>(got) < sizeof buf) break;
            continue;
          }
          if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (got < 0 && errno == EINTR) continue;
          closed = true;  // EOF or an error
          break;
        }
        Answer a;
        const bool complete = parse(c.in, a);
        if (!complete && !closed) continue;
        if (!complete) a.why = "transport: the connection closed before the answer was complete";
        record(i, a, complete && a.status == 200, r);
        c.in.erase(0, a.consumed);
        if (closed || a.close) {  // made again for the next request
          ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
          ::close(c.fd);
          c.fd = -1;
          c.in.clear();
        }
        if (++c.next >= per_) {
          --active;
          continue;
        }
        if (c.fd < 0) {
          open(c);
          watch(i);
        }
        start(i, r);
      }
    }
    return r;
  }

 private:
  struct Conn {
    int fd = -1;
    int next = 0;            // the request being answered
    std::string head;        // its request line and headers
    size_t sent = 0;         // bytes of head + body sent
    bool want_out = false;   // EPOLLOUT armed
    Clock::time_point at;    // when it was sent
    std::string in;          // answer bytes received
  };
  struct Answer {
    int status = 0;
    size_t consumed = 0;
    bool close = false;
    std::string why;
  };

  std::string post_head(size_t body_len) const {
    return "POST " + path_ + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_len) + "\r\n\r\n";
  }
  const std::string& body(size_t i) const { return bodies_[i * static_cast<size_t>(per_) + static_cast<size_t>(c_[i].next)]; }

  void open(Conn& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) throw std::runtime_error("http_load: socket failed");
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("http_load: connect failed: " + std::string(std::strerror(errno)));
  }
  void watch(size_t i) {
    ::fcntl(c_[i].fd, F_SETFL, ::fcntl(c_[i].fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    c_[i].want_out = false;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c_[i].fd, &ev) != 0) throw std::runtime_error("http_load: epoll_ctl failed");
  }
  void start(size_t i, HttpLoadResult& r) {
    Conn& c = c_[i];
    c.head = post_head(body(i).size());
    c.sent = 0;
    c.at = Clock::now();
    r.started_ms[i].push_back(std::chrono::duration<double, std::milli>(c.at - t0_).count());
    flush(i);
  }
  // Sends what is left of the request without blocking; arms EPOLLOUT while some is left.
  void flush(size_t i) {
    Conn& c = c_[i];
    const std::string& b = body(i);
    const size_t total = c.head.size() + b.size();
    while (c.sent < total) {
      iovec iov[2];
      int n = 0;
      if (c.sent < c.head.size()) iov[n++] = {c.head.data() + c.sent, c.head.size() - c.sent};
      const size_t boff = c.sent > c.head.size() ? c.sent - c.head.size() : 0;
      iov[n++] = {const_cast<char*>(b.data()) + boff, b.size() - boff};
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = static_cast<size_t>(n);
      const ssize_t w = ::sendmsg(c.fd, &m, MSG_NOSIGNAL);
      if (w > 0) {
        c.sent += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      c.sent = total;  // broken: the read side reports it
    }
    const bool want = c.sent < total;
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.u64 = i;
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_out = want;
    }
  }
  void record(size_t i, const Answer& a, bool ok, HttpLoadResult& r) {
    r.latency_ms[i].push_back(std::chrono::duration<double, std::milli>(Clock::now() - c_[i].at).count());
    if (ok) ++r.ok[i];
    else ++r.failures[(a.why.empty() ? "HTTP " + std::to_string(a.status) : a.why) + " (request " + std::to_string(c_[i].next) + " of its client)"];
  }

  // One answer at the front of `in`: true once it is complete (status, consumed, close set).
  static bool parse(const std::string& in, Answer& a) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const std::string_view head(in.data(), end);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
      a.why = "not an HTTP answer";
      a.consumed = in.size();
      a.close = true;
      return true;
    }
    a.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    long long len = -1;
    for (size_t p = head.find("\r\n"); p != std::string_view::npos && p < head.size();) {
      const size_t q = std::min(head.find("\r\n", p + 2), head.size());
      std::string line(head.substr(p + 2, q - p - 2));
      std::transform(line.begin(), line.end(), line.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (line.rfind("content-length:", 0) == 0) len = std::atoll(line.c_str() + 15);
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) a.close = true;
      if (line.rfind("transfer-encoding:", 0) == 0) {
        a.why = "a chunked answer (the load generator reads Content-Length only)";
        a.close = true;
      }
      p = q < head.size() ? q : std::string_view::npos;
    }
    if (len < 0) len = 0;
    if (in.size() < end + 4 + static_cast<size_t>(len)) return false;
    a.consumed = end + 4 + static_cast<size_t>(len);
    if (a.status != 200 && a.why.empty()) a.why = "HTTP " + std::to_string(a.status) + ": " + in.substr(end + 4, std::min<size_t>(static_cast<size_t>(len), 200));
    return true;
  }

  static void send_blocking(int fd, const std::string& head, const std::string& body) {
    for (const std::string* s : {&head, &body})
      for (size_t off = 0; off < s->size();) {
        const ssize_t w = ::send(fd, s->data() + off, s->size() - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw std::runtime_error("http_load: send failed");
        off += static_cast<size_t>(w);
      }
  }
  static bool read_blocking(Conn& c, Answer& a) {
    char buf[16384];
    while (!parse(c.in, a)) {
      const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        a.why = "the connection closed";
        return false;
      }
      c.in.append(buf, static_cast<size_t>(got));
    }
    c.in.erase(0, a.consumed);
    return true;
  }

  int port_;
  std::string path_;
  int per_;
  const std::vector<std::string>& bodies_;
  std::vector<Conn> c_;
  int ep_ = -1;
  Clock::time_point t0_;
};

}  // namespace redoubt::bench
