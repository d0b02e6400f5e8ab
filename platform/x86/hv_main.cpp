// 64-bit C++ entry of the bare-metal hypervisor image, reached from hv_entry.S
// on the hypervisor's own stack, page tables and GDT (docs/hypervisor.md).
#include "abi/bare_hv_entry.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/run_record.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/bare_svm.hpp"
#include "platform/x86/bare_vmx.hpp"
#include "platform/x86/hv_dma_selftest.hpp"
#include "platform/x86/hv_selftest.hpp"
#include "platform/x86/idt.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/unmeasured.hpp"
#include "arch/tpm/tis.hpp"
#include "arch/x86/lapic.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/dma_protection.hpp"
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/lapic_timer.hpp"
#include "platform/x86/drivers/tis_tpm.hpp"
#include "platform/x86/drivers/tpm_tis.hpp"
#include "platform/x86/drivers/vtd.hpp"
#include "platform/x86/host_timer.hpp"

extern "C" char hv_header[];

// A test image's built-in switches (abi/bare_hv_entry.hpp HvTestImage): flags = 0 here; only a
// copy the harness made for a test carries others (and is then measured as a different image).
// In .data and read through a volatile pointer, so the compiler cannot fold the 0.
[[gnu::used, gnu::section(".data.hv_test_image")]] redoubt::abi::HvTestImage hv_test_image = {
    {'R', 'D', 'B', 'T', '-', 'H', 'V', '-', 'T', 'E', 'S', 'T', '-', 'S', 'W', '1'}, 0, 0};

namespace {
// The harness channel's extra regions at power-off (abi/harness_channel.hpp): the run
// record and each guest's serial output, what a host needs for run.json and serial-*.txt.
uint64_t g_run_record_pa = 0;
size_t dump_run_record(redoubt::x86::DumpRegion* out, size_t max) {
  using namespace redoubt;
  if (!g_run_record_pa || max == 0) return 0;
  const auto* rec = reinterpret_cast<const hv::RunRecord*>(g_run_record_pa);
  size_t n = 0;
  out[n++] = {g_run_record_pa, sizeof(hv::RunRecord)};
  if (__builtin_memcmp(rec->magic, hv::kRunRecordMagic, 8) != 0) return n;
  for (uint32_t i = 0; i < rec->guest_count && i < hv::kRecordGuests && n < max; ++i) {
    const hv::GuestRecord& g = rec->guests[i];
    if (g.serial_len && g.serial_len <= g.serial_cap) out[n++] = {g.serial_pa, g.serial_len};
  }
  return n;
}

uint64_t iommu_region_offset(const redoubt::x86::AmdDev& dev) { return dev.table_bytes(); }

// The local APIC timer driver as the world switch's host timer.
class LapicHostTimer final : public redoubt::x86::HostTimer {
 public:
  explicit LapicHostTimer(redoubt::x86::LapicTimer& t) : t_(t) {}
  void arm(uint64_t deadline_tsc, uint8_t vector) override {
    redoubt::Status s = t_.arm(deadline_tsc, vector);
    if (!s) redoubt::x86::launch_fail(s.code(), s.message());
  }
  void eoi() override { t_.eoi(); }

 private:
  redoubt::x86::LapicTimer& t_;
};
}  // namespace

extern "C" [[noreturn]] void hv_bare_main(redoubt::abi::BareHvEntry* entry, uint64_t relocations) {
  using namespace redoubt;
  x86::idt_init();  // first: from here on a fault is reported, not a triple fault
  x86::SerialConsole console;
  x86::VolatileMmio tis_regs(arch::tis::kBase);
  x86::TisDriver tis(tis_regs);
  x86::TisTpm tpm(tis);
  x86::X86PortBus ports;
  x86::IdentityMemory phys;
  x86::AmdDev dev(ports, phys);
  x86::AmdIommu iommu(ports, phys);
  x86::Vtd vtd(phys, nullptr, arch::vtd::kDefaultBase, &ports);  // PCI configuration cycles: assignment finds the device's BAR
  x86::DmaProtectionSelector dma(dev, iommu, &vtd);
  x86::VolatileMmio lapic_regs(arch::lapic::kBase);
  x86::RdtscClock tsc;
  x86::LapicTimer lapic(lapic_regs, tsc);
  LapicHostTimer timer(lapic);
  x86::BareSvm svm(timer);
  x86::BareVmx vmx;
  // UNMEASURED (docs/intel.md "Bochs"): only the boot stub's test hand-off sets this bit, never an SL,
  // never a test image: no TPM is touched and no DMA protection is taken over.
  const bool unmeasured = entry->hdr.flags & abi::kBareFlagUnmeasured;
  x86::UnmeasuredTpm no_tpm(entry->handoff.banks);
  x86::UnprotectedDma no_dma;
  x86::BarePlatform platform(console, unmeasured ? static_cast<hal::Tpm&>(no_tpm) : tpm,
                             unmeasured ? static_cast<hal::DmaProtection&>(no_dma) : dma, &svm, &vmx);
  if (unmeasured)
    platform.console().print("[hv] UNMEASURED test hand-off: no TPM (no PCR extended, no NV counter), no DMA protection; "
                             "never a launch\n");
  auto* outcome = entry->hdr.outcome_pa
                      ? reinterpret_cast<abi::LaunchOutcome*>(platform.mem().map(entry->hdr.outcome_pa,
                                                                                 sizeof(abi::LaunchOutcome)))
                      : nullptr;
  x86::launch_report_init(abi::Stage::hypervisor, &console, outcome);
  x86::launch_report_event_log(entry->handoff.event_log_pa, entry->handoff.event_log_cap, &entry->handoff.event_log_used);
  uint64_t rsp;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  platform.console().print("[hv] bare-metal entry: image at 0x%llx, %llu relocations applied, boot area 0x%llx, stack 0x%llx\n",
                           (unsigned long long)(uintptr_t)hv_header, (unsigned long long)relocations,
                           (unsigned long long)(uintptr_t)entry, (unsigned long long)rsp);

  const uint64_t image_flags = static_cast<const volatile redoubt::abi::HvTestImage*>(&hv_test_image)->flags &
                               (abi::kBareFlagHvTestMask | abi::kBareFlagDevOffBeforeIommu);
  if (image_flags)
    platform.console().print("[hv] TEST IMAGE: test switches 0x%llx built into this hv.bin (not a release image)\n",
                             (unsigned long long)image_flags);
  const uint64_t flags = entry->hdr.flags | image_flags;
  if (flags & abi::kBareFlagSelfTestFault) {
    platform.console().print("[hv] self-test: executing ud2\n");
    asm volatile("ud2");
  }
  if (flags & abi::kBareFlagSelfTestVmrun) {
    Status s = x86::vmrun_selftest(platform, svm, *entry, 1000);
    if (!s) x86::launch_stop(abi::ExitStatus::hv_failed, s.code(), s.message());
    x86::launch_stop(abi::ExitStatus::ok, Err::ok, "VMRUN self-test passed");
  }
  if (flags & abi::kBareFlagSelfTestDma) {
    Status s = x86::dma_selftest(platform, *entry, !(flags & abi::kBareFlagSelfTestDmaNoProtection));
    if (!s) x86::launch_stop(abi::ExitStatus::hv_failed, s.code(), s.message());
    x86::launch_stop(abi::ExitStatus::ok, Err::ok, "DMA self-test passed");
  }

  // From here on (the self-tests above run on a synthetic hand-off, without a TPM to cap) every
  // hv_failed stop caps PCR17-20 and scrubs (hypervisor/core/fail_closed.hpp).
  hv::hypervisor_fail_closed_from(platform, entry->handoff);
  x86::launch_report_failure_hook(hv::hypervisor_fatal);
  x86::launch_report_scrub_stack(reinterpret_cast<uint64_t>(entry) + abi::kBarePageTablesOffset + 8192);
  // The SL enabled the DEV (or AMD-Vi); the hypervisor takes it over. The LAPIC timer preempts guests.
  if (!unmeasured) {
    if (Status d = dma.attach(); !d) x86::launch_stop(abi::ExitStatus::hv_failed, d.code(), d.message());
    platform.console().print("[hv] DMA protection: %s attached\n", dma.name());
  }
  // docs/dma.md "The DEV → AMD-Vi hand-off": with the DEV still on, AMD-Vi blocking every
  // DeviceID, its invalidation completed; the DEV stays on (no window, two layers).
  // docs/dma.md "VT-d": on an Intel machine SINIT's PMRs cover everything the hand-off names;
  // VT-d translation is enabled blocking every requester, and only then are the PMRs released.
  if (!unmeasured && dma.vtd_chosen()) {
    const bool window = flags & abi::kBareFlagDevOffBeforeIommu;
    if (window) platform.console().print("[hv] TEST ONLY: PMRs off before VT-d translation is on (the hand-off window)\n");
    Status t = dma.take_over_vtd(entry->handoff, window ? x86::VtdHw::kTestPmrOffFirst : 0);
    if (!t) x86::launch_stop(abi::ExitStatus::hv_failed, t.code(), t.message());
    platform.console().print("[hv] VT-d translation on: every requester blocked, root table at 0x%llx; PMRs released\n",
                             (unsigned long long)entry->handoff.dma_region_pa);
  }
  if (!unmeasured && dma.dev_chosen()) {
    const bool window = flags & abi::kBareFlagDevOffBeforeIommu;
    if (window) platform.console().print("[hv] TEST ONLY: DEV off before AMD-Vi is enabled (the hand-off window)\n");
    Status l = dma.layer_iommu(entry->handoff.dma_region_pa, entry->handoff.dma_region_size, window);
    if (!l && l.code() != Err::not_found) x86::launch_stop(abi::ExitStatus::hv_failed, l.code(), l.message());
    if (l)
      platform.console().print("[hv] AMD-Vi enabled under the DEV: all 65536 DeviceIDs blocked, device table at 0x%llx; the DEV stays on\n",
                               (unsigned long long)(entry->handoff.dma_region_pa + iommu_region_offset(dev)));
  }
  if (Status t = lapic.enable(); !t) x86::launch_stop(abi::ExitStatus::hv_failed, t.code(), t.message());
  if (Status t = lapic.calibrate(100000); !t) x86::launch_stop(abi::ExitStatus::hv_failed, t.code(), t.message());
  static_assert(abi::kBareFlagNoGuestStateSwitch == hv::kHvTestNoGuestStateSwitch);
  static_assert(abi::kBareFlagInjectFailure == hv::kHvTestInjectFailure);
  static_assert(abi::kBareFlagInjectSliceMask == hv::kHvTestInjectSliceMask);
  static_assert(abi::kBareFlagStaleIotlb == hv::kHvTestStaleIotlb);
  static_assert(abi::kBareFlagDmaMapsHost == hv::kHvTestDmaMapsHost);
  static_assert(abi::kBareFlagShadowNoResync == hv::kHvTestShadowNoResync);
  static_assert(abi::kBareFlagHvTestMask == hv::kHvTestFlagsMask);
  g_run_record_pa = entry->handoff.hv_memory_pa;  // hypervisor_main writes the record there first
  x86::launch_report_dump_hook(dump_run_record);
  Status s = hv::hypervisor_main(platform, entry->handoff, flags & abi::kBareFlagHvTestMask);
  x86::launch_report_log_used(entry->handoff.event_log_used);
  if (unmeasured)
    platform.console().print("[hv] UNMEASURED: %llu PCR extends were not made (no TPM)\n",
                             (unsigned long long)no_tpm.extends_not_made());
  if (!s) x86::launch_stop(abi::ExitStatus::hv_failed, s.code(), s.message());
  x86::launch_stop(abi::ExitStatus::ok, Err::ok, "the hypervisor stopped normally");
}
