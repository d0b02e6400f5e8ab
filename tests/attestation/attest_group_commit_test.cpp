// The stores' group commit (attestation/service/group_commit.hpp, issue 13 throughput): every item is
// committed exactly once, no caller returns before the commit that holds its item, a batch holds what
// queued while the previous one committed (never more than max_batch), and a lone caller commits alone.
#define BOOST_TEST_MODULE attest_group_commit
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "attestation/service/group_commit.hpp"

using redoubt::attest::GroupCommit;

namespace {
struct Item {
  int id = 0;
  int committed_in = -1;  // the batch's number, set by the commit
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_lone_caller_commits_alone) {
  GroupCommit<Item> gc;
  std::vector<size_t> sizes;
  for (int i = 0; i < 3; ++i) {
    Item it{i};
    gc.submit(it, [&](const std::vector<Item*>& b) {
      sizes.push_back(b.size());
      for (Item* x : b) x->committed_in = static_cast<int>(sizes.size());
    });
    BOOST_TEST(it.committed_in == i + 1);
  }
  BOOST_TEST(sizes == (std::vector<size_t>{1, 1, 1}), "batch sizes");
  BOOST_TEST(gc.queued() == 0u);
}

// While one batch commits (held here until six more callers have queued), the callers that arrive
// wait and go together into the next batches, at most max_batch (4) a batch, in arrival order.
BOOST_AUTO_TEST_CASE(callers_arriving_during_a_commit_share_the_next_batches) {
  GroupCommit<Item> gc(4);
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  std::atomic<bool> committing_first{false}, release{false};
  auto commit = [&](const std::vector<Item*>& b) {
    if (b.size() == 1 && b[0]->id == 0) {
      committing_first = true;
      while (!release) std::this_thread::yield();  // the first batch commits slowly
    }
    std::lock_guard<std::mutex> l(mu);
    batches.emplace_back();
    for (Item* x : b) {
      x->committed_in = static_cast<int>(batches.size());
      batches.back().push_back(x->id);
    }
  };
  std::vector<Item> items(7);
  for (int i = 0; i < 7; ++i) items[static_cast<size_t>(i)].id = i;
  std::vector<std::thread> ts;
  ts.emplace_back([&] { gc.submit(items[0], commit); });
  while (!committing_first) std::this_thread::yield();  // 0 leads ...
  for (int i = 1; i < 7; ++i) {
    ts.emplace_back([&, i] { gc.submit(items[static_cast<size_t>(i)], commit); });
    while (gc.queued() != static_cast<size_t>(i)) std::this_thread::yield();  // ... and 1..6 queue behind it, in order
  }
  BOOST_TEST(batches.empty(), "nothing returned before the first commit ended");
  release = true;
  for (auto& t : ts) t.join();
  BOOST_TEST_REQUIRE(batches.size() == 3u);
  BOOST_TEST(batches[0] == (std::vector<int>{0}));
  BOOST_TEST(batches[1] == (std::vector<int>{1, 2, 3, 4}));  // max_batch
  BOOST_TEST(batches[2] == (std::vector<int>{5, 6}));
  for (const Item& it : items) BOOST_TEST(it.committed_in > 0, "item " << it.id << " returned uncommitted");
}

// 32 threads, 200 items each: every item in exactly one batch, each caller's item committed when its
// submit returns.
BOOST_AUTO_TEST_CASE(many_callers_each_item_exactly_once) {
  GroupCommit<Item> gc(64);
  constexpr int kThreads = 32, kEach = 200;
  std::vector<int> seen(kThreads * kEach, 0);  // written by the committing thread only
  std::atomic<int> batches{0}, multi{0}, late{0};
  auto commit = [&](const std::vector<Item*>& b) {
    ++batches;
    if (b.size() > 1) ++multi;
    BOOST_TEST(b.size() <= 64u);
    for (Item* x : b) {
      ++seen[static_cast<size_t>(x->id)];
      x->committed_in = 1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // a commit takes a while: others queue
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Item it{t * kEach + i};
        gc.submit(it, commit);
        if (it.committed_in != 1) ++late;
      }
    });
  for (auto& t : ts) t.join();
  int wrong = 0;
  for (int n : seen) wrong += n != 1;
  BOOST_TEST(wrong == 0, wrong << " items not committed exactly once");
  BOOST_TEST(late.load() == 0);
  BOOST_TEST(multi.load() > 0, "no batch held more than one item");
  BOOST_TEST_MESSAGE(kThreads * kEach << " items in " << batches.load() << " batches");
}
