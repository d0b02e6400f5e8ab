// The hypervisor's memory from a guest: its image, its run record, the VMCBs and
// nested page tables it allocates, the SLB and boot data the secure loader left,
// the DMA-protection table, and host MMIO (local APIC, IOAPIC, HPET, ECAM). None of
// it is in any guest's nested page tables (APM vol. 2 §15.25; docs/hypervisor.md
// "Memory"), so every access is a #NPF.
#include <filesystem>

#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "tools/attacks/harness.hpp"
#include "tools/common.hpp"

namespace redoubt::tools::attacks {
namespace {

constexpr uint32_t kInjectAll = sl::kGuestNpfInject | sl::kGuestNpfUnlimited;

void all_stopped(const Launch& L, size_t i, size_t n, Checks& k) {
  const GuestResult& a = L.guest(i);
  const auto summary = lines(a.serial, "peek: ");
  k.need(has(a.serial, "peek: " + std::to_string(n) + " attempts, " + std::to_string(n) + " stopped, 0 not stopped"),
         "not every access was stopped: " + (summary.empty() ? a.status + " " + a.reason : summary.back()));
  k.need(a.violation_count == n, std::to_string(a.violation_count) + " #NPF recorded, want " + std::to_string(n));
}

REDOUBT_ATTACK({"hv-memory.images-and-boot-data", "hv-memory",
                "reads (and dumps) and writes the hypervisor image, the run record, the SLB, the boot params and "
                "DRTM event log, the launch policy, the hypervisor manifest, sl2.bin, the DEV table and another "
                "guest's image, at their host-physical addresses",
                "nested paging (APM vol. 2 §15.25): none of it is mapped for a guest; #NPF, #PF injected",
                "kHvTestNptMapsHost", [](Ctx& c, Checks& k) {
                  const sim::LaunchLayout& y = c.layout();
                  const uint64_t hv_size = std::filesystem::file_size(build_dir() / "hv.bin");
                  std::vector<std::pair<char, uint64_t>> t = {
                      {'d', y.hv_image},          {'w', y.hv_image + 0x1000},     {'d', y.hv_memory},
                      {'w', y.hv_memory + 0x100}, {'d', y.slb_base},              {'w', y.slb_base + 0x800},
                      {'d', y.boot_params},       {'d', y.event_log},             {'w', y.event_log + 0x100},
                      {'r', y.launch_policy},     {'r', y.manifest},              {'r', y.sl_stage2},
                      {'w', y.dev_table},         {'r', y.guest_table},           {'r', y.guest_images}};
                  std::string cmd;
                  for (const auto& [op, a] : t) cmd += std::string(1, op) + ":" + hex(a) + " ";
                  Watch w;
                  w.attacker = 1;
                  w.regions = {{"hypervisor image", y.hv_image, (hv_size + 0xFFF) & ~0xFFFull},
                               {"run record and hypervisor object", y.hv_memory, hv::kRunRecordBytes},
                               {"SLB", y.slb_base, 0x10000},
                               {"boot params, event log, outcome, guest table", y.boot_params, 0x13000},
                               {"DEV table", y.dev_table, 0x20000}};
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kPeek, 0, 0, 0}, kInjectAll}}, &w,
                                   hv::kHvTestNptMapsHost, 4'000'000'000ull, [&](RunOptions& o) { o.cmdline = cmd; });
                  need_hv_ok(L, k);
                  all_stopped(L, 1, t.size(), k);
                  for (size_t i = 0; i < t.size() && i < L.guest(1).violations.size(); ++i)
                    k.need(L.guest(1).violations[i].gpa == t[i].second,
                           "violation " + std::to_string(i) + " at " + hex(L.guest(1).violations[i].gpa));
                  need_exited(L, 0, 0, k, "Hello, world!");
                  check_watch(w, k);
                  // What a successful read would show: the SLB as measured at SKINIT, the run record's magic.
                  const auto& slb = L.r.launch.report.slb_region;
                  if (slb.size() >= 4096) check_not_in_output(L.guest(1).serial, Bytes(slb.begin(), slb.begin() + 4096), "the SLB", k);
                  k.leak(has(L.guest(1).serial, "RDBTRUN1"), "the attacker read the hypervisor's run record (magic RDBTRUN1)");
                  k.evidence()["slb_page0_sha256"] = slb.size() >= 4096 ? sha256_hex(slb.data(), 4096) : "";
                  k.clean(std::to_string(t.size()) + " accesses stopped; image, run record, SLB, boot data and DEV table unchanged");
                }});

REDOUBT_ATTACK({"hv-memory.vmcb-npt-sweep", "hv-memory",
                "reads and writes every 4 KiB page of the hypervisor's 16 MiB (8192 accesses): the run record, "
                "VM_HSAVE, every VMCB, IOPM/MSRPM and nested page table, the serial logs",
                "nested paging (APM vol. 2 §15.25): 8192 #NPF; nothing written, the scenario checks the VMCBs and "
                "nested tables it found in the run record lie in the swept range",
                "", [](Ctx& c, Checks& k) {
                  const sim::LaunchLayout& y = c.layout();
                  Watch w;
                  w.attacker = 1;
                  w.regions = {{"run record", y.hv_memory, hv::kRunRecordBytes}};
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kPeek, 0, 0, 0}, kInjectAll}}, &w, 0,
                                   4'000'000'000ull, [&](RunOptions& o) {
                                     o.cmdline = "r:" + hex(y.hv_memory) + ":4096:0x1000 w:" + hex(y.hv_memory) + ":4096:0x1000";
                                   });
                  need_hv_ok(L, k);
                  all_stopped(L, 1, 8192, k);
                  need_exited(L, 0, 0, k, "Hello, world!");
                  check_watch(w, k);
                  const auto in = [&](uint64_t a) { return a >= y.hv_memory && a < y.hv_memory + y.hv_memory_size; };
                  for (size_t i = 0; i < 2 && i < L.r.guests.size(); ++i) {
                    k.need(in(L.guest(i).vmcb_pa), "VMCB " + hex(L.guest(i).vmcb_pa) + " outside the swept range");
                    k.need(in(L.guest(i).npt_root), "nested root " + hex(L.guest(i).npt_root) + " outside the swept range");
                  }
                  k.evidence()["vmcbs"] = {hex(L.guest(0).vmcb_pa), hex(L.guest(1).vmcb_pa)};
                  k.evidence()["npt_roots"] = {hex(L.guest(0).npt_root), hex(L.guest(1).npt_root)};
                  k.clean("8192 accesses stopped, including both VMCBs and both nested roots; no marker anywhere");
                }});

REDOUBT_ATTACK({"hv-memory.host-mmio", "hv-memory",
                "reads and writes host MMIO: the local APIC (its timer preempts guests), the IOAPIC, the HPET, "
                "PCIe ECAM (PCI configuration by MMIO) and the AMD-Vi register window",
                "no MMIO is in a guest's nested page tables (APM vol. 2 §15.25): #NPF, #PF injected",
                "", [](Ctx& c, Checks& k) {
                  const std::vector<std::pair<char, uint64_t>> t = {
                      {'r', 0xFEE00030}, {'w', 0xFEE00380}, {'w', 0xFEE00320}, {'r', 0xFEC00000}, {'w', 0xFEC00010},
                      {'r', 0xFED00000}, {'w', 0xFED00010}, {'r', 0xE0000000}, {'w', 0xE00C30F4}, {'r', 0xFEB80000},
                      {'w', 0xFEB80018}};
                  std::string cmd;
                  for (const auto& [op, a] : t) cmd += std::string(1, op) + ":" + hex(a) + " ";
                  Watch w;
                  w.attacker = 1;
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kPeek, 0, 0, 0}, kInjectAll}}, &w, 0,
                                   4'000'000'000ull, [&](RunOptions& o) { o.cmdline = cmd; });
                  need_hv_ok(L, k);
                  all_stopped(L, 1, t.size(), k);
                  need_exited(L, 0, 0, k, "Hello, world!");
                  check_watch(w, k);
                  k.clean(std::to_string(t.size()) + " MMIO accesses stopped; hello finished");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
