// `redoubt run` progress on long runs: a line on stderr at most every two seconds
// with the time, the instructions retired (guests, and the hypervisor's on the
// engines that interpret it), the #VMEXITs so far and the guests done. On when
// stderr is a terminal or with --progress; the run's results are not affected.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "tools/research/world_switch_observer.hpp"

namespace redoubt::tools {

class RunProgress final : public WorldSwitchObserver {
 public:
  explicit RunProgress(size_t guests) : guests_(guests), t0_(std::chrono::steady_clock::now()), last_(t0_) {}
  void world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory& mem, uint64_t vmcb_pa, bool entering,
                    bool host_counted) override;
  // A line of the run's console: the hypervisor's per-guest summary counts a guest done.
  void console_line(const std::string& line);
  uint64_t exits() const { return exits_; }
  size_t guests_done() const { return done_; }

 private:
  void print(uint64_t instructions);
  size_t guests_, done_ = 0;
  uint64_t exits_ = 0;
  std::chrono::steady_clock::time_point t0_, last_;
};

}  // namespace redoubt::tools
