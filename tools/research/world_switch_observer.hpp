// Something that watches every world switch of a simulated run from outside
// (the exit trace, the progress line): called with entering = true just before
// a guest's first instruction of a VMRUN and false right after its #VMEXIT was
// stored back into the VMCB at `vmcb_pa`. `host_counted`: the hypervisor's own
// instructions retire on this CPU (full-system, native-sl), not on the native engine.
#pragma once
#include <cstdint>
#include <vector>

namespace redoubt::sim {
class PhysicalMemory;
namespace cpu {
class Cpu;
}
}  // namespace redoubt::sim

namespace redoubt::tools {

class WorldSwitchObserver {
 public:
  virtual ~WorldSwitchObserver() = default;
  virtual void world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory& mem, uint64_t vmcb_pa, bool entering,
                            bool host_counted) = 0;
};

// Several observers, called in order.
class WorldSwitchFanout final : public WorldSwitchObserver {
 public:
  void add(WorldSwitchObserver* o) {
    if (o) list_.push_back(o);
  }
  bool empty() const { return list_.empty(); }
  void world_switch(const sim::cpu::Cpu& c, sim::PhysicalMemory& mem, uint64_t vmcb_pa, bool entering,
                    bool host_counted) override {
    for (WorldSwitchObserver* o : list_) o->world_switch(c, mem, vmcb_pa, entering, host_counted);
  }

 private:
  std::vector<WorldSwitchObserver*> list_;
};

}  // namespace redoubt::tools
