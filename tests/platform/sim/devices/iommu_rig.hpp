// A small machine for the AMD-Vi model's tests: RAM, DEV, the DMA port with the
// simulated IOMMU in front of it, and helpers that program the IOMMU the way the
// spec (48882) lays its structures out, without any driver.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "arch/amd/iommu.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/amd_iommu.hpp"
#include "platform/sim/memory.hpp"

namespace iommutest {

namespace v = redoubt::arch::amd_iommu;
using namespace redoubt;

constexpr uint64_t kRam = 32ull << 20;
constexpr uint64_t kDevTable = 0x400000;  // 2 MiB: every DeviceID
constexpr uint64_t kCmd = 0x600000;       // 256 commands
constexpr uint64_t kEvt = 0x601000;       // 256 events
constexpr uint64_t kWait = 0x602000;
constexpr uint64_t kTables = 0x700000;    // page tables from here
constexpr uint64_t kIr = v::pte::kIr, kIw = v::pte::kIw, kRw = kIr | kIw;

struct Rig {
  sim::PhysicalMemory mem{kRam};
  sim::DeviceExclusionVector dev{kRam};
  sim::DmaPort port{mem, dev};
  sim::AmdIommu iommu;
  uint64_t next_table = kTables;
  uint32_t cmd_tail = 0;
  uint32_t evt_head = 0;

  explicit Rig(sim::AmdIommuConfig cfg = {}) : iommu(mem, cfg) { port.set_remapper(&iommu); }

  void w64(uint64_t pa, uint64_t val) { std::memcpy(mem.map(pa, 8), &val, 8); }
  uint64_t r64(uint64_t pa) {
    uint64_t x;
    std::memcpy(&x, mem.map(pa, 8), 8);
    return x;
  }
  uint64_t reg(uint32_t off) { return iommu.mmio_read(off, 8); }
  void set_reg(uint32_t off, uint64_t val) { iommu.mmio_write(off, 8, val); }

  // Device table (Size 1FFh), 256-entry rings, IommuEn | EventLogEn | CmdBufEn.
  void enable(uint64_t extra_control = 0) {
    set_reg(v::mmio::kDevTableBase, kDevTable | v::dev_table_base::kSizeMask);
    set_reg(v::mmio::kCmdBufBase, kCmd | (8ull << v::ring_base::kLenShift));
    set_reg(v::mmio::kEventLogBase, kEvt | (8ull << v::ring_base::kLenShift));
    set_reg(v::mmio::kControl, v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn | extra_control);
  }
  void dte(uint16_t id, uint64_t q0, uint64_t q1 = 0) {
    w64(kDevTable + uint64_t(id) * 32, q0);
    w64(kDevTable + uint64_t(id) * 32 + 8, q1);
  }
  // V, TV, Mode, root, IR/IW (both unless said), DomainID.
  static uint64_t dte_q0(uint32_t mode, uint64_t root, uint64_t perm = v::dte::kIr | v::dte::kIw) {
    return v::dte::kV | v::dte::kTv | (uint64_t(mode) << v::dte::kModeShift) | (root & v::dte::kRootMask) | perm;
  }
  uint64_t new_table() {
    const uint64_t t = next_table;
    next_table += 4096;
    std::memset(mem.map(t, 4096), 0, 4096);
    return t;
  }
  // Maps one page of 2^(level_shift(leaf_level)) bytes at iova in a `mode`-level table (every
  // level in between present with IR|IW unless pde_perm says otherwise). Returns the leaf entry's address.
  uint64_t map(uint64_t root, uint32_t mode, uint64_t iova, uint64_t pa, uint64_t leaf_perm, uint32_t leaf_level = 1,
               uint64_t pde_perm = kRw) {
    uint64_t table = root;
    for (uint32_t level = mode; level > leaf_level; --level) {
      const uint64_t ea = table + 8 * v::table_index(iova, level);
      uint64_t e = r64(ea);
      if (!(e & v::pte::kPr)) {
        e = new_table() | (uint64_t(level - 1) << v::pte::kNextLevelShift) | pde_perm | v::pte::kPr;
        w64(ea, e);
      }
      table = e & v::pte::kAddrMask;
    }
    const uint64_t ea = table + 8 * v::table_index(iova, leaf_level);
    w64(ea, (pa & v::pte::kAddrMask) | leaf_perm | v::pte::kPr);
    return ea;
  }
  void submit(const v::Command& c) {
    std::memcpy(mem.map(kCmd + cmd_tail, 16), c.q, 16);
    cmd_tail = (cmd_tail + 16) % 4096;
    iommu.mmio_write(v::mmio::kCmdBufTail, 4, cmd_tail);
  }
  // New events since the last call (consumes them: head register moves).
  std::vector<v::Event> events() {
    std::vector<v::Event> out;
    const uint32_t tail = uint32_t(reg(v::mmio::kEventLogTail));
    while (evt_head != tail) {
      v::Event e;
      std::memcpy(e.q, mem.map(kEvt + evt_head, 16), 16);
      out.push_back(e);
      evt_head = (evt_head + 16) % 4096;
    }
    iommu.mmio_write(v::mmio::kEventLogHead, 4, evt_head);
    return out;
  }
  bool read(uint16_t id, uint64_t addr, std::vector<uint8_t>* out = nullptr, size_t n = 8) {
    std::vector<uint8_t> b(n);
    const bool ok = bool(port.read(sim::BusMaster{"dev", id}, addr, b));
    if (out) *out = b;
    return ok;
  }
  bool write(uint16_t id, uint64_t addr, uint8_t fill, size_t n = 8) {
    std::vector<uint8_t> b(n, fill);
    return bool(port.write(sim::BusMaster{"dev", id}, addr, b));
  }
};

}  // namespace iommutest
