#include "platform/x86/bare_platform.hpp"

#include <cstdint>

namespace redoubt::x86 {
namespace {

constexpr uint16_t kCom1 = 0x3F8;  // 16550 UART: THR at +0, LSR at +5 (bit 5 = THR empty)

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

void serial_put(char c) {
  for (int spin = 0; spin < 100000 && !(inb(kCom1 + 5) & 0x20); ++spin) {
  }
  outb(kCom1, static_cast<uint8_t>(c));
}

void serial_puts(const char* s) {
  while (*s) {
    if (*s == '\n') serial_put('\r');
    serial_put(*s++);
  }
}

}  // namespace

[[noreturn]] void fatal(const char* why) {
  serial_puts("redoubt: halted: ");
  serial_puts(why);
  serial_puts("\n");
  for (;;) asm volatile("cli; hlt");
}

void SerialConsole::write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') serial_put('\r');
    serial_put(s[i]);
  }
}

Status BarePlatform::enter_hypervisor(hal::HypervisorHandoff&) {
  halt("bare-metal hand-off to the hypervisor is not implemented yet (QEMU issue)");
}

void BarePlatform::halt(const char* why) { fatal(why); }

Status BarePlatform::active_banks(BankList&) {
  halt("TPM TIS (locality 2) is not implemented yet on bare metal (QEMU issue)");
}
Status BarePlatform::pcr_extend(uint8_t, uint32_t, const DigestList&) {
  halt("TPM TIS PCR_Extend at locality 2 is not implemented yet on bare metal (QEMU issue)");
}
Status BarePlatform::nv_read_counter(uint8_t, uint32_t, uint64_t&) {
  halt("TPM TIS NV_Read is not implemented yet on bare metal (QEMU issue)");
}

uint8_t* BarePlatform::map(uint64_t pa, uint64_t n) {
  if (pa + n < pa || pa + n > (1ull << 32)) return nullptr;
  return reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(pa));
}

Status BarePlatform::protect(uint64_t, uint64_t) {
  halt("AMD DEV programming is not implemented yet on bare metal (QEMU issue)");
}
bool BarePlatform::is_protected(uint64_t, uint64_t) {
  halt("AMD DEV query is not implemented yet on bare metal (QEMU issue)");
}

bool BarePlatform::available() { halt("bare-metal CPUID probing for SVM is not implemented yet (QEMU issue)"); }
Status BarePlatform::enable(uint64_t) { halt("bare-metal EFER.SVME / VM_HSAVE_PA setup is not implemented yet (QEMU issue)"); }
void BarePlatform::vmrun(uint64_t, hal::GuestGprs&) { halt("bare-metal VMRUN is not implemented yet (QEMU issue)"); }
void BarePlatform::invlpga(uint64_t, uint32_t) { halt("bare-metal INVLPGA is not implemented yet (QEMU issue)"); }
uint64_t BarePlatform::rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
}
void BarePlatform::arm_timer(uint64_t, uint8_t) { halt("bare-metal LAPIC timer is not implemented yet (QEMU issue)"); }

}  // namespace redoubt::x86
