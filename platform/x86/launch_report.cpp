#include "platform/x86/launch_report.hpp"

#include <cstring>

#include "abi/harness_channel.hpp"
#include "arch/x86/uart16550.hpp"
#include "platform/hal/format.hpp"
#include "platform/x86/port_io.hpp"

namespace redoubt::x86 {
namespace {

struct Report {
  abi::Stage stage = abi::Stage::none;
  hal::Console* console = nullptr;
  abi::LaunchOutcome* outcome = nullptr;
  bool stopping = false;  // a fault while reporting must not recurse
  uint64_t stack_bottom = 0, stack_top = 0;
  uint64_t log_pa = 0, log_cap = 0;
  const volatile uint64_t* log_used = nullptr;
  DumpHook hook = nullptr;
  FailureHook on_failure = nullptr;
  uint64_t scrub_stack_bottom = 0;
};
Report g_report;

const char* tag() { return g_report.stage == abi::Stage::hypervisor ? "[hv]" : "[sl]"; }

// COM2 without interrupts: wait for THRE (PC16550D LSR bit 5) a bounded time per byte.
// Once it stays busy the channel is dead (nothing listens): stop sending (the host then refuses the
// launch: a dump without its end marker). The bound is in polls, not time: under QEMU THRE waits for
// the host process to drain the socket, so on a host starved of CPU 20 M polls could run out
// mid-dump (the likely cause of one "evidence dump has no end marker" after a normal power-off in a
// loaded CI rehearsal, stop 29; not reproduced). 20x that now, still bounded (the host kills a run
// at 180 s anyway); the same imm32, so the same code size (SL stage 1 has 15 bytes to spare under
// its 24 KiB cap, sl.ld).
struct HarnessChannel {
  bool dead = false;
  void byte(uint8_t b) {
    if (dead) return;
    for (uint32_t i = 0; !(inb(abi::kHarnessPort + arch::uart::kLsr) & arch::uart::lsr::kThre); ++i)
      if (i > 400'000'000) {
        dead = true;
        return;
      }
    outb(abi::kHarnessPort + arch::uart::kRbrThr, b);
  }
  void bytes(const void* p, uint64_t n) {
    for (uint64_t i = 0; i < n && !dead; ++i) byte(static_cast<const uint8_t*>(p)[i]);
  }
  template <class T>
  void value(T v) {
    bytes(&v, sizeof v);
  }
};

// abi/harness_channel.hpp: the evidence a host needs, sent once at power-off.
void send_evidence(abi::ExitStatus status) {
  DumpRegion r[abi::kDumpMaxRegions];
  size_t n = 0;
  if (g_report.outcome) r[n++] = {reinterpret_cast<uint64_t>(g_report.outcome), sizeof(abi::LaunchOutcome)};
  if (g_report.log_pa && (g_report.log_used || g_report.outcome)) {
    uint64_t used = g_report.log_used ? *g_report.log_used : g_report.outcome->event_log_used;
    if (used > g_report.log_cap) used = g_report.log_cap;
    if (used) r[n++] = {g_report.log_pa, used};
  }
  if (g_report.hook) n += g_report.hook(r + n, abi::kDumpMaxRegions - n);
  HarnessChannel ch;
  ch.bytes(abi::kDumpMagic, 8);
  ch.value<uint32_t>(abi::kDumpVersion);
  ch.value<uint32_t>(uint32_t(status));
  ch.value<uint32_t>(uint32_t(n));
  for (size_t i = 0; i < n; ++i) {
    ch.value<uint64_t>(r[i].pa);
    ch.value<uint64_t>(r[i].size);
    ch.bytes(reinterpret_cast<const void*>(r[i].pa), r[i].size);
  }
  ch.bytes(abi::kDumpEnd, 8);
}

}  // namespace

void launch_report_event_log(uint64_t pa, uint64_t cap, const volatile uint64_t* used) {
  g_report.log_pa = pa;
  g_report.log_cap = cap;
  g_report.log_used = used;
}
void launch_report_dump_hook(DumpHook hook) { g_report.hook = hook; }
void launch_report_failure_hook(FailureHook hook) { g_report.on_failure = hook; }
void launch_report_scrub_stack(uint64_t bottom) { g_report.scrub_stack_bottom = bottom; }

namespace {
// Zeroes [bottom, this frame - 512): everything below the live frames. noinline, so its own
// frame is the lowest one in use.
__attribute__((noinline)) void scrub_stack_below(uint64_t bottom) {
  uint64_t rsp;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  const uint64_t end = (rsp - 512) & ~7ull;
  for (volatile uint64_t* w = reinterpret_cast<volatile uint64_t*>(bottom); uint64_t(w) < end; ++w) *w = 0;
}
}  // namespace

void launch_report_init(abi::Stage stage, hal::Console* console, abi::LaunchOutcome* outcome) {
  g_report.stage = stage;
  g_report.console = console;
  g_report.outcome = outcome;
  if (outcome && stage == abi::Stage::sl) {
    // The SL starts the record; the hypervisor continues the SL's.
    std::memset(outcome, 0, sizeof *outcome);
    std::memcpy(outcome->magic, abi::kOutcomeMagic, sizeof outcome->magic);
    outcome->stage = uint32_t(abi::Stage::sl);
    format(outcome->message, sizeof outcome->message, "secure loader running");
  }
}

abi::LaunchOutcome* launch_report_outcome() { return g_report.outcome; }
hal::Console* launch_report_console() { return g_report.console; }

void launch_report_hv_entered(uint64_t hv_entry_pa, uint64_t event_log_used) {
  if (abi::LaunchOutcome* o = g_report.outcome) {
    o->hv_entered = 1;
    o->hv_entry_pa = hv_entry_pa;
    o->event_log_used = event_log_used;
    format(o->message, sizeof o->message, "entering the hypervisor");
  }
}

void launch_report_log_used(uint64_t event_log_used) {
  if (g_report.outcome) g_report.outcome->event_log_used = event_log_used;
}

void launch_report_stack(uint64_t bottom, uint64_t top) {
  g_report.stack_bottom = bottom;
  g_report.stack_top = top;
}

const char* exit_status_name(abi::ExitStatus s) {
  switch (s) {
    case abi::ExitStatus::ok: return "ok";
    case abi::ExitStatus::launch_refused: return "launch_refused";
    case abi::ExitStatus::hv_failed: return "hv_failed";
  }
  return "unknown";
}

void launch_stop(abi::ExitStatus status, Err err, const char* message) {
  if (g_report.stopping) power_off(status);
  g_report.stopping = true;
  if (status == abi::ExitStatus::hv_failed && g_report.on_failure) g_report.on_failure(err, message);
  if (abi::LaunchOutcome* o = g_report.outcome) {
    o->stage = uint32_t(g_report.stage);
    o->err = uint32_t(err);
    format(o->message, sizeof o->message, "%s", message);
  }
  if (g_report.console && g_report.stack_top > g_report.stack_bottom) {
    const auto* w = reinterpret_cast<const uint64_t*>(g_report.stack_bottom);
    const uint64_t words = (g_report.stack_top - g_report.stack_bottom) / 8;
    uint64_t untouched = 0;
    while (untouched < words && w[untouched] == kStackPaint) ++untouched;
    g_report.console->print("%s stack: %llu of %llu bytes used (high-water mark)%s\n", tag(),
                            (unsigned long long)((words - untouched) * 8),
                            (unsigned long long)(g_report.stack_top - g_report.stack_bottom),
                            untouched == 0 ? " -- OVERFLOW: the lowest word was overwritten" : "");
  }
  if (g_report.console)
    g_report.console->print("%s power off: %s (%s): %s\n", tag(), exit_status_name(status), err_name(err), message);
  send_evidence(status);
  if (g_report.scrub_stack_bottom) scrub_stack_below(g_report.scrub_stack_bottom);
  power_off(status);
}

void launch_fail(Err err, const char* message) {
  launch_stop(g_report.stage == abi::Stage::hypervisor ? abi::ExitStatus::hv_failed
                                                       : abi::ExitStatus::launch_refused,
              err == Err::ok ? Err::internal : err, message);
}

void power_off(abi::ExitStatus status) {
  outb(abi::kDebugExitPort, uint8_t(status));
  for (;;) asm volatile("cli; hlt");
}

}  // namespace redoubt::x86
