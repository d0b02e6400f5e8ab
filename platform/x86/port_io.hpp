// x86 port I/O and the few privileged instructions the bare-metal HAL uses.
#pragma once
#include <cstdint>

namespace redoubt::x86 {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}
struct CpuidRegs {
  uint32_t eax, ebx, ecx, edx;
};
inline CpuidRegs cpuid(uint32_t leaf, uint32_t sub = 0) {
  CpuidRegs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}
inline uint64_t read_cr0() {
  uint64_t v;
  asm volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
inline uint64_t read_cr4() {
  uint64_t v;
  asm volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

// MSRs (AMD APM vol. 2 appendix A).
inline constexpr uint32_t kMsrEfer = 0xC0000080;
inline constexpr uint32_t kMsrFsBase = 0xC0000100;
inline constexpr uint32_t kMsrKernelGsBase = 0xC0000102;
inline constexpr uint32_t kMsrLstar = 0xC0000082;
inline constexpr uint32_t kMsrVmCr = 0xC0010114;      // §15.30.1: bit 4 SVMDIS
inline constexpr uint32_t kMsrVmHsavePa = 0xC0010117; // §15.30.4
inline constexpr uint64_t kVmCrSvmdis = 1ull << 4;

}  // namespace redoubt::x86
