// Optional RIP sampling of the interpreter (REDOUBT_SIM_PROFILE=FILE; profile.cpp).
#pragma once
#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::sim::cpu::profile {

extern const bool g_enabled;           // REDOUBT_SIM_PROFILE was set at start-up
extern const Cpu* volatile g_running;  // the CPU inside Cpu::run (sampled by SIGPROF)
extern const bool g_counting;          // REDOUBT_SIM_ICOUNT_PROFILE=FILE was set at start-up
// Adds n retired instructions to the block at `rip` (only called when g_counting).
void count_block(const Cpu& c, uint64_t rip, uint64_t n);

// Marks `c` as running for the sampler while in scope (one store per Cpu::run call).
struct Running {
  const Cpu* prev;
  explicit Running(const Cpu* c) : prev(g_running) {
    if (g_enabled) g_running = c;
  }
  ~Running() {
    if (g_enabled) g_running = prev;
  }
};

}  // namespace redoubt::sim::cpu::profile
