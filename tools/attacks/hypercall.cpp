// Hypercall abuse: the one interface that takes guest pointers and numbers into the
// hypervisor (docs/hypercalls.md). Buffers are translated through the guest's own page
// tables and then its memory map only (never host-physical, never another guest's);
// lengths, vectors and numbers are range-checked before use.
#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

constexpr uint64_t kSeed = 0x4C3A11E0D15EA5E5ull;

// guest 0: the victim; guest 1: the hypercall attacker with `which` (1 pointers, 2 lengths, 4 numbers).
void hypercalls(Ctx& c, Checks& k, uint64_t which, uint64_t off_flags, unsigned want_calls) {
  const std::vector<GuestSpec> probe = {GuestSpec{"attack", {kVictim, kSeed, 0, 0}}, GuestSpec{"attack"}};
  const uint64_t secret = c.ram_of(probe)[0] + kSecretGpa;
  const sim::LaunchLayout& y = c.layout();
  Watch w;
  w.attacker = 1;
  w.regions = {{"victim's secret page", secret, kSecretBytes}, {"run record", y.hv_memory, hv::kRunRecordBytes}};
  w.secret_pa = secret;
  w.secret_expect = secret_bytes(kSeed);
  Launch L = c.run({probe[0], GuestSpec{"attack", {kHcall, secret, y.hv_memory, which}}}, &w, off_flags);
  need_hv_ok(L, k);
  const GuestResult& a = L.guest(1);
  const auto calls = lines(a.serial, "hc: ");
  unsigned unexpected = 0;
  for (const auto& l : calls) unexpected += has(l, "UNEXPECTED");
  k.need(calls.size() == want_calls + 1, std::to_string(calls.size() ? calls.size() - 1 : 0) + " hypercalls reported, want " +
                                             std::to_string(want_calls) + " (" + a.status + ": " + a.reason + ")");
  std::string first;
  for (const auto& l : calls)
    if (has(l, "UNEXPECTED")) {
      first = l;
      break;
    }
  k.need(unexpected == 0, std::to_string(unexpected) + " hypercalls did not fail as they must, e.g. " + first);
  need_exited(L, 1, 0, k, "hc: 0 unexpected results");
  check_victim(L, 0, w, kSeed, k);
  check_watch(w, k);
  check_not_in_output(a.serial, secret_bytes(kSeed), "the victim's secret", k);
  k.leak(has(a.serial, "RDBTRUN1"), "the hypervisor's run record (magic RDBTRUN1) in the attacker's output");
  k.evidence()["hypercalls"] = want_calls;
  k.clean(std::to_string(want_calls) + " hypercalls refused with the documented error; the victim's secret and the "
                                      "run record unchanged");
}

REDOUBT_ATTACK({"hypercall.wild-pointers", "hypercall",
                "console_write and get_launch_info with buffers at the hypervisor's memory, at the victim's "
                "host-physical secret, non-canonical, unmapped and wrapping addresses",
                "buffers are translated by a software walk of the guest's own page tables, then through its memory "
                "map only (docs/hypercalls.md): -EFAULT, nothing read or written",
                "kHvTestHypercallPhysical: buffers taken as host-physical addresses",
                [](Ctx& c, Checks& k) { hypercalls(c, k, 1, hv::kHvTestHypercallPhysical, 7); }});

REDOUBT_ATTACK({"hypercall.huge-lengths", "hypercall",
                "console_write of 4097, 2^63 and 2^64-1 bytes and across the end of its RAM into what would be the "
                "next host page; get_launch_info of size 2^64-1 and across the end of RAM",
                "the length limit (4096) is checked before the copy; every page of the buffer is translated and must "
                "be guest RAM (-EINVAL / -EFAULT)",
                "", [](Ctx& c, Checks& k) { hypercalls(c, k, 2, 0, 7); }});

REDOUBT_ATTACK({"hypercall.unknown-numbers", "hypercall",
                "hypercall numbers 0, 6, 0x10000, 2^63, 2^64-1 and timer vectors 31, 256, 2^63",
                "unknown numbers are -ENOSYS, vectors outside 32-255 -EINVAL; the guest goes on", "",
                [](Ctx& c, Checks& k) { hypercalls(c, k, 4, 0, 8); }});

REDOUBT_ATTACK({"hypercall.timer-overflow", "hypercall",
                "set_timer with a period of 2^64-1 (its deadline arithmetic would wrap: a deadline in the past that "
                "each period step moves back by one tick, an endless loop in the host), a delay of 2^64-1, 2^63",
                "delay and period above 2^48 ticks are -EINVAL and the periodic re-arm is loop-free arithmetic "
                "(docs/hypercalls.md); the host keeps running (the run is bounded: a hang would end it as refused)",
                "", [](Ctx& c, Checks& k) {
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kTimer, 0, 0, 0}}}, nullptr, 0,
                                   2'000'000'000ull);
                  need_hv_ok(L, k);
                  need_exited(L, 1, 0, k, "timer: 0 accepted; still running");
                  need_exited(L, 0, 0, k, "Hello, world!");
                  k.clean("4 set_timer calls refused with -EINVAL; the hypervisor did not hang");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
