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

}  // namespace
}  // namespace redoubt::tools::attacks
