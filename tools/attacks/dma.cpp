// DMA attacks on the measured images (docs/dma.md "The DEV → AMD-Vi hand-off" and "Device
// assignment"): the simulated bus masters (platform/sim/devices/dma_engine.*, 00:04.0, 00:05.0,
// 01:00.0) aimed at the SLB, the hypervisor, its tables, the event log and other guests. Every
// verdict rests on SHA-256 computed here over what the attacker aimed at, before and after.
// Switches: the simulator turning the DEV's table and AMD-Vi off under the images (the
// protection the images set up, not SKINIT's own SLB protection), or a hypervisor test flag.
#include <algorithm>

#include "abi/bare_hv_entry.hpp"
#include "abi/dma_engine.hpp"
#include "arch/amd/iommu.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/full_system.hpp"
#include "tools/attacks/dma_shots.hpp"

namespace redoubt::tools::attacks {
namespace {

namespace e = abi::dma_engine;

// The switch: the DEV's table detached and AMD-Vi's control register cleared, in the simulator.
void protection_off(sim::FullSystem& s) {
  s.machine().dev().detach_table();
  s.iommu().mmio_write(arch::amd_iommu::mmio::kControl, 8, 0);
}

using dma::sha_at;
using dma::Target;

// Every target must fault at AMD-Vi (the DEV stands behind it).
void attack(sim::FullSystem& s, sim::DmaEngine& eng, const std::vector<Target>& targets, uint32_t blocker, Checks& k) {
  dma::attack(s, eng, targets, blocker, blocker == e::kBlockerIommu ? "AMD-Vi" : "the DEV", k);
}

// The 4 KiB page `n_mib` MiB into guest `i`'s RAM.
uint64_t guest_page(Ctx& c, const std::vector<GuestSpec>& g, size_t i, uint64_t n_mib) { return c.ram_of(g)[i] + (n_mib << 20); }

std::function<void(RunOptions&)> with_system(sim::FullSystem*& sys, std::vector<std::string> assign = {}) {
  return [&sys, assign](RunOptions& o) {
    o.assign_devices = assign;
    o.launch.on_system = [&sys](sim::FullSystem& s) { sys = &s; };
  };
}

REDOUBT_ATTACK({"dma.unassigned-engine-vs-launch-memory", "dma",
                "a bus master no guest owns (01:00.0, the untrusted side's) reads and writes the SLB, the hypervisor "
                "image and memory, its VMCBs and nested page tables, the DEV and AMD-Vi tables, the event log and a "
                "guest's RAM while two guests run",
                "AMD-Vi blocks every DeviceID the hypervisor did not assign (AMD IOMMU spec §2.2.2, DTE V=1 TV=1 "
                "with no page table), with the DEV behind it (APM vol. 2 §15.24)",
                "the simulator turns the DEV's table and AMD-Vi off under the running hypervisor",
                [](Ctx& c, Checks& k) {
                  const std::vector<GuestSpec> g = {GuestSpec{"hello"}, GuestSpec{"sha256"}};
                  sim::FullSystem* sys = nullptr;
                  bool done = false;
                  c.on_line = [&](const std::string& l) {
                    if (done || !sys || l.rfind("[sha256]", 0) != 0) return;  // both guests are running
                    done = true;
                    const sim::LaunchLayout& L = c.layout();
                    if (c.off()) protection_off(*sys);
                    attack(*sys, sys->dma_engine(2),
                           {{"hypervisor image", L.hv_image, 4096, !c.off()},
                            {"hypervisor memory (run record)", L.hv_memory, 4096, !c.off()},
                            {"VMCBs and nested page tables", L.hv_memory + (1u << 20), 4096, !c.off()},
                            {"DEV table", L.dev_table},
                            {"AMD-Vi device table", L.dev_table + 0x20000},
                            {"AMD-Vi command buffer", L.dev_table + 0x20000 + 0x200000},
                            {"DRTM event log", L.event_log},
                            {"guest hello's RAM", guest_page(c, g, 0, 1)}},
                           e::kBlockerIommu, k);
                    if (!c.off()) attack(*sys, sys->dma_engine(0), {{"SLB", L.slb_base}}, e::kBlockerIommu, k);
                  };
                  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, with_system(sys));
                  k.need(done, "the attack never fired (no line from the second guest)");
                  if (c.off()) return;
                  need_hv_ok(L, k);
                  k.need(L.console_has("AMD-Vi enabled under the DEV: all 65536 DeviceIDs blocked"),
                         "the hypervisor did not report AMD-Vi blocking all DeviceIDs");
                  k.clean("every read and write faulted at AMD-Vi; no target changed, none of its bytes reached the engine");
                }});

REDOUBT_ATTACK({"dma.dev-to-iommu-window", "dma",
                "fires a DMA read of the hypervisor image and a write into hypervisor memory between every two of "
                "the hypervisor's AMD-Vi register writes while it takes DMA protection over from the DEV",
                "the DEV stays on until AMD-Vi blocks every DeviceID and its caches are invalidated (COMPLETION_WAIT, "
                "AMD IOMMU spec §2.4.1): there is no window",
                "kBareFlagDevOffBeforeIommu: the hypervisor turns the DEV off before enabling AMD-Vi",
                [](Ctx& c, Checks& k) {
                  const sim::LaunchLayout& L = c.layout();
                  dma::HandoffShots h{L.hv_image, L.hv_memory + (8u << 20)};  // + 8 MiB: hypervisor memory the run does not use
                  const Launch R = c.run({GuestSpec{"hello"}}, nullptr, abi::kBareFlagDevOffBeforeIommu, 4'000'000'000ull,
                                         [&](RunOptions& o) {
                    o.launch.on_system = [&](sim::FullSystem& s) {
                      s.on_iommu_mmio_write = [&h, sp = &s](uint64_t, unsigned, uint64_t) { h.fire(*sp); };
                    };
                  });
                  h.report(k, 11, "AMD-Vi");
                  if (c.off()) return;
                  need_hv_ok(R, k);
                  k.clean("a read and a write at each of " + std::to_string(h.shots) + " AMD-Vi register writes: all blocked");
                }});

REDOUBT_ATTACK({"dma.assigned-engine-outside-its-guest", "dma",
                "a guest (dmacopy) assigned engine 00:04.0 points it at another guest's RAM and at hypervisor memory",
                "the guest's I/O domain maps its own RAM only, IOVA = GPA (AMD IOMMU spec §2.2.3, DTE Mode 4 page "
                "tables): everything else is IO_PAGE_FAULT",
                "the simulator turns the DEV's table and AMD-Vi off after the guest's own copy",
                [](Ctx& c, Checks& k) {
                  const std::vector<GuestSpec> probe = {GuestSpec{"dmacopy"}, GuestSpec{"hello"}};
                  const uint64_t hello_page = guest_page(c, probe, 1, 6);  // unused by hello
                  const uint64_t hv_page = c.layout().hv_memory + (8u << 20);
                  const std::vector<GuestSpec> g = {GuestSpec{"dmacopy", {1, hello_page, hv_page, 0}}, GuestSpec{"hello"}};
                  sim::FullSystem* sys = nullptr;
                  std::string hello_before, hv_before, hello_after, hv_after;
                  c.on_line = [&](const std::string& l) {
                    if (!sys) return;
                    if (l.rfind("[dmacopy] dmacopy: COPY", 0) == 0) {  // after its own copy, before the attack
                      hello_before = sha_at(*sys, hello_page, 4096);
                      hv_before = sha_at(*sys, hv_page, 4096);
                      if (c.off()) protection_off(*sys);
                    }
                    if (l.rfind("[dmacopy] dmacopy: ready", 0) == 0) {
                      hello_after = sha_at(*sys, hello_page, 4096);
                      hv_after = sha_at(*sys, hv_page, 4096);
                    }
                  };
                  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, with_system(sys, {"dmacopy=00:04.0"}));
                  k.need(!hello_before.empty() && !hello_after.empty(), "the guest never reached its attack");
                  const std::string serial = L.r.guests.empty() ? "" : L.guest(0).serial;
                  k.need(has(serial, "the copy matches"), "the positive control failed: the guest's copy in its own RAM");
                  k.leak(hello_before != hello_after, "the other guest's RAM changed");
                  k.leak(hv_before != hv_after, "hypervisor memory changed");
                  k.evidence()["hello_page_sha256"] = hello_after;
                  k.evidence()["hv_page_sha256"] = hv_after;
                  if (c.off()) return;
                  need_hv_ok(L, k);
                  need_exited(L, 0, 0, k);
                  k.need(has(serial, "read " + hex(hello_page) + ": status 0x2 fault_info 0x300"),
                         "the read of the other guest's RAM did not fault at AMD-Vi");
                  k.need(has(serial, "write " + hex(hv_page) + ": status 0x2 fault_info 0x301 bytes 0"),
                         "the write into hypervisor memory did not fault at AMD-Vi");
                  k.need(L.console_has("[hv] guest dmacopy: device 00:04.0 released: blocked, DTE and IOTLB invalidated"),
                         "the device was not released at the guest's end");
                  k.clean("its own copy worked; the other guest's page and the hypervisor page are unchanged (SHA-256)");
                }});

REDOUBT_ATTACK({"dma.assigned-engine-reprogrammed", "dma",
                "the untrusted side reprograms the engine assigned to dmacopy (it reaches the device's registers as "
                "much as the guest does) to read and write another guest, the hypervisor and the AMD-Vi tables",
                "the engine's DeviceID is in dmacopy's I/O domain, which maps dmacopy's RAM only (AMD IOMMU spec "
                "§2.2.3): who programs the device does not matter",
                "the simulator turns the DEV's table and AMD-Vi off under the running hypervisor",
                [](Ctx& c, Checks& k) {
                  const std::vector<GuestSpec> g = {GuestSpec{"dmacopy"}, GuestSpec{"hello"}};
                  sim::FullSystem* sys = nullptr;
                  bool done = false, own_ok = false;
                  c.on_line = [&](const std::string& l) {
                    if (done || !sys || l.rfind("[dmacopy] dmacopy: ready", 0) != 0) return;
                    done = true;
                    const sim::LaunchLayout& L = c.layout();
                    if (c.off()) protection_off(*sys);
                    sim::DmaEngine& eng = sys->dma_engine(0);
                    attack(*sys, eng,
                           {{"guest hello's RAM", guest_page(c, g, 1, 1)},
                            {"hypervisor memory", L.hv_memory, 4096, !c.off()},
                            {"hypervisor image", L.hv_image, 4096, !c.off()},
                            {"AMD-Vi device table", L.dev_table + 0x20000}},
                           e::kBlockerIommu, k);
                    // Assignment still works for its own guest: IOVA = GPA 0x300000 holds dmacopy's copy.
                    own_ok = eng.run(e::kOpRead, 0x300000, 0, 64) == e::kDone && eng.buffer()[0] == 3;
                  };
                  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, with_system(sys, {"dmacopy=00:04.0"}));
                  k.need(done, "the guest never said it was ready");
                  if (c.off()) return;
                  k.need(own_ok, "the engine no longer reaches its own guest's RAM (IOVA = GPA)");
                  need_hv_ok(L, k);
                  k.clean("every access outside dmacopy's RAM faulted at AMD-Vi; its own RAM stayed reachable");
                }});

REDOUBT_ATTACK({"dma.stale-iotlb-after-teardown", "dma",
                "after dmacopy stops and its RAM is scrubbed, the untrusted side has its former engine write a page "
                "the IOTLB had a translation for",
                "at a guest's end the hypervisor blocks its devices, invalidates the DTE and IOTLB and waits "
                "(INVALIDATE_DEVTAB_ENTRY, INVALIDATE_IOMMU_PAGES, COMPLETION_WAIT: AMD IOMMU spec §2.4) before "
                "scrubbing",
                "kBareFlagStaleIotlb: the invalidation and the DEV's re-closing are skipped",
                [](Ctx& c, Checks& k) {
                  const std::vector<GuestSpec> g = {GuestSpec{"dmacopy"}, GuestSpec{"hello"}};
                  const uint64_t page = c.ram_of(g)[0] + 0x300000;  // dmacopy's GPA 0x300000, its COPY target
                  sim::FullSystem* sys = nullptr;
                  bool done = false, scrubbed = false;
                  uint32_t st = 0;
                  std::string after;
                  c.on_line = [&](const std::string& l) {
                    if (done || !sys || l.rfind("[hv] guest dmacopy: RAM scrubbed after its devices were released", 0) != 0)
                      return;
                    done = true;
                    scrubbed = sha_at(*sys, page, 4096) == sha256_hex(Bytes(4096, 0));
                    st = sys->dma_engine(0).run(e::kOpFill, 0, 0x300000, 4096, 0x6666666666666666ull);
                    after = sha_at(*sys, page, 4096);
                  };
                  const Launch L = c.run(g, nullptr, abi::kBareFlagStaleIotlb, 4'000'000'000ull,
                                         with_system(sys, {"dmacopy=00:04.0"}));
                  k.need(done, "the hypervisor never reported the scrub after the release");
                  k.need(scrubbed, "the page was not zero after the scrub");
                  k.need(st == e::kFault, "the write through the old translation was not stopped (status " + std::to_string(st) + ")");
                  k.leak(after != sha256_hex(Bytes(4096, 0)), "the scrubbed page was written after the guest ended");
                  k.evidence()["page_sha256_after"] = after;
                  if (c.off()) return;
                  need_hv_ok(L, k);
                  k.clean("the write faulted; the scrubbed page is still all zeros (SHA-256)");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
