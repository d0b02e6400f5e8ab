// Test helpers: walk a guest's nested page tables straight from simulated RAM.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "arch/svm/vmcb.hpp"
#include "hypervisor/core/page_table.hpp"
#include "platform/hal/hal.hpp"
#include "platform/sim/machine.hpp"

namespace redoubt::test {

// hal::PhysMem over the machine's RAM (read-only use).
class MachineMem final : public hal::PhysMem {
 public:
  explicit MachineMem(sim::Machine& m) : m_(m) {}
  uint8_t* map(uint64_t pa, uint64_t n) override { return m_.mem().map(pa, n); }

 private:
  sim::Machine& m_;
};

class WalkTables final : public hv::TableMemory {
 public:
  explicit WalkTables(sim::Machine& m) : m_(m) {}
  Status alloc_table(uint64_t&) override { return Status::fail(Err::internal, "read-only"); }
  uint64_t* table(uint64_t addr) override { return reinterpret_cast<uint64_t*>(m_.mem().map(addr, 4096)); }

 private:
  sim::Machine& m_;
};

inline uint64_t vmcb_ncr3(sim::Machine& m, uint64_t vmcb_pa) {
  svm::Vmcb v;
  std::memcpy(&v, m.mem().map(vmcb_pa, sizeof v), sizeof v);
  return v.control.n_cr3;
}

inline std::vector<hv::Leaf> npt_leaves(sim::Machine& m, uint64_t ncr3) {
  WalkTables t(m);
  hv::PageTableBuilder b(t);
  b.attach(ncr3);
  std::vector<hv::Leaf> out;
  b.for_each_leaf([&](const hv::Leaf& l) {
    out.push_back(l);
    return true;
  });
  return out;
}

// Every page-table page reachable from root (4-level, large pages honoured).
inline void npt_table_pages(sim::Machine& m, uint64_t table, int level, std::vector<uint64_t>& out) {
  out.push_back(table);
  const uint64_t* t = reinterpret_cast<const uint64_t*>(m.mem().map(table, 4096));
  if (!t || level == 1) return;
  for (int i = 0; i < 512; ++i) {
    uint64_t e = t[i];
    if (!(e & 1)) continue;
    if (level <= 3 && (e & 0x80)) continue;
    npt_table_pages(m, e & 0x000FFFFFFFFFF000ull, level - 1, out);
  }
}

}  // namespace redoubt::test
