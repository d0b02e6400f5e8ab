// Resource exhaustion: a guest that never gives the CPU back, floods its serial port,
// storms the host with exits or exceptions, or builds page tables to make every access
// expensive. Stopped by preemption (the host timer exits the guest whatever its IF:
// V_INTR_MASKING, APM vol. 2 §15.21.1, INTR intercept §15.9), the per-guest time and
// exit budget (docs/hypervisor.md "Budget"), the bounded serial log, the SHUTDOWN
// intercept (§15.9) and nested paging's 2-D walk that never allocates host memory.
#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

REDOUBT_ATTACK({"resource.infinite-loop", "resource",
                "CLI; JMP $ — no exit ever, started before a hello guest",
                "the host timer preempts it (INTR intercept and V_INTR_MASKING, APM vol. 2 §15.9, §15.21.1): hello "
                "finishes, and the time budget (5·10⁹ ticks) ends the loop",
                "kHvTestNoPreemption: the host timer is not armed for the quantum", [](Ctx& c, Checks& k) {
                  // Without preemption the machine never stops: the run is bounded well below the budget.
                  Launch L = c.run({GuestSpec{"attack", {kLoop, 0, 0, 0}}, GuestSpec{"hello"}}, nullptr,
                                   hv::kHvTestNoPreemption, c.off() ? 1'500'000'000ull : 9'000'000'000ull);
                  need_hv_ok(L, k);
                  if (L.r.guests.size() == 2) {
                    need_exited(L, 1, 0, k, "Hello, world!");
                    need_killed(L, 0, "time budget of 5000000000 TSC ticks exhausted", k);
                    k.note("hello finished; the loop was " + L.guest(0).reason + "; " +
                           std::to_string(L.guest(0).exits.count("INTR") ? L.guest(0).exits.at("INTR") : 0) + " preemptions");
                  }
                  k.evidence()["machine_stop"] = L.r.launch.report.reason;
                }});

REDOUBT_ATTACK({"resource.serial-flood", "resource",
                "two guests flood their serial port: OUT to the THR in a loop (an exit per byte), and 4 KiB "
                "console_write hypercalls in a loop",
                "the serial log is bounded (64 KiB, then counted only, not echoed); 16 MiB past it ends the guest "
                "(\"serial flood\"); the exit-per-byte flood meets the time budget (10 000 ticks per exit)",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"attack", {kFlood, 1, 0, 0}}, GuestSpec{"attack", {kFlood, 0, 0, 0}},
                                    GuestSpec{"hello"}},
                                   nullptr, 0, 12'000'000'000ull);
                  need_hv_ok(L, k);
                  need_killed(L, 0, "serial flood:", k);
                  need_killed(L, 1, "budget", k);
                  need_exited(L, 2, 0, k, "Hello, world!");
                  for (int i = 0; i < 2; ++i)
                    k.need(L.guest(i).serial.size() <= 64 * 1024, "a serial log grew past 64 KiB");
                  k.evidence()["hypercall_flood_exits"] = L.guest(0).exits_total;
                  k.evidence()["out_flood_exits"] = L.guest(1).exits_total;
                  k.note("hypercall flood: " + L.guest(0).reason + "; OUT flood: " + L.guest(1).reason);
                }});

REDOUBT_ATTACK({"resource.timer-storm", "resource",
                "a periodic guest timer of 1 tick with interrupts on: an exit and an injected interrupt as often as "
                "the hypervisor allows",
                "the timer is raised to 1000 ticks and every exit is charged 10 000 ticks: the time budget ends it "
                "after <= 500 000 exits (docs/hypervisor.md \"Budget\")",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hvattack", {5, 0, 0, 0}}, GuestSpec{"hello"}}, nullptr, 0,
                                   12'000'000'000ull);
                  need_hv_ok(L, k);
                  need_killed(L, 0, "time budget of 5000000000 TSC ticks exhausted", k);
                  const GuestResult& a = L.guest(0);
                  k.need(a.exits_total <= 500000, std::to_string(a.exits_total) + " exits before the budget ended it");
                  need_exited(L, 1, 0, k, "Hello, world!");
                  k.evidence()["exits"] = a.exits_total;
                  k.evidence()["timer_irqs"] = a.timer_irqs;
                  k.note(std::to_string(a.exits_total) + " exits, " + std::to_string(a.timer_irqs) + " interrupts, then " + a.reason);
                }});

REDOUBT_ATTACK({"resource.page-table-bomb", "resource",
                "builds 130 page tables: a PML4 whose 510 slots point at itself (recursive walks) and 256 MiB of 4 KiB "
                "pages all mapping one frame, then walks every page (65 536 TLB misses) and every recursive slot",
                "nested paging translates the guest's own tables in hardware (APM vol. 2 §15.25.1): no shadow tables, "
                "no host memory grows; each walk is bounded by the 4+4 levels",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kPtBomb, 0, 0, 0}}});
                  need_hv_ok(L, k);
                  need_exited(L, 1, 0, k, "ptbomb: 66046 walks");
                  need_exited(L, 0, 0, k, "Hello, world!");
                  k.need(L.has_record && L.record.guests[1].npt_tables == L.record.guests[0].npt_tables,
                         "the attacker's nested tables grew: " + std::to_string(L.record.guests[1].npt_tables) + " vs " +
                             std::to_string(L.record.guests[0].npt_tables));
                  k.need(!L.guest(1).exits.count("NPF"), "#NPF exits while walking its own tables");
                  k.evidence()["npt_tables"] = L.has_record ? L.record.guests[1].npt_tables : 0;
                  k.evidence()["tlb_misses"] = L.guest(1).tlb_misses;
                  k.evidence()["walk_refs"] = L.guest(1).walk_refs;
                  k.note("66046 walks, " + std::to_string(L.guest(1).tlb_misses) + " TLB misses; nested tables " +
                         std::to_string(L.has_record ? L.record.guests[1].npt_tables : 0) + " as for hello; hypervisor pages used " +
                         std::to_string(L.has_record ? L.record.hv_pages_used : 0));
                }});

REDOUBT_ATTACK({"resource.exception-storm", "resource",
                "UD2 forever with an empty IDT (#UD, #GP, #DF cannot be delivered), and an IDT outside its RAM",
                "the SHUTDOWN intercept (APM vol. 2 §15.9: a triple fault in a guest is a #VMEXIT, not a reset) and "
                "#NPF on the IDT read end each guest alone",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"attack", {kExc, 0, 0, 0}}, GuestSpec{"attack", {kExc, 1, 0, 0}},
                                    GuestSpec{"hello"}});
                  need_hv_ok(L, k);
                  need_killed(L, 0, "triple fault (#VMEXIT SHUTDOWN)", k);
                  need_killed(L, 1, "#NPF: read of guest-physical 0x7ff00", k);
                  need_exited(L, 2, 0, k, "Hello, world!");
                  k.note(L.guest(0).reason + "; " + L.guest(1).reason);
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
