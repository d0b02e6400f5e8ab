#include "platform/x86/launch_report.hpp"

#include <cstring>

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
};
Report g_report;

const char* tag() { return g_report.stage == abi::Stage::hypervisor ? "[hv]" : "[sl]"; }

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
