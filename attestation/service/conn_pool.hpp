// The verifier's workers (issue 13, throughput and latency; issue 16 item 8, limits).
//
// At most `running` workers run at once; queued work waits in arrival order without a thread of its
// own. A worker that waits (wait_region.hpp: on a slow client, or on PostgreSQL) stops counting,
// and another takes the next job — so slow clients still cannot hold
// every worker (threads grow up to max_threads), but on a busy server a worker that finishes a
// request takes the next one without sleeping. With a thread per connection, 32 clients on 2 cores
// meant every request slept at the appraisal gate and again in poll(): ~3 context switches per
// request, each a cross-vCPU wake-up here (docs/verifier-performance.md, eleventh round).
//
// A keep-alive connection between requests holds no thread: it is parked (epoll, one-shot) and
// resumed as a job when its next request begins to arrive. One idle worker at a time waits in
// epoll_wait for them (leader/followers); a parked connection idle for keep_alive_s, the
// longest-idle one past max_parked, and all of them when the server stops, are expired (closed).
#pragma once
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "attestation/service/wait_region.hpp"

namespace redoubt::attest {

class ConnPool;

// A connection with no request waiting; the pool owns it from park() until resume() or expire().
class Parked {
 public:
  virtual int fd() const = 0;
  virtual void resume() = 0;  // on a worker: its next request began to arrive (or the peer closed)
  virtual void expire() = 0;  // idle too long, or the server stops: close it (and delete it)

 protected:
  ~Parked() = default;

 private:
  friend class ConnPool;
  std::chrono::steady_clock::time_point parked_at_;
  bool in_epoll_ = false;  // registered once (EPOLL_CTL_ADD), re-armed after (EPOLL_CTL_MOD)
};

struct PoolLimits {
  size_t running = 0;        // workers running at once outside waits; 0 = the online cores
  size_t min_threads = 8;    // kept when idle
  size_t max_threads = 256;  // at once, most of them waiting on slow clients
  int keep_alive_s = 5;      // a parked connection idle this long is closed
  size_t max_parked = 256;   // beyond: the longest-idle parked connection is closed
};

class ConnPool final : public httplib::TaskQueue, private WaitListener {
 public:
  explicit ConnPool(const PoolLimits& l);
  ~ConnPool() override;
  ConnPool(const ConnPool&) = delete;
  ConnPool& operator=(const ConnPool&) = delete;

  void enqueue(std::function<void()> fn) override;  // httplib: an accepted connection
  void shutdown() override;                          // expires the parked; returns once every worker left

  // On a worker of a pool: hands `c` to that pool. False elsewhere (the caller keeps `c`).
  static bool park(Parked& c);
  static ConnPool* current();  // the pool of this worker; null elsewhere

 private:
  void work();
  void lead(std::unique_lock<std::mutex>& l, bool block);  // epoll_wait for parked connections (block: until one or a timeout)
  void help();                                 // under mu_: wake or start a worker if one is needed
  bool needed() const;                         // under mu_
  void wait_begins() override;
  void wait_ends() override;
  void put(Parked& c);

  PoolLimits lim_;
  int ep_ = -1, wake_ = -1;  // epoll instance; eventfd that ends the leader's wait at shutdown
  std::mutex mu_;
  std::condition_variable cv_, gone_;
  std::deque<std::function<void()>> jobs_;
  std::map<uint64_t, Parked*> parked_;  // by park order (= idle order); the key is the epoll datum
  uint64_t next_key_ = 1;               // 0 is the eventfd
  size_t threads_ = 0, idle_ = 0, running_ = 0;
  bool leading_ = false, shutdown_ = false;
  std::chrono::steady_clock::time_point last_harvest_{};
};

}  // namespace redoubt::attest
