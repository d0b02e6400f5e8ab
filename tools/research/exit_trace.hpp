// `redoubt run --trace FILE`: one record per #VMEXIT of every guest, written as
// the run goes (CSV when FILE ends in .csv, JSON lines otherwise). The fields
// and their meaning are in docs/research.md "Exit traces". The trace observes
// the simulated CPU from outside (the world-switch hook of the platform); it
// changes nothing the guests or the hypervisor see.
#pragma once
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "tools/research/world_switch_observer.hpp"

namespace redoubt::tools {

class ExitTrace final : public WorldSwitchObserver {
 public:
  enum class Format { csv, jsonl };
  // Opens (truncates) `path`; throws std::runtime_error naming the path when it cannot.
  explicit ExitTrace(const std::string& path);
  ~ExitTrace();
  ExitTrace(const ExitTrace&) = delete;
  ExitTrace& operator=(const ExitTrace&) = delete;

  // The world-switch hook: entering = true just before the guest's first instruction of a
  // VMRUN, false right after its #VMEXIT stored it back into the VMCB at `vmcb_pa`.
  // `host_instructions_counted`: the host's instructions retire on this CPU (full-system,
  // native-sl); false on the native engine, whose hypervisor is host C++ code.
  void world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory& mem, uint64_t vmcb_pa, bool entering,
                    bool host_instructions_counted) override;
  // Writes the last record (its host time runs to this call) and flushes; throws on a write error.
  void finish();

  uint64_t records() const { return seq_; }
  Format format() const { return format_; }

 private:
  struct Pending {
    bool valid = false;
    uint64_t seq = 0, vmcb = 0, code = 0, info1 = 0, info2 = 0, rip = 0;
    uint32_t asid = 0;
    uint64_t guest_instructions = 0, guest_ns = 0, tlb_hits = 0, tlb_misses = 0;
    uint64_t walks = 0, walk_refs = 0, nested_walk_refs = 0;
    uint64_t exit_icount = 0;  // the CPU's icount right after the #VMEXIT
    std::chrono::steady_clock::time_point exit_time{};
  };
  void write(const Pending& p, bool have_host, uint64_t host_ns, uint64_t host_instructions);

  std::string path_;
  Format format_;
  std::ofstream out_;
  Pending pending_;
  bool host_counted_ = false;
  uint64_t seq_ = 0;
  // Snapshot at VMRUN.
  std::chrono::steady_clock::time_point enter_time_{};
  uint64_t enter_guest_instr_ = 0, enter_walks_ = 0, enter_refs_ = 0, enter_nrefs_ = 0;
  uint64_t enter_icount_ = 0;
};

}  // namespace redoubt::tools
