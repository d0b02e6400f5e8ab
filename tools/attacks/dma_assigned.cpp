// DMA by an assigned device, on both IOMMUs (docs/dma.md "Device assignment", docs/isolation.md):
// dmacopy's engine 00:04.0 aimed outside its guest by the guest itself and by the untrusted side,
// and the stale-IOTLB write after the guest's end. The same scenario bodies run on the AMD
// platform (AMD-Vi under the DEV) and on the Intel platform (VT-d, after SINIT's PMRs); verdicts
// rest on SHA-256 computed here over the targets, before and after.
#include <functional>

#include "abi/bare_hv_entry.hpp"
#include "arch/amd/iommu.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "tools/attacks/dma_shots.hpp"

namespace redoubt::tools::attacks {
namespace {

using dma::sha_at;
using dma::Target;
namespace e = abi::dma_engine;

// What differs between the two platforms for these scenarios.
struct Vendor {
  const char* iommu;                                      // names the blocker in the verdicts
  const char* spec;                                       // the rule that confines an assigned device
  std::function<void(RunOptions&)> platform;              // the launch's platform and engine
  std::function<void(sim::FullSystem&)> off;              // the switch: the simulator turns the protection off
  std::function<Target(const sim::LaunchLayout&)> table;  // the IOMMU's own table, a target
};

const Vendor& amd() {
  static const Vendor v{"AMD-Vi", "AMD IOMMU spec §2.2.3, DTE Mode 4 page tables",
                        [](RunOptions&) {},
                        [](sim::FullSystem& s) {  // the DEV's table detached and AMD-Vi's control register cleared
                          s.machine().dev().detach_table();
                          s.iommu().mmio_write(arch::amd_iommu::mmio::kControl, 8, 0);
                        },
                        [](const sim::LaunchLayout& L) { return Target{"AMD-Vi device table", L.dev_table + 0x20000}; }};
  return v;
}

const Vendor& intel() {
  static const Vendor v{"VT-d", "VT-d spec §3.4.3 context entry, §3.6 second-level tables",
                        [](RunOptions& o) {
                          o.launch.platform = "intel";
                          o.launch.engine = "full-system";
                        },
                        [](sim::FullSystem& s) {
                          s.vtd()->mmio_write(arch::vtd::reg::kGcmd, 4, 0);  // translation off
                          s.vtd()->mmio_write(arch::vtd::reg::kPmen, 4, 0);  // PMRs off
                        },
                        [](const sim::LaunchLayout& L) { return Target{"VT-d root table", L.dev_table}; }};
  return v;
}

uint64_t guest_page(Ctx& c, const std::vector<GuestSpec>& g, size_t i, uint64_t n_mib) { return c.ram_of(g)[i] + (n_mib << 20); }

std::function<void(RunOptions&)> with_system(const Vendor& v, sim::FullSystem*& sys) {
  return [&v, &sys](RunOptions& o) {
    v.platform(o);
    o.assign_devices = {"dmacopy=00:04.0"};
    o.launch.on_system = [&sys](sim::FullSystem& s) { sys = &s; };
  };
}

void outside_its_guest(Ctx& c, Checks& k, const Vendor& v) {
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
      if (c.off()) v.off(*sys);
    }
    if (l.rfind("[dmacopy] dmacopy: ready", 0) == 0) {
      hello_after = sha_at(*sys, hello_page, 4096);
      hv_after = sha_at(*sys, hv_page, 4096);
    }
  };
  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, with_system(v, sys));
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
         std::string("the read of the other guest's RAM did not fault at ") + v.iommu);
  k.need(has(serial, "write " + hex(hv_page) + ": status 0x2 fault_info 0x301 bytes 0"),
         std::string("the write into hypervisor memory did not fault at ") + v.iommu);
  k.need(L.console_has("[hv] guest dmacopy: device 00:04.0 released: blocked"), "the device was not released at the guest's end");
  k.clean("its own copy worked; the other guest's page and the hypervisor page are unchanged (SHA-256)");
}

void reprogrammed(Ctx& c, Checks& k, const Vendor& v) {
  const std::vector<GuestSpec> g = {GuestSpec{"dmacopy"}, GuestSpec{"hello"}};
  sim::FullSystem* sys = nullptr;
  bool done = false, own_ok = false;
  c.on_line = [&](const std::string& l) {
    if (done || !sys || l.rfind("[dmacopy] dmacopy: ready", 0) != 0) return;
    done = true;
    const sim::LaunchLayout& L = c.layout();
    if (c.off()) v.off(*sys);
    sim::DmaEngine& eng = sys->dma_engine(0);
    Target table = v.table(L);
    dma::attack(*sys, eng,
                {{"guest hello's RAM", guest_page(c, g, 1, 1)},
                 {"hypervisor memory", L.hv_memory, 4096, !c.off()},
                 {"hypervisor image", L.hv_image, 4096, !c.off()},
                 table},
                e::kBlockerIommu, v.iommu, k);
    // Assignment still works for its own guest: IOVA = GPA 0x300000 holds dmacopy's copy.
    own_ok = eng.run(e::kOpRead, 0x300000, 0, 64) == e::kDone && eng.buffer()[0] == 3;
  };
  const Launch L = c.run(g, nullptr, 0, 4'000'000'000ull, with_system(v, sys));
  k.need(done, "the guest never said it was ready");
  if (c.off()) return;
  k.need(own_ok, "the engine no longer reaches its own guest's RAM (IOVA = GPA)");
  need_hv_ok(L, k);
  k.clean(std::string("every access outside dmacopy's RAM faulted at ") + v.iommu + "; its own RAM stayed reachable");
}

void stale_iotlb(Ctx& c, Checks& k, const Vendor& v) {
  const std::vector<GuestSpec> g = {GuestSpec{"dmacopy"}, GuestSpec{"hello"}};
  const uint64_t page = c.ram_of(g)[0] + 0x300000;  // dmacopy's GPA 0x300000, its COPY target
  sim::FullSystem* sys = nullptr;
  bool done = false, scrubbed = false;
  uint32_t st = 0;
  std::string after;
  c.on_line = [&](const std::string& l) {
    if (done || !sys || l.rfind("[hv] guest dmacopy: RAM scrubbed after its devices were released", 0) != 0) return;
    done = true;
    scrubbed = sha_at(*sys, page, 4096) == sha256_hex(Bytes(4096, 0));
    st = sys->dma_engine(0).run(e::kOpFill, 0, 0x300000, 4096, 0x6666666666666666ull);
    after = sha_at(*sys, page, 4096);
  };
  const Launch L = c.run(g, nullptr, abi::kBareFlagStaleIotlb, 4'000'000'000ull, with_system(v, sys));
  k.need(done, "the hypervisor never reported the scrub after the release");
  k.need(scrubbed, "the page was not zero after the scrub");
  k.need(st == e::kFault, "the write through the old translation was not stopped (status " + std::to_string(st) + ")");
  k.leak(after != sha256_hex(Bytes(4096, 0)), "the scrubbed page was written after the guest ended");
  k.evidence()["page_sha256_after"] = after;
  if (c.off()) return;
  need_hv_ok(L, k);
  k.clean("the write faulted; the scrubbed page is still all zeros (SHA-256)");
}

REDOUBT_ATTACK({"dma.assigned-engine-outside-its-guest", "dma",
                "a guest (dmacopy) assigned engine 00:04.0 points it at another guest's RAM and at hypervisor memory",
                "the guest's I/O domain maps its own RAM only, IOVA = GPA (AMD IOMMU spec §2.2.3, DTE Mode 4 page "
                "tables): everything else is IO_PAGE_FAULT",
                "the simulator turns the DEV's table and AMD-Vi off after the guest's own copy",
                [](Ctx& c, Checks& k) { outside_its_guest(c, k, amd()); }});

REDOUBT_ATTACK({"dma.assigned-engine-reprogrammed", "dma",
                "the untrusted side reprograms the engine assigned to dmacopy (it reaches the device's registers as "
                "much as the guest does) to read and write another guest, the hypervisor and the AMD-Vi tables",
                "the engine's DeviceID is in dmacopy's I/O domain, which maps dmacopy's RAM only (AMD IOMMU spec "
                "§2.2.3): who programs the device does not matter",
                "the simulator turns the DEV's table and AMD-Vi off under the running hypervisor",
                [](Ctx& c, Checks& k) { reprogrammed(c, k, amd()); }});

REDOUBT_ATTACK({"dma.stale-iotlb-after-teardown", "dma",
                "after dmacopy stops and its RAM is scrubbed, the untrusted side has its former engine write a page "
                "the IOTLB had a translation for",
                "at a guest's end the hypervisor blocks its devices, invalidates the DTE and IOTLB and waits "
                "(INVALIDATE_DEVTAB_ENTRY, INVALIDATE_IOMMU_PAGES, COMPLETION_WAIT: AMD IOMMU spec §2.4) before "
                "scrubbing",
                "kBareFlagStaleIotlb: the invalidation and the DEV's re-closing are skipped",
                [](Ctx& c, Checks& k) { stale_iotlb(c, k, amd()); }});

REDOUBT_ATTACK({"dma.intel-assigned-engine-outside-its-guest", "dma",
                "on --platform intel, a guest (dmacopy) assigned engine 00:04.0 points it at another guest's RAM and "
                "at hypervisor memory",
                "the device's context entry points to a domain whose second-level tables map the guest's RAM only, "
                "IOVA = GPA (VT-d spec §3.4.3, §3.6): everything else is a recorded fault",
                "the simulator turns VT-d translation (GCMD.TE) and the PMRs off after the guest's own copy",
                [](Ctx& c, Checks& k) { outside_its_guest(c, k, intel()); }});

REDOUBT_ATTACK({"dma.intel-assigned-engine-reprogrammed", "dma",
                "on --platform intel, the untrusted side reprograms the engine assigned to dmacopy to read and write "
                "another guest, the hypervisor and the VT-d root table",
                "the engine's requester ID resolves to dmacopy's domain, which maps dmacopy's RAM only (VT-d spec "
                "§3.4.3): who programs the device does not matter",
                "the simulator turns VT-d translation (GCMD.TE) and the PMRs off under the running hypervisor",
                [](Ctx& c, Checks& k) { reprogrammed(c, k, intel()); }});

REDOUBT_ATTACK({"dma.intel-stale-iotlb-after-teardown", "dma",
                "on --platform intel, after dmacopy stops and its RAM is scrubbed, the untrusted side has its former "
                "engine write a page the IOTLB had a translation for",
                "at a guest's end the hypervisor clears the context entry, then invalidates the context cache "
                "(device-selective) and the IOTLB (domain-selective) and waits for both (VT-d spec §6.5.1, "
                "§10.4.7-8) before scrubbing",
                "kBareFlagStaleIotlb: the invalidations are skipped",
                [](Ctx& c, Checks& k) { stale_iotlb(c, k, intel()); }});

}  // namespace
}  // namespace redoubt::tools::attacks
