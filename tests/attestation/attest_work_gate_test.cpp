// The appraisal gate (attestation/service/work_gate.hpp, issue 13 latency): no more than N threads
// inside at once, and the waiting ones admitted in the order they arrived, one per freed slot.
#define BOOST_TEST_MODULE attest_work_gate
#include <boost/test/unit_test.hpp>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "attestation/service/work_gate.hpp"

using redoubt::attest::WorkGate;

BOOST_AUTO_TEST_CASE(bounded_and_first_come_first_served) {
  WorkGate g(2);
  auto s1 = std::make_unique<WorkGate::Slot>(g);
  auto s2 = std::make_unique<WorkGate::Slot>(g);  // both slots held: everyone else waits
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&, i] {
      const WorkGate::Slot s(g);
      std::lock_guard<std::mutex> l(mu);
      order.push_back(i);
    });
    while (g.waiting() != static_cast<size_t>(i + 1)) std::this_thread::yield();  // i is queued before i+1 starts
  }
  {
    std::lock_guard<std::mutex> l(mu);
    BOOST_TEST(order.empty());  // nobody got past a full gate
  }
  BOOST_TEST(g.waiting() == 4u);
  s1.reset();  // one slot: handed to the oldest waiter, then on, one at a time
  for (auto& t : ts) t.join();
  BOOST_TEST(order == (std::vector<int>{0, 1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(g.waiting() == 0u);
  s2.reset();
}

BOOST_AUTO_TEST_CASE(never_more_than_n_inside) {
  WorkGate g(3);
  std::mutex mu;
  int inside = 0, most = 0, done = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < 12; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 50; ++k) {
        const WorkGate::Slot s(g);
        {
          std::lock_guard<std::mutex> l(mu);
          most = std::max(most, ++inside);
        }
        std::this_thread::yield();
        std::lock_guard<std::mutex> l(mu);
        --inside;
        ++done;
      }
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(most <= 3);
  BOOST_TEST(done == 600);
  BOOST_TEST(inside == 0);
}
