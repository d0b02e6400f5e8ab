// Test rigs for the SSE model: one instruction run natively on the host CPU
// (sse_native.cpp) and the same bytes run by the interpreter, from the same
// register and memory state. Code and data sit at the same addresses in both
// worlds (host: fixed mappings; simulator: guest-physical = linear, paging off).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::test::sse {

inline constexpr uint64_t kData = 0x300000;  // 4 KiB data window
inline constexpr uint64_t kDataSize = 0x1000;
inline constexpr uint64_t kCode = 0x310000;  // one 4 KiB code page

// Register file exchanged with the native wrapper (layout used by its assembly).
struct alignas(16) RegState {
  sim::cpu::Xmm xmm[16];  // 0
  uint64_t gpr[16];       // 256: RAX..R15 in encoding order (RSP ignored)
  uint64_t rflags;        // 384
  uint32_t mxcsr;         // 392
  uint32_t pad;
};
static_assert(offsetof(RegState, gpr) == 256 && offsetof(RegState, rflags) == 384 &&
              offsetof(RegState, mxcsr) == 392);

// Outcome of one instruction.
struct Outcome {
  int vector = -1;  // -1: retired; else the exception vector
  RegState regs{};
  std::vector<uint8_t> data;  // the data window afterwards
};

// The host CPU. Maps the windows once (MAP_FIXED_NOREPLACE); available() is false if
// the addresses are taken. A SIGFPE (unmasked SIMD exception) is reported as vector 19
// with the XMM/MXCSR state the kernel saved at the fault; a SIGSEGV/SIGBUS as 13.
class NativeRig {
 public:
  NativeRig();
  bool available() const { return ok_; }
  Outcome run(const std::vector<uint8_t>& insn, const RegState& in, const std::vector<uint8_t>& data);

 private:
  bool ok_ = false;
};

// The interpreter: a bare sim::cpu::Cpu in 64-bit mode with paging off (linear =
// physical), in SVM guest mode so every exception becomes an intercept that names it.
class SimRig {
 public:
  SimRig();
  sim::cpu::Cpu& cpu() { return cpu_; }
  uint8_t* mem(uint64_t pa, uint64_t n) { return mem_.map(pa, n); }
  Outcome run(const std::vector<uint8_t>& insn, const RegState& in, const std::vector<uint8_t>& data);
  // Runs the bytes at kCode with the current state; -1 if they retired up to the HLT.
  int run_raw(const std::vector<uint8_t>& code);

 private:
  sim::PhysicalMemory mem_{4ull << 20};
  sim::cpu::Cpu cpu_{mem_};
};

}  // namespace redoubt::test::sse
