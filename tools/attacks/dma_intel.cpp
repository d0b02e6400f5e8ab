// DMA attacks on the Intel TXT platform (`--platform intel`, docs/intel.md "The Intel platform",
// docs/dma.md "VT-d"): the same simulated bus masters as tools/attacks/dma.cpp, aimed at what
// SENTER launched — the MLE (SLB), the hypervisor, its VMCS/EPT memory, the VT-d root table and
// page-table pool, the event log, another guest — and fired into the hypervisor's PMR -> VT-d
// hand-off. Verdicts rest on SHA-256 computed here over the targets, before and after.
// Switches: the simulator turning VT-d translation and the PMRs off under the running hypervisor,
// or the hypervisor test flag kBareFlagDevOffBeforeIommu (on VT-d: PMRs off before translation).
#include <algorithm>

#include "abi/bare_hv_entry.hpp"
#include "abi/dma_engine.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "platform/sim/full_system.hpp"
#include "tools/attacks/dma_shots.hpp"

namespace redoubt::tools::attacks {
namespace {

namespace e = abi::dma_engine;

using dma::sha_at;
using dma::Target;

// Every run here is the Intel machine, full-system (the test image carries hv test flags).
void on_intel(RunOptions& o) {
  o.launch.platform = "intel";
  o.launch.engine = "full-system";
}

// Every target must fault at VT-d (translation on, SINIT's PMRs released).
void attack(sim::FullSystem& s, sim::DmaEngine& eng, const std::vector<Target>& targets, Checks& k) {
  dma::attack(s, eng, targets, e::kBlockerIommu, "VT-d", k);
}

REDOUBT_ATTACK({"dma.intel-unassigned-engine-vs-launch-memory", "dma",
                "on --platform intel, a bus master no guest owns (01:00.0) reads and writes the MLE (SLB), the "
                "hypervisor image and memory, its VMCS/EPT memory, the VT-d root table and page-table pool, the event "
                "log and a guest's RAM while two guests run",
                "VT-d translation with a root table without present entries for every requester the hypervisor did "
                "not assign (VT-d spec §3.4.3, fault reason 1h), enabled while SINIT's PMRs still covered all RAM",
                "the simulator turns VT-d translation (GCMD.TE) and the PMRs (PMEN.EPM) off under the running hypervisor",
                [](Ctx& c, Checks& k) {
                  const std::vector<GuestSpec> g = {GuestSpec{"hello"}, GuestSpec{"sha256"}};
                  sim::FullSystem* sys = nullptr;
                  bool done = false;
                  c.on_line = [&](const std::string& l) {
                    if (done || !sys || l.rfind("[sha256]", 0) != 0) return;  // both guests are running
                    done = true;
                    const sim::LaunchLayout& L = c.layout();
                    if (c.off()) {
                      sys->vtd()->mmio_write(arch::vtd::reg::kGcmd, 4, 0);  // translation off
                      sys->vtd()->mmio_write(arch::vtd::reg::kPmen, 4, 0);  // PMRs off
                    }
                    std::vector<Target> t = {{"hypervisor image", L.hv_image, 4096, !c.off()},
                                             {"hypervisor memory (run record)", L.hv_memory, 4096, !c.off()},
                                             {"VMCS and EPT memory", L.hv_memory + (1u << 20), 4096, !c.off()},
                                             {"VT-d root table", L.dev_table, 4096, !c.off()},
                                             {"VT-d page-table pool", L.dev_table + 4096},
                                             {"DRTM event log", L.event_log},
                                             {"guest hello's RAM", c.ram_of(g)[0] + (1u << 20)}};
                    if (!c.off()) t.push_back({"MLE (SLB)", L.slb_base});
                    attack(*sys, sys->dma_engine(2), t, k);
                  };
                  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, [&sys](RunOptions& o) {
                    on_intel(o);
                    o.launch.on_system = [&sys](sim::FullSystem& s) { sys = &s; };
                  });
                  k.need(done, "the attack never fired (no line from the second guest)");
                  if (c.off()) return;
                  need_hv_ok(L, k);
                  k.need(L.console_has("[hv] VT-d translation on: every requester blocked"),
                         "the hypervisor did not report VT-d translation blocking every requester");
                  k.clean("every read and write faulted at VT-d; no target changed, none of its bytes reached the engine");
                }});

REDOUBT_ATTACK({"dma.pmr-to-vtd-window", "dma",
                "on --platform intel, fires a DMA read of the hypervisor image and a write into hypervisor memory "
                "between every two of the hypervisor's VT-d register writes while it takes DMA protection over from "
                "SINIT's PMRs",
                "the PMRs stay on until translation blocks every requester and the context cache and IOTLB are "
                "invalidated (VT-d spec §10.4.16, §6.5): there is no window",
                "kBareFlagDevOffBeforeIommu: the hypervisor (a test image) turns the PMRs off before translation is on",
                [](Ctx& c, Checks& k) {
                  const sim::LaunchLayout& L = c.layout();
                  dma::HandoffShots h{L.hv_image, L.hv_memory + (8u << 20)};  // + 8 MiB: hypervisor memory the run does not use
                  bool armed = false;
                  // SINIT's own PMR writes go through the same registers: the hand-off starts at the hypervisor.
                  c.on_line = [&](const std::string& l) {
                    if (l.rfind("[hv] DMA protection:", 0) == 0) armed = true;
                  };
                  const Launch R = c.run({GuestSpec{"hello"}}, nullptr, abi::kBareFlagDevOffBeforeIommu, 4'000'000'000ull,
                                         [&](RunOptions& o) {
                    on_intel(o);
                    o.launch.on_system = [&](sim::FullSystem& s) {
                      s.on_iommu_mmio_write = [&h, &armed, sp = &s](uint64_t, unsigned, uint64_t) {
                        if (armed) h.fire(*sp);
                      };
                    };
                  });
                  // vtd_take_over: RTADDR (two dwords), GCMD.SRTP, CCMD (two), IOTLB (two), GCMD.TE, PMEN = 9 writes.
                  h.report(k, 9, "VT-d");
                  if (c.off()) return;
                  need_hv_ok(R, k);
                  k.need(R.console_has("[hv] VT-d translation on: every requester blocked"), "no VT-d take-over reported");
                  k.clean("a read and a write at each of " + std::to_string(h.shots) + " VT-d register writes: all blocked");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
