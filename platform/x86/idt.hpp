// The hypervisor's IDT (AMD APM vol. 2 §4.8.4, §8): every exception is fatal —
// "[hv] FATAL: vector V at RIP R, error E", the LaunchOutcome says so and the
// machine powers off with hv_failed; an interrupt vector with a registered
// handler (the host timer) runs it; any other interrupt is fatal too.
#pragma once
#include <cstdint>

namespace redoubt::x86 {

// The stack frame isr.S builds (lowest address first).
struct IsrFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU (64-bit mode, §8.9.3)
};
static_assert(sizeof(IsrFrame) == 22 * 8);

using IrqHandler = void (*)(void* ctx, uint8_t vector);

// Build the 256-entry IDT and load it (LIDT). Call once, before anything can fault.
void idt_init();
// Route interrupt `vector` (>= 32) to handler(ctx, vector).
void idt_set_irq_handler(uint8_t vector, IrqHandler handler, void* ctx);

}  // namespace redoubt::x86
