// Cross-guest memory: an attacker guest reaches for another guest's RAM through
// guest-physical addresses it does not own. Stopped by nested paging: each guest's
// nested page tables map guest-physical [0, RAM) to its own RAM and nothing else
// (AMD APM vol. 2 §15.25 "Nested Paging", §15.25.6 #NPF).
#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

constexpr uint64_t kSeed = 0x5EC2E7C0FFEE1234ull;
constexpr uint32_t kInjectAll = sl::kGuestNpfInject | sl::kGuestNpfUnlimited;

struct VictimAttacker {
  std::vector<GuestSpec> guests;
  uint64_t victim_ram = 0, secret = 0;
  Watch w;
};

// guest 0: the victim (secret at its guest-physical 0x300000); guest 1: the peek attacker.
VictimAttacker setup(Ctx& c) {
  VictimAttacker v;
  v.guests = {GuestSpec{"attack", {kVictim, kSeed, 0, 0}}, GuestSpec{"attack", {kPeek, 0, 0, 0}, kInjectAll}};
  v.victim_ram = c.ram_of(v.guests)[0];
  v.secret = v.victim_ram + kSecretGpa;
  v.w.attacker = 1;
  v.w.regions = {{"victim's secret page", v.secret, kSecretBytes}};
  v.w.secret_pa = v.secret;
  v.w.secret_expect = secret_bytes(kSeed);
  return v;
}

void peek_verdict(const Launch& L, const std::vector<uint64_t>& targets, Checks& k) {
  const GuestResult& a = L.guest(1);
  const size_t n = targets.size();
  k.need(has(a.serial, "peek: " + std::to_string(n) + " attempts, " + std::to_string(n) + " stopped, 0 not stopped"),
         "not every access was stopped: " + (lines(a.serial, "peek: ").empty() ? a.reason : lines(a.serial, "peek: ").back()));
  k.need(a.violation_count == n, std::to_string(a.violation_count) + " #NPF violations recorded, want " + std::to_string(n));
  for (size_t i = 0; i < targets.size() && i < a.violations.size(); ++i)
    k.need(a.violations[i].gpa == targets[i], "violation " + std::to_string(i) + " at " + hex(a.violations[i].gpa) +
                                                  ", want " + hex(targets[i]));
  k.clean(std::to_string(a.violation_count) + " #NPF, each injected as #PF into the attacker");
}

REDOUBT_ATTACK({"cross-guest.read-victim-ram", "cross-guest",
                "reads the victim's secret page, its first page and its code at guest-physical = the victim's "
                "host-physical addresses, and dumps what it read",
                "nested page tables map only the attacker's own RAM: each access is a #NPF (APM vol. 2 §15.25.6), "
                "injected as #PF",
                "kHvTestNptMapsHost: the nested tables also map [RAM, 4 GiB) onto host-physical",
                [](Ctx& c, Checks& k) {
                  VictimAttacker v = setup(c);
                  const std::vector<uint64_t> t = {v.secret, v.victim_ram, v.victim_ram + 0x100000, v.secret + 0x800};
                  Launch L = c.run(v.guests, &v.w, hv::kHvTestNptMapsHost, 4'000'000'000ull, [&](RunOptions& o) {
                    o.cmdline = "d:" + hex(t[0]) + " d:" + hex(t[1]) + " d:" + hex(t[2]) + " r:" + hex(t[3]);
                  });
                  need_hv_ok(L, k);
                  peek_verdict(L, t, k);
                  check_victim(L, 0, v.w, kSeed, k);
                  check_watch(v.w, k);
                  check_not_in_output(L.guest(1).serial, secret_bytes(kSeed), "the victim's secret", k);
                }});

REDOUBT_ATTACK({"cross-guest.write-victim-ram", "cross-guest",
                "writes a marker over the victim's secret page and its code at the victim's host-physical addresses",
                "nested paging (APM vol. 2 §15.25): the writes are #NPF; the victim's page keeps its SHA-256",
                "kHvTestNptMapsHost", [](Ctx& c, Checks& k) {
                  VictimAttacker v = setup(c);
                  const std::vector<uint64_t> t = {v.secret, v.secret + 0x808, v.victim_ram + 0x100000};
                  Launch L = c.run(v.guests, &v.w, hv::kHvTestNptMapsHost, 4'000'000'000ull, [&](RunOptions& o) {
                    o.cmdline = "w:" + hex(t[0]) + " w:" + hex(t[1]) + " w:" + hex(t[2]);
                  });
                  need_hv_ok(L, k);
                  peek_verdict(L, t, k);
                  check_victim(L, 0, v.w, kSeed, k);
                  check_watch(v.w, k);
                }});

REDOUBT_ATTACK({"cross-guest.sweep-beyond-ram", "cross-guest",
                "reads every 2 MiB of guest-physical space from the end of its RAM to 4 GiB (2044 addresses: other "
                "guests, the hypervisor, the SLB, MMIO)",
                "nested paging maps nothing beyond the guest's RAM (APM vol. 2 §15.25.5): 2044 #NPF", "",
                [](Ctx& c, Checks& k) {
                  VictimAttacker v = setup(c);
                  std::vector<uint64_t> t;
                  for (uint64_t a = 8ull << 20; a < (4ull << 30); a += 2ull << 20) t.push_back(a);
                  Launch L = c.run(v.guests, &v.w, 0, 4'000'000'000ull,
                                   [&](RunOptions& o) { o.cmdline = "r:0x800000:2044:0x200000"; });
                  need_hv_ok(L, k);
                  peek_verdict(L, t, k);
                  check_victim(L, 0, v.w, kSeed, k);
                  check_watch(v.w, k);
                }});

REDOUBT_ATTACK({"cross-guest.cr3-at-victim", "cross-guest",
                "loads CR3 with the host-physical address of the victim's secret page, so that its own page walk "
                "would read the victim's memory as page tables",
                "the guest's page walk runs through the nested tables too (APM vol. 2 §15.25.1, 2-D walk): a #NPF "
                "during the walk (EXITINFO1 bit 33) ends the attacker",
                "", [](Ctx& c, Checks& k) {
                  VictimAttacker v = setup(c);
                  v.guests[1] = GuestSpec{"attack", {kCr3, v.secret, 0, 0}};  // default #NPF policy: kill
                  Launch L = c.run(v.guests, &v.w);
                  need_hv_ok(L, k);
                  need_killed(L, 1, "#NPF: read of guest-physical " + hex(v.secret) + " during the guest page walk", k);
                  const GuestResult& a = L.guest(1);
                  k.need(a.has_fault && a.fault_gpa == v.secret, "fault address " + hex(a.fault_gpa) + ", want " + hex(v.secret));
                  check_victim(L, 0, v.w, kSeed, k);
                  check_watch(v.w, k);
                  k.note("killed: " + a.reason);
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
