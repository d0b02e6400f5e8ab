// A worker of the verifier's connection pool says when it waits — on a client's socket, for
// PostgreSQL (a query, a group commit) — so that another worker may run meanwhile: the pool bounds
// the workers *running*, not the workers (conn_pool.hpp, issue 13). Short waits (the appraisal gate,
// an SQLite group commit) are not regions: the wake-up of another worker costs more than they do.
// On any other thread (tests, the CLI, the poller) a region is nothing.
#pragma once

namespace redoubt::attest {

class WaitListener {
 public:
  virtual void wait_begins() = 0;
  virtual void wait_ends() = 0;

 protected:
  ~WaitListener() = default;
};

// Set by the pool on its own workers.
inline thread_local WaitListener* tl_wait_listener = nullptr;

class WaitRegion {
 public:
  WaitRegion() : l_(tl_wait_listener) {
    if (l_) l_->wait_begins();
  }
  ~WaitRegion() {
    if (l_) l_->wait_ends();
  }
  WaitRegion(const WaitRegion&) = delete;
  WaitRegion& operator=(const WaitRegion&) = delete;

 private:
  WaitListener* l_;
};

}  // namespace redoubt::attest
