// Group commit for the stores' verdicts (issue 13, throughput): the first caller to find no commit
// under way leads — it takes the items queued so far (its own among them, up to max_batch) into one
// commit — and the others wait for theirs; whoever arrives meanwhile is in a later batch. With one
// caller at a time this is one commit per item. Nothing returns before the commit that holds it.
//
// Wake-ups are precise: the leader wakes the members of its batch and the next leader (the oldest
// still queued), each through its own condition variable. (A shared one with notify_all woke every
// waiter after each batch — 32 clients, 32 wake-ups and most back to sleep: a third of the store's
// samples in a profile, eighth round of docs/verifier-performance.md.)
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "attestation/service/wait_region.hpp"

namespace redoubt::attest {

template <class Item>
class GroupCommit {
 public:
  // long_waits: a commit is a round trip to a database server (PostgreSQL), long enough that a
  // waiting caller lets another pool worker run meanwhile (wait_region.hpp) — whose verdict then joins
  // the next batch. A local SQLite commit is shorter than the wake-up that would cost.
  explicit GroupCommit(size_t max_batch = SIZE_MAX, bool long_waits = false) : max_(max_batch == 0 ? 1 : max_batch), long_waits_(long_waits) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Returns once `item` has been in a batch passed to commit(const std::vector<Item*>&), which runs
  // on the leading caller's thread and must not throw (it records each item's own result or error).
  template <class Commit>
  void submit(Item& item, Commit&& commit) {
    Entry me{&item};
    std::unique_lock<std::mutex> q(mu_);
    queue_.push_back(&me);
    while (!me.done) {
      if (leading_) {
        std::optional<WaitRegion> waiting;
        if (long_waits_) waiting.emplace();
        me.cv.wait(q);  // until this item is done, or this caller is the next to lead
        continue;
      }
      leading_ = true;
      const size_t n = std::min(queue_.size(), max_);
      std::vector<Entry*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<Item*> items;
      items.reserve(n);
      for (Entry* e : batch) items.push_back(e->item);
      q.unlock();
      commit(items);
      q.lock();
      // Under the lock: a waiter returns (and its Entry goes) only after it has seen done.
      for (Entry* e : batch) {
        e->done = true;
        if (e != &me) e->cv.notify_one();
      }
      leading_ = false;
      if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
    }
  }

  size_t queued() const {  // items waiting now (tests)
    std::lock_guard<std::mutex> l(mu_);
    return queue_.size();
  }

 private:
  struct Entry {
    Item* item;
    std::condition_variable cv;
    bool done = false;  // under mu_
  };
  const size_t max_;
  const bool long_waits_;
  mutable std::mutex mu_;
  std::deque<Entry*> queue_;
  bool leading_ = false;
};

// The same without waiting (docs/verifier-performance.md, fifteenth round): submit() hands its item
// over and returns at once, unless it finds no commit under way — then it leads, committing batches
// (up to max_batch each, in arrival order) until none is queued; items handed over meanwhile join its
// next batch. commit(batch) runs on the leading caller's thread, must not throw, and reports each
// item's result itself (an item carries what to do once it is stored: DeadlineServer::defer_answer
// sends an answer held until then). So nobody sleeps on another's commit: with PostgreSQL, a
// waiting follower and the worker that ran meanwhile cost ~3 context switches per verdict.
// Before each batch after its first, the leader calls going_on() (outside the lock): under load it may
// lead for long, and what waits on it (its own answer) must not wait for that.
template <class Item>
class AsyncGroupCommit {
 public:
  explicit AsyncGroupCommit(size_t max_batch) : max_(max_batch == 0 ? 1 : max_batch) {}
  AsyncGroupCommit(const AsyncGroupCommit&) = delete;
  AsyncGroupCommit& operator=(const AsyncGroupCommit&) = delete;

  template <class Commit, class GoingOn>
  void submit(std::unique_ptr<Item> item, Commit&& commit, GoingOn&& going_on) {
    std::unique_lock<std::mutex> q(mu_);
    queue_.push_back(std::move(item));
    if (leading_) return;  // the leader takes it into its next batch
    leading_ = true;
    for (bool first = true; !queue_.empty(); first = false) {
      if (!first) {
        q.unlock();
        try {
          going_on();
        } catch (...) {  // it could not hand over: what waits on it waits for this loop to end
        }
        q.lock();
        if (queue_.empty()) break;
      }
      const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_));
      std::vector<std::unique_ptr<Item>> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      q.unlock();
      commit(batch);
      q.lock();
    }
    leading_ = false;
  }

 private:
  const size_t max_;
  std::mutex mu_;
  std::deque<std::unique_ptr<Item>> queue_;
  bool leading_ = false;
};

}  // namespace redoubt::attest
