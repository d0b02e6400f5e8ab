// The interpreter side of the differential tester: a bare sim::cpu::Cpu at CPL 3 in
// 64-bit mode (user pages identity-mapped), in SVM guest mode with every exception
// intercepted so that a run ends with the vector that stopped it, like the native child.
#pragma once
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"
#include "tools/cpu_difftest/state.hpp"

namespace redoubt::difftest {

class SimRunner {
 public:
  SimRunner();
  void run(const Sequence& s, Outcome& out);
  uint64_t instructions() const { return cpu_.icount; }
  // Translate each block at its first run (1, the default: the sequences run once) or never (0).
  void set_jit_threshold(unsigned t) { cpu_.jit_threshold = t; }
  const sim::cpu::Counters& counters() const { return cpu_.counters; }

 private:
  sim::PhysicalMemory mem_{8ull << 20};
  sim::cpu::Cpu cpu_{mem_};
};

}  // namespace redoubt::difftest
