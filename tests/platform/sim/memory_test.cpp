// Simulated physical memory (platform/sim/memory.cpp): writes and reads at the
// edges of RAM. Issue 16 (item 11, found by UBSan): an empty write, as the
// loader does for an empty guest file, passed a null pointer to memcpy; the
// sanitizer pass (scripts/test.sh --sanitize) fails this test without the fix.
#define BOOST_TEST_MODULE sim_memory
#include <boost/test/unit_test.hpp>

#include <span>
#include <stdexcept>
#include <vector>

#include "platform/sim/memory.hpp"

using redoubt::sim::PhysicalMemory;

BOOST_AUTO_TEST_CASE(an_empty_write_is_a_no_op_even_with_a_null_span) {
  PhysicalMemory m(1 << 20);
  m.write(0x1000, std::vector<uint8_t>{0xAA, 0xBB});
  const std::vector<uint8_t> empty;  // data() == nullptr
  BOOST_TEST(empty.data() == nullptr);
  m.write(0x1000, empty);
  m.write(0x1000, std::span<const uint8_t>());
  m.write(m.size(), empty);  // [size, size) is inside RAM: no bytes
  BOOST_TEST(m.read(0x1000, 2) == (std::vector<uint8_t>{0xAA, 0xBB}));
  BOOST_TEST(m.read(m.size(), 0).empty());
}

BOOST_AUTO_TEST_CASE(writes_outside_ram_name_the_range) {
  PhysicalMemory m(1 << 20);
  try {
    m.write(m.size() + 1, std::vector<uint8_t>{});
    BOOST_FAIL("an empty write past the end of RAM was accepted");
  } catch (const std::out_of_range& e) {
    BOOST_TEST(std::string(e.what()) == "physical write [0x100001, +0x0) is outside RAM (0x100000 bytes)");
  }
  BOOST_CHECK_THROW(m.write(m.size() - 1, std::vector<uint8_t>{1, 2}), std::out_of_range);
}
