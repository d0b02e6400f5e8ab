// A bare simulated CPU over simulated RAM, without SVM: the state SKINIT
// leaves, a flat GDT and a 1 GiB identity map, for the mode and far-transfer
// tests. Programs are nasm flat binaries assembled at build time.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::test {

inline std::vector<uint8_t> read_program(const std::string& name) {
  const std::string path = std::string(RD_CPU_PROG_DIR) + "/" + name + ".bin";
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing program " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct BareCpu {
  static constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kPml4 = 0x3000, kPdpt = 0x4000;
  static constexpr uint64_t kCode = 0x100000, kResults = 0x180000, kStackTop = 0x1F0000;
  // GDT selectors.
  static constexpr uint16_t kCode32 = 0x08, kData = 0x10, kCode64 = 0x18, kCode16 = 0x20, kDataBase2000 = 0x28,
                            kNotPresent = 0x30, kCode32Dpl3 = 0x38, kCode32Base1M = 0x40;

  sim::PhysicalMemory mem{32ull << 20};
  sim::cpu::Cpu c{mem};

  BareCpu() {
    const uint64_t gdt[] = {
        0,
        0x00CF9A000000FFFFull,  // 0x08 32-bit code, flat, A clear
        0x00CF92000000FFFFull,  // 0x10 data, flat
        0x00AF9A000000FFFFull,  // 0x18 64-bit code
        0x008F9A000000FFFFull,  // 0x20 16-bit code (D = 0, L = 0)
        0x00CF92002000FFFFull,  // 0x28 data, base 0x2000
        0x00CF12000000FFFFull,  // 0x30 data, not present
        0x00CFFA000000FFFFull,  // 0x38 32-bit code, DPL 3
        0x00CF9A100000FFFFull,  // 0x40 32-bit code, base 0x100000
    };
    std::memcpy(mem.map(kGdt, sizeof gdt), gdt, sizeof gdt);
    c.gdtr.base = kGdt;
    c.gdtr.limit = sizeof gdt - 1;
  }

  uint64_t gdt_entry(uint16_t sel) { return rd64(kGdt + (sel & ~7u)); }
  uint64_t rd64(uint64_t pa) { uint64_t v; std::memcpy(&v, mem.map(pa, 8), 8); return v; }
  uint32_t rd32(uint64_t pa) { uint32_t v; std::memcpy(&v, mem.map(pa, 4), 4); return v; }
  void wr64(uint64_t pa, uint64_t v) { std::memcpy(mem.map(pa, 8), &v, 8); }
  void load(const std::vector<uint8_t>& bin, uint64_t at) { mem.write(at, bin); }

  // The processor state at SL entry (AMD APM vol. 2 §15.27.5, as platform/sim/skinit.cpp
  // produces it): CR0.PE = 1, PG = 0, EFER = 0, CS/SS flat 4 GiB (CS.D = 1), EAX = SLB base,
  // ESP = SLB base + 64 KiB, IF = 0; the other data segments hold no usable selector.
  void skinit_state(uint32_t slb_base, uint16_t entry_offset) {
    using namespace redoubt::x86;
    c.cr0 = kCr0Pe | kCr0Et;
    c.cr3 = c.cr4 = 0;
    c.efer = 0;
    c.set_rflags(2);
    const uint16_t flat = kSegS | kSegPresent | kSegDb | kSegG;
    c.cs = sim::Segment{0x08, 0, 0xFFFFFFFF, uint16_t(0xA | flat)};
    c.ss = sim::Segment{0x10, 0, 0xFFFFFFFF, uint16_t(0x2 | flat)};
    c.ds = c.es = c.fs = c.gs = sim::Segment{};
    c.cpl = 0;
    for (auto& r : c.gpr) r = 0;
    c.gpr[sim::cpu::RAX] = slb_base;
    c.gpr[sim::cpu::RSP] = slb_base + 0x10000;
    c.rip() = slb_base + entry_offset;
    c.update_mode();
  }

  // 64-bit mode, CS 0x18, SS/DS 0x10, 1 GiB identity map of 0-4 GiB.
  void long_mode_state(uint64_t rip) {
    using namespace redoubt::x86;
    identity_map_1g();
    c.cr4 = kCr4Pae;
    c.cr3 = kPml4;
    c.efer = kEferLme | kEferLma | kEferNxe;
    c.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
    c.set_rflags(2);
    c.cs = sim::Segment{kCode64, 0, 0xFFFFFFFF, uint16_t(0xB | kSegS | kSegPresent | kSegL | kSegG)};
    c.ss = c.ds = c.es = sim::Segment{kData, 0, 0xFFFFFFFF, uint16_t(0x3 | kSegS | kSegPresent | kSegDb | kSegG)};
    c.cpl = 0;
    c.gpr[sim::cpu::RSP] = kStackTop;
    c.rip() = rip;
    c.flush_tlb_all_current();
    c.update_mode();
  }
  void identity_map_1g() {
    using namespace redoubt::x86;
    wr64(kPml4, kPdpt | kPtePresent | kPteWrite);
    for (uint64_t i = 0; i < 4; ++i) wr64(kPdpt + 8 * i, (i << 30) | kPtePresent | kPteWrite | kPteLarge);
  }
  // A 64-bit interrupt gate for `vector` to handler (CS 0x18).
  void idt_gate(uint8_t vector, uint64_t handler) {
    const uint64_t lo = (handler & 0xFFFF) | (uint64_t(kCode64) << 16) | (0x8Eull << 40) | (((handler >> 16) & 0xFFFF) << 48);
    wr64(kIdt + 16 * vector, lo);
    wr64(kIdt + 16 * vector + 8, handler >> 32);
    c.idtr.base = kIdt;
    c.idtr.limit = 256 * 16 - 1;
  }
};

}  // namespace redoubt::test
