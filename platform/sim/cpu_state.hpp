// The architectural state the SKINIT model reads and produces. The full x86-64
// interpreter arrives with the AMD-V issue; this is the subset a launch needs.
#pragma once
#include <cstdint>

namespace redoubt::sim {

// Segment register with its hidden descriptor cache (APM vol. 2 §4.5).
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0xFFFF;
  uint16_t attrib = 0;  // VMCB-style packed attributes: type[3:0] S[4] DPL[6:5] P[7] AVL L[9] D/B[10] G[11]
};

inline constexpr uint64_t kCr0Pe = 1ull << 0;   // APM vol. 2 §3.1.1
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kEferSvme = 1ull << 12;  // APM vol. 2 §3.1.7 / §15.4
inline constexpr uint64_t kRflagsIf = 1ull << 9;
inline constexpr uint64_t kRflagsVm = 1ull << 17;

enum class RunState { running, init_wait, halted };  // init_wait: held in INIT (wait-for-SIPI)

struct CpuState {
  uint32_t apic_id = 0;
  bool bsp = false;
  RunState run = RunState::running;

  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0, rsp = 0;
  uint64_t rip = 0, rflags = 0x2;
  uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, efer = 0;
  uint64_t dr7 = 0x400;
  Segment cs, ss, ds, es, fs, gs;
  uint8_t cpl = 0;
  bool gif = true;            // global interrupt flag (APM vol. 2 §15.17)
  bool init_held = false;     // INIT/NMI/SMI held pending until the SL re-enables them
  bool nmi_held = false;
  bool smi_held = false;
};

}  // namespace redoubt::sim
