// At most N threads at a time in the CPU-bound part of an appraisal, admitted in arrival order
// (issue 13, latency). The HTTP server runs a worker per keep-alive connection: with 32 clients, 32
// threads appraised at once on 2 cores, each preempted mid-appraisal (holding the log cache's or the
// store's mutex as often as not) and finished only after every other one's slice — the tail of the
// latency. Through the gate the others sleep (no slice, no context switch) and each appraisal runs
// to its end; storing the verdict is outside, so the store's group commit still batches them.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace redoubt::attest {

class WorkGate {
 public:
  explicit WorkGate(size_t n) : free_(n == 0 ? 1 : n) {}
  WorkGate(const WorkGate&) = delete;
  WorkGate& operator=(const WorkGate&) = delete;

  size_t waiting() const {  // threads queued now (tests)
    std::lock_guard<std::mutex> l(mu_);
    return waiting_.size();
  }

  class Slot {
   public:
    explicit Slot(WorkGate& g) : g_(g) { g_.enter(); }
    ~Slot() { g_.leave(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    WorkGate& g_;
  };

 private:
  struct Waiter {
    std::condition_variable cv;
    bool go = false;
  };
  void enter() {
    std::unique_lock<std::mutex> l(mu_);
    if (free_ > 0 && waiting_.empty()) {
      --free_;
      return;
    }
    Waiter w;
    waiting_.push_back(&w);
    w.cv.wait(l, [&] { return w.go; });  // the slot was handed over by leave()
  }
  void leave() {
    std::lock_guard<std::mutex> l(mu_);
    if (waiting_.empty()) {
      ++free_;
      return;
    }
    Waiter* w = waiting_.front();  // the oldest waiter gets this slot: FIFO, one wake-up
    waiting_.pop_front();
    w->go = true;
    w->cv.notify_one();
  }

  mutable std::mutex mu_;
  size_t free_;
  std::deque<Waiter*> waiting_;
};

}  // namespace redoubt::attest
