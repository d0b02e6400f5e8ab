#include "platform/x86/idt.hpp"

#include "platform/hal/format.hpp"
#include "platform/x86/launch_report.hpp"

extern "C" char hv_isr_stubs[];  // isr.S: 256 stubs of 16 bytes

namespace redoubt::x86 {
namespace {

// 64-bit interrupt gate (AMD APM vol. 2 §4.8.4, Figure 4-24).
struct IdtGate {
  uint16_t offset_lo;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;  // P | DPL 0 | type 0xE (64-bit interrupt gate)
  uint16_t offset_mid;
  uint32_t offset_hi;
  uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

constexpr uint16_t kCodeSelector = 0x08;  // hv_entry.S's GDT
constexpr uint32_t kStubSize = 16;

alignas(16) IdtGate g_idt[256];
struct {
  IrqHandler fn;
  void* ctx;
} g_irq[256];

const char* const kExceptionNames[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "09",  "#TS", "#NP", "#SS", "#GP", "#PF", "15",
    "#MF", "#AC", "#MC", "#XF", "20",  "#CP", "22",  "23",  "24",  "25",  "26",  "27",  "#HV", "#VC", "#SX", "31"};

}  // namespace

void idt_init() {
  const uint64_t base = reinterpret_cast<uint64_t>(hv_isr_stubs);
  for (uint32_t v = 0; v < 256; ++v) {
    const uint64_t a = base + v * kStubSize;
    g_idt[v] = IdtGate{uint16_t(a), kCodeSelector, 0, 0x8E, uint16_t(a >> 16), uint32_t(a >> 32), 0};
  }
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } idtr{sizeof g_idt - 1, reinterpret_cast<uint64_t>(g_idt)};
  asm volatile("lidt %0" ::"m"(idtr));
}

void idt_set_irq_handler(uint8_t vector, IrqHandler handler, void* ctx) {
  if (vector < 32) return;  // exceptions stay fatal
  g_irq[vector] = {handler, ctx};  // null: unregister (the vector becomes fatal again)
}

}  // namespace redoubt::x86

extern "C" void hv_isr(redoubt::x86::IsrFrame* f) {
  using namespace redoubt;
  const uint64_t v = f->vector;
  if (v >= 32 && v < 256 && x86::g_irq[v].fn) {
    x86::g_irq[v].fn(x86::g_irq[v].ctx, uint8_t(v));
    return;
  }
  char msg[160];
  if (v < 32)
    format(msg, sizeof msg, "FATAL: vector %llu (%s) at RIP 0x%llx, error 0x%llx", (unsigned long long)v,
           x86::kExceptionNames[v], (unsigned long long)f->rip, (unsigned long long)f->error);
  else
    format(msg, sizeof msg, "FATAL: unexpected interrupt vector %llu at RIP 0x%llx", (unsigned long long)v,
           (unsigned long long)f->rip);
  if (hal::Console* c = x86::launch_report_console()) c->print("[hv] %s\n", msg);
  x86::launch_fail(Err::fault, msg);
}
