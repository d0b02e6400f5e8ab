#include "attestation/service/conn_pool.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>
#include <vector>

namespace redoubt::attest {
namespace {
using Clock = std::chrono::steady_clock;
thread_local ConnPool* tl_pool = nullptr;
constexpr uint64_t kWakeKey = 0;
}  // namespace

ConnPool::ConnPool(const PoolLimits& l) : lim_(l) {
  if (lim_.running == 0) lim_.running = static_cast<size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  lim_.max_threads = std::max({lim_.max_threads, lim_.running, size_t{1}});
  lim_.min_threads = std::min(lim_.min_threads, lim_.max_threads);
  lim_.max_parked = std::max<size_t>(lim_.max_parked, 1);
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (ep_ < 0 || wake_ < 0 || epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
    const int e = errno;
    if (ep_ >= 0) ::close(ep_);
    if (wake_ >= 0) ::close(wake_);
    throw std::system_error(e, std::generic_category(), "connection pool: epoll/eventfd");
  }
}

ConnPool::~ConnPool() {
  shutdown();
  ::close(ep_);
  ::close(wake_);
}

// Something to do (a job, or parked connections nobody watches) and a core for it.
bool ConnPool::needed() const { return (!jobs_.empty() || (!leading_ && !parked_.empty())) && running_ < lim_.running; }

void ConnPool::help() {
  if (!needed()) return;
  if (idle_ > 0) {
    cv_.notify_one();
    return;
  }
  if (threads_ >= lim_.max_threads) return;  // every worker busy or waiting: the job waits its turn
  ++threads_;
  ++running_;  // counted from now, so that one need starts one thread
  try {
    std::thread([this] { work(); }).detach();  // shutdown() waits until every worker has left
  } catch (const std::system_error&) {
    --threads_;
    --running_;
  }
}

void ConnPool::enqueue(std::function<void()> fn) {
  std::lock_guard<std::mutex> l(mu_);
  jobs_.push_back(std::move(fn));
  help();
}

void ConnPool::work() {
  tl_pool = this;
  tl_wait_listener = this;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {  // counted in running_ here
    if (!jobs_.empty() && (running_ <= lim_.running || shutdown_)) {  // stopping: the rest without a bound (no spin)
      // Parked connections whose next request came while jobs were queued (say, a burst of new
      // connections) take their turn behind those jobs, not after the queue has emptied.
      if (!leading_ && !parked_.empty() && !shutdown_ && Clock::now() - last_harvest_ >= std::chrono::milliseconds(1)) {
        lead(l, false);
        continue;
      }
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      fn();
      l.lock();
      continue;
    }
    if (shutdown_) {
      if (jobs_.empty()) break;
    } else if (!leading_ && jobs_.empty()) {
      lead(l, true);
      continue;
    }
    --running_;
    ++idle_;
    const bool woken = cv_.wait_for(l, std::chrono::seconds(30), [this] { return shutdown_ || needed(); });
    --idle_;
    ++running_;
    if (!woken && threads_ > lim_.min_threads) break;  // idle for 30 s and more than the minimum: leave
  }
  --running_;
  --threads_;
  tl_pool = nullptr;
  tl_wait_listener = nullptr;
  gone_.notify_all();
}

void ConnPool::lead(std::unique_lock<std::mutex>& l, bool block) {
  leading_ = true;
  --running_;
  // Parked connections idle past keep-alive are closed; the wait ends when the next one would be.
  const auto now = Clock::now();
  const auto keep = std::chrono::seconds(lim_.keep_alive_s);
  std::vector<Parked*> expired;
  while (!parked_.empty() && now - parked_.begin()->second->parked_at_ >= keep) {
    expired.push_back(parked_.begin()->second);
    parked_.erase(parked_.begin());
  }
  long long timeout_ms = block ? 1000 : 0;
  if (block && !parked_.empty())
    timeout_ms = std::clamp<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(parked_.begin()->second->parked_at_ + keep - now).count() + 1, 0, 1000);
  l.unlock();
  for (Parked* p : expired) p->expire();
  epoll_event evs[64];
  const int n = epoll_wait(ep_, evs, 64, static_cast<int>(timeout_ms));
  l.lock();
  leading_ = false;
  ++running_;
  last_harvest_ = Clock::now();
  for (int i = 0; i < n; ++i) {
    const uint64_t key = evs[i].data.u64;
    if (key == kWakeKey) {
      uint64_t v;
      [[maybe_unused]] const ssize_t r = ::read(wake_, &v, sizeof v);
      continue;
    }
    auto it = parked_.find(key);
    if (it == parked_.end()) continue;  // expired meanwhile
    Parked* p = it->second;
    parked_.erase(it);
    jobs_.push_back([p] { p->resume(); });
  }
  // This worker takes the first job itself. Another core may take the next job, or watch the parked
  // connections meanwhile (else, with a few clients, one core served them all). Not for the job this
  // worker takes: with one client that was a wake-up per request for nothing.
  if (jobs_.size() > 1 || !parked_.empty()) help();
}

ConnPool* ConnPool::current() { return tl_pool; }

bool ConnPool::park(Parked& c) {
  ConnPool* pool = tl_pool;
  if (!pool) return false;
  pool->put(c);
  return true;
}

// No help() here: the parking worker returns to its loop at once and watches the parked itself if
// nobody does (waking a follower for it cost a wake-up per request with one client).
void ConnPool::put(Parked& c) {
  std::unique_lock<std::mutex> l(mu_);
  if (shutdown_) {
    l.unlock();
    c.expire();
    return;
  }
  Parked* victim = nullptr;
  if (parked_.size() >= lim_.max_parked) {
    victim = parked_.begin()->second;
    parked_.erase(parked_.begin());
  }
  const uint64_t key = next_key_++;
  const int fd = c.fd();  // `c` may be expired (by shutdown) once the lock is released
  const bool add = !c.in_epoll_;
  c.in_epoll_ = true;
  c.parked_at_ = Clock::now();
  parked_.emplace(key, &c);
  l.unlock();
  if (victim) victim->expire();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;  // one worker per readiness; re-armed at the next park
  ev.data.u64 = key;
  int r = epoll_ctl(ep_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  if (r != 0 && (errno == EEXIST || errno == ENOENT)) r = epoll_ctl(ep_, add ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (r != 0) {  // cannot be watched: close it rather than keep it forever
    l.lock();
    if (parked_.erase(key) == 1) {
      l.unlock();
      c.expire();
    }
  }
}

void ConnPool::wait_begins() {
  std::lock_guard<std::mutex> l(mu_);
  --running_;
  help();
}

void ConnPool::wait_ends() {
  std::lock_guard<std::mutex> l(mu_);
  ++running_;
}

void ConnPool::shutdown() {
  std::unique_lock<std::mutex> l(mu_);
  shutdown_ = true;
  std::vector<Parked*> all;
  for (const auto& [key, p] : parked_) all.push_back(p);
  parked_.clear();
  cv_.notify_all();
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t r = ::write(wake_, &one, sizeof one);
  l.unlock();
  for (Parked* p : all) p->expire();
  l.lock();
  gone_.wait(l, [this] { return threads_ == 0; });
}

}  // namespace redoubt::attest
