#include "tools/research/run_progress.hpp"

#include <cstdio>

#include "platform/sim/cpu/cpu.hpp"

namespace redoubt::tools {

void RunProgress::world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory&, uint64_t, bool entering, bool) {
  if (entering) return;
  ++exits_;
  if ((exits_ & 63) != 0) return;  // look at the clock every 64 exits: a timer tick exits at least that often
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::seconds(2)) return;
  last_ = now;
  print(c.icount);
}

void RunProgress::console_line(const std::string& line) {
  // hypervisor/core: "[hv] guest NAME: ... N exits, ..." once per guest when it stops.
  if (line.rfind("[hv] guest ", 0) == 0 && line.find(" exits, ") != std::string::npos) ++done_;
}

void RunProgress::print(uint64_t instructions) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  std::fprintf(stderr, "[progress] %.1f s: %.3f G instructions, %llu exits, %zu/%zu guests done\n", s,
               double(instructions) / 1e9, static_cast<unsigned long long>(exits_), done_, guests_);
  std::fflush(stderr);
}

}  // namespace redoubt::tools
