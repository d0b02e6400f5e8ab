// A fuzz_x86_decode finding (issue 16): an exception handler whose first instruction faults again
// (here a load from a non-canonical address, #GP, APM vol. 2 §8.4.14 / §5.3.1) makes the CPU deliver
// #GP to itself over and over. No instruction retires, so icount stood still: the instruction budget
// and the host timer (both counted in icount) never came, and Cpu::run(64) ran until the stack had
// walked down through 4 GiB (~84 M deliveries, more than 30 s). Now every fault handled by the run
// loop costs one tick of icount, so the budget stops it after exactly `budget` deliveries.
#define BOOST_TEST_MODULE cpu_fault_loop
#include <boost/test/unit_test.hpp>

#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using redoubt::test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {
constexpr uint64_t kHandler = 0x5000;
// mov al, [rax] (8A 00) with RAX non-canonical: #GP(0) before anything retires.
const std::vector<uint8_t> kFaultingHandler = {0x8A, 0x00};

// The CPU at the handler itself, #GP's gate pointing at it: the first fault starts the loop.
// The stack starts at `rsp`: each delivery pushes 48 bytes (SS, RSP, RFLAGS, CS, RIP, error
// code; APM vol. 2 §8.9.3). A low stack is what lets this test fail without hanging: on the old
// code the frames ran down over the page tables below 0x5000 and the CPU shut down (triple fault)
// after 1 191 deliveries, icount still 0 — Stop::shutdown, not the budget.
void fault_loop(BareCpu& b, uint64_t rsp, unsigned jit_threshold) {
  b.load(kFaultingHandler, kHandler);
  b.long_mode_state(kHandler);
  b.idt_gate(13, kHandler);
  b.c.gpr[cpu::RAX] = 0x8000000000000000ull;
  b.c.gpr[cpu::RSP] = rsp;
  b.c.jit_threshold = jit_threshold;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_handler_that_faults_itself_stops_at_the_instruction_budget) {
  for (const unsigned jit : {0u, 1u}) {  // the interpreter, and the translated block (the fuzzer's case)
    BareCpu b;
    fault_loop(b, 0x10000, jit);
    const cpu::Stop s = b.c.run(100);
    BOOST_TEST(int(s) == int(cpu::Stop::budget), "jit threshold " << jit);
    BOOST_TEST(b.c.icount == 100u);
    BOOST_TEST(b.c.counters.events_delivered == 100u);
    BOOST_TEST(b.c.rip() == kHandler);                         // at the faulting instruction again
    BOOST_TEST(b.c.gpr[cpu::RSP] == 0x10000u - 100u * 48u);  // 100 frames, nothing else
  }
}

BOOST_AUTO_TEST_CASE(the_loop_goes_on_where_it_stopped) {
  BareCpu b;
  fault_loop(b, 0x100000, 8);
  for (int i = 0; i < 5; ++i) BOOST_TEST(int(b.c.run(1000)) == int(cpu::Stop::budget));
  BOOST_TEST(b.c.icount == 5000u);
  BOOST_TEST(b.c.counters.events_delivered == 5000u);
  BOOST_TEST(b.c.gpr[cpu::RSP] == 0x100000u - 5000u * 48u);
}
