// The hypervisor proper: taking over its memory at entry (run record, page
// allocator, guest admission, SVM enable), creating every VM, closing the
// guest measurements, and round-robin scheduling until all guests stop; then
// the scrub on teardown. The per-VM work is in vm.cpp.
#include <cstring>

#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/vm.hpp"
#include "platform/hal/format.hpp"

namespace redoubt::hv {

const char* guest_state_name(GuestState s) {
  switch (s) {
    case GuestState::created: return "created";
    case GuestState::runnable: return "runnable";
    case GuestState::halted: return "halted";
    case GuestState::exited: return "exited";
    case GuestState::killed: return "killed";
    case GuestState::failed: return "failed";
    case GuestState::refused: return "refused";
  }
  return "?";
}

Status Hypervisor::init() {
  const auto& h = handoff;
  if (h.hv_memory_size < kRunRecordBytes + (1ull << 20))
    return Status::fail(Err::malformed, "hypervisor memory of %llu bytes is too small",
                        (unsigned long long)h.hv_memory_size);
  if (!platform.dma().is_protected(h.hv_memory_pa, h.hv_memory_size))
    return Status::fail(Err::internal, "hypervisor memory is not DMA-protected at entry");
  uint8_t* rec = platform.mem().map(h.hv_memory_pa, kRunRecordBytes);
  if (!rec) return Status::fail(Err::fault, "hypervisor memory is outside RAM");
  std::memset(rec, 0, sizeof(RunRecord));  // the Hypervisor object sits at the end of the reserved pages
  record = reinterpret_cast<RunRecord*>(rec);
  std::memcpy(record->magic, kRunRecordMagic, 8);
  record->version = 1;
  record->test_flags = test_flags;
  format(record->status, sizeof record->status, "starting");
  REDOUBT_TRY(alloc.init(platform.mem(), h.hv_memory_pa + kRunRecordBytes, h.hv_memory_size - kRunRecordBytes));
  record->hv_pages_total = alloc.total_pages();
  REDOUBT_TRY(admission.init(platform, handoff, alloc));
  // I/O page tables for assigned devices, in hypervisor memory (no device can reach it):
  // 4-level tables over a guest's RAM in 4 KiB pages need 1 + 1 + 1 + RAM / 2 MiB pages.
  domain_pool = Status::fail(Err::internal, "no I/O page-table pool");
  uint64_t pool_pages = 0;
  for (uint32_t i = 0; i < handoff.guest_count && i < hal::HypervisorHandoff::kMaxGuests; ++i)
    if (handoff.guests[i].device_count)
      pool_pages += handoff.guests[i].device_count * (3 + (handoff.guests[i].ram_size >> 21) + 1 +
                                                      (test_flags & kHvTestDmaMapsHost ? (kHvTestDmaMapsHostLimit >> 21) + 1 : 0));
  if (pool_pages) {
    uint64_t pool;
    REDOUBT_TRY(alloc.alloc(pool_pages, 1, pool, "I/O page tables (assigned devices)"));
    domain_pool = platform.dma().set_domain_pool(pool, pool_pages * 4096);
    domain_pool_pa = pool;
    domain_pool_size = pool_pages * 4096;
  }
  // The vendor, at run time from CPUID (the same hv.bin runs on both): AMD-V with nested paging,
  // else Intel VT-x with EPT. Only Vm::create and the backends differ (docs/hypervisor.md).
  if (platform.svm().available()) {
    uint64_t hsave;
    REDOUBT_TRY(alloc.alloc_page(hsave, "VM_HSAVE area"));
    REDOUBT_TRY(platform.svm().enable(hsave));
    svm_on = true;
    vendor = kVendorSvm;
    slat_ram_flags = x86::kPteWrite | x86::kPteUser;
    slat_mmio_flags = x86::kPteWrite | x86::kPteUser | x86::kPtePcd;
  } else if (hal::Vmx* vmx = platform.vmx(); vmx && vmx->available()) {
    uint64_t vmxon;
    REDOUBT_TRY(alloc.alloc_page(vmxon, "VMXON region"));
    REDOUBT_TRY(vmx->enable(vmxon));
    vmx_on = true;
    vendor = kVendorVmx;
    slat_ram_flags = x86::kPteWrite | x86::kPteUser | (6ull << 3);  // EPT: W X (R implied by P), WB
    slat_mmio_flags = x86::kPteWrite | x86::kPteUser;              // EPT: W X, UC
    platform.console().print("[hv] Intel VT-x: VMX root operation, guests on EPT with VPID\n");
  } else {
    return Status::fail(Err::unsupported, "this CPU has neither AMD-V with nested paging nor Intel VT-x");
  }
  record->vendor = vendor;
  // Before the first guest byte is loaded: a warm reset from here on is answered by a scrub of
  // all RAM before any other code runs (docs/isolation.md "Remanence"), until the final scrub.
  record->secrets_flag_set = platform.secrets_in_memory(true);
  if (record->secrets_flag_set)
    platform.console().print("[hv] reset-attack mitigation: SECRETS flag set (a warm reset now scrubs all RAM first)\n");
  else
    platform.console().print("[hv] reset-attack mitigation: none on this platform: a reset during the run leaves guest memory to the next boot\n");
  return Status::ok();
}

Status Hypervisor::run() {
  auto& c = platform.console();
  const uint32_t n = handoff.guest_count > hal::HypervisorHandoff::kMaxGuests ? hal::HypervisorHandoff::kMaxGuests
                                                                                : handoff.guest_count;
  record->guest_count = n;
  for (uint32_t i = 0; i < n; ++i) {
    const auto& g = handoff.guests[i];
    Status s = vms[i].create(*this, i, g);
    if (!s) {
      c.print("[hv] guest %s not started: %s\n", g.name, s.message());
      // A guest that failed to load or start after admission is recorded too,
      // so a verifier sees every guest the loader listed.
      if (vms[i].state() == GuestState::failed) admission.record_failure(g, s);
      continue;
    }
    c.print(vendor == kVendorVmx ? "[hv] guest %u '%s': %llu MiB RAM at 0x%llx, image %llu bytes, VPID %u, EPT 0x%llx (%llu tables)\n"
                                 : "[hv] guest %u '%s': %llu MiB RAM at 0x%llx, image %llu bytes, ASID %u, nCR3 0x%llx (%llu tables)\n", i,
            g.name, (unsigned long long)(g.ram_size >> 20), (unsigned long long)g.ram_pa,
            (unsigned long long)g.image_size, vms[i].record().asid, (unsigned long long)vms[i].record().npt_root,
            (unsigned long long)vms[i].record().npt_tables);
  }
  vm_count = n;
  // Every guest is measured (or its refusal is) before any guest runs; close PCR19/20.
  if (Status s = admission.finish(); !s) {
    for (uint32_t i = 0; i < n; ++i)
      if (vms[i].alive()) vms[i].kill("the guest measurements could not be closed: %s", s.message());
    format(record->status, sizeof record->status, "stopped: %s", s.message());
    return s;
  }
  record->hv_pages_used = alloc.total_pages() - alloc.free_pages();
  format(record->status, sizeof record->status, "running");

  hal::Svm& cpu = platform.svm();
  uint32_t cur = n ? n - 1 : 0;
  for (;;) {
    // Wake guests whose timer is due.
    const uint64_t now = cpu.rdtsc();
    bool any_alive = false;
    for (uint32_t i = 0; i < n; ++i) {
      Vm& vm = vms[i];
      if (!vm.alive()) continue;
      any_alive = true;
      if (vm.state() == GuestState::halted && vm.timer().armed && now >= vm.timer().deadline) vm.wake();
    }
    if (!any_alive) break;
    // Round robin: the next runnable guest after the current one.
    int pick = -1;
    for (uint32_t k = 1; k <= n; ++k) {
      uint32_t i = (cur + k) % n;
      if (vms[i].state() == GuestState::runnable) {
        pick = int(i);
        break;
      }
    }
    if (pick < 0) {
      // Everyone is halted: nothing runs, so skip ahead to the earliest timer.
      uint32_t best = n;
      for (uint32_t i = 0; i < n; ++i)
        if (vms[i].state() == GuestState::halted && vms[i].timer().armed &&
            (best == n || vms[i].timer().deadline < vms[best].timer().deadline))
          best = i;
      if (best == n) break;  // cannot happen: halted guests always have a timer
      vms[best].timer().deadline = now;
      vms[best].wake();
      pick = int(best);
    }
    cur = uint32_t(pick);
    ++record->slices;
    // Test only (entry.hpp): a failure of the hypervisor itself, after the guests ran a while.
    if ((test_flags & kHvTestInjectFailure) && record->slices > ((test_flags & kHvTestInjectSliceMask) >> kHvTestInjectSliceShift))
      return Status::fail(Err::internal, "TEST ONLY: injected hypervisor failure at slice %llu",
                          (unsigned long long)record->slices);
    vms[cur].run_slice(cpu.rdtsc() + GuestPolicy{}.slice_ticks);
    if (!vms[cur].alive()) teardown(vms[cur]);  // its RAM is scrubbed as it stops, while the others run
  }
  record->hv_pages_used = alloc.total_pages() - alloc.free_pages();
  for (uint32_t i = 0; i < n; ++i) teardown(vms[i]);
  if (dma_release_failed) return Status::fail(Err::fault, "an assigned device could not be blocked again");
  format(record->status, sizeof record->status, "ok");
  return Status::ok();
}

// Scrub on teardown: nothing a guest computed outlives it in RAM the next owner
// could read (its serial log and record stay in hypervisor memory).
void Hypervisor::teardown(Vm& vm) {
  GuestRecord& r = vm.record();
  if (r.scrubbed) return;
  vm.finish_exit_digest();
  vm.finish_serial();
  r.serial_len = vm.serial_bytes();
  // Its devices first: blocked, the IOMMU's caches invalidated and the DEV closed, before the
  // RAM is scrubbed (a stale translation would let a device write the scrubbed RAM, or read
  // what the next owner puts there).
  const uint32_t devices = vm.device_count();
  if (devices && !vm.release_devices(!(test_flags & kHvTestStaleIotlb))) dma_release_failed = true;
  vm.finish_shadow(!(test_flags & kHvTestNoScrub));
  if (test_flags & kHvTestNoScrub) return;  // test only: the forgotten scrub (entry.hpp)
  (void)platform.mem().zero(r.ram_pa, r.ram_size);
  r.scrubbed = 1;
  if (devices) platform.console().print("[hv] guest %s: RAM scrubbed after its devices were released\n", r.name);
}

}  // namespace redoubt::hv
