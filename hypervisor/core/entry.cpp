#include "hypervisor/core/entry.hpp"

#include <new>

#include <cstring>

#include "hypervisor/core/fail_closed.hpp"
#include "hypervisor/core/vm.hpp"
#include "platform/hal/format.hpp"

namespace redoubt::hv {

namespace {

// The stop in progress (hypervisor_fatal, from a HAL's fault path, reaches it through these).
hal::Platform* g_platform = nullptr;
hal::HypervisorHandoff* g_handoff = nullptr;
Hypervisor* g_active = nullptr;
bool g_stopped = false;

// Every stop scrubs (fail_closed.hpp). The Hypervisor object goes last: it holds the vCPUs'
// saved guest registers; nothing reads it after this.
void stop_scrubbed(hal::Platform& p, hal::HypervisorHandoff& h, Hypervisor* hv) {
  g_stopped = true;
  RunRecord* rec = hv ? hv->record : nullptr;
  const bool no_scrub = hv && (hv->test_flags & kHvTestNoScrub);
  if (no_scrub) p.console().print("[hv] TEST ONLY: nothing is scrubbed at the stop\n");
  const ScrubTotals t = no_scrub ? ScrubTotals{} : scrub_launch_memory(p, h, rec);
  record_scrub(rec, t);
  p.console().print("[hv] scrubbed: %llu bytes of guest RAM, %llu of hypervisor memory, %llu of the SLB%s\n",
                    (unsigned long long)t.guest_bytes, (unsigned long long)t.hv_bytes, (unsigned long long)t.slb_bytes,
                    t.skipped ? " (some ranges skipped: see above)" : "");
  if (hv && !no_scrub) {
    // The rest of the reserved pages after the record: the Hypervisor object included.
    if (uint8_t* m = p.mem().map(h.hv_memory_pa + sizeof(RunRecord), kRunRecordBytes - sizeof(RunRecord)))
      std::memset(m, 0, kRunRecordBytes - sizeof(RunRecord));
  }
  // Nothing secret is left: the next reset need not scrub. A skipped range keeps the flag set.
  if (t.skipped == 0 && (!rec || rec->secrets_flag_set) && p.secrets_in_memory(false) && rec) rec->secrets_flag_cleared = 1;
  g_active = nullptr;
}

// A failure of the hypervisor itself after the hand-off: cap PCR17-20, record, scrub.
Status stop_failed(hal::Platform& p, hal::HypervisorHandoff& h, Hypervisor* hv, const Status& why) {
  if (g_stopped) return why;
  g_stopped = true;
  RunRecord* rec = hv ? hv->record : nullptr;
  if (hv)
    for (uint32_t i = 0; i < hv->vm_count; ++i)
      if (hv->vms[i].alive()) hv->vms[i].kill("the hypervisor failed: %s", why.message());
  if (hv && hv->svm_on) p.svm().guests_done();
  if (hv && hv->vmx_on && p.vmx()) p.vmx()->guests_done();  // the cap hashes with BearSSL (x87/SSE on bare metal)
  cap_hypervisor_failure(p, h, why);
  if (rec) {
    rec->hv_failed = 1;
    format(rec->failure, sizeof rec->failure, "%s: %s", err_name(why.code()), why.message());
    format(rec->status, sizeof rec->status, "failed: %s", why.message());
    if (hv) rec->guest_count = hv->vm_count > rec->guest_count ? hv->vm_count : rec->guest_count;
    for (uint32_t i = 0; hv && i < hv->vm_count; ++i) hv->teardown(hv->vms[i]);  // serial flushed, RAM zeroed
  }
  g_stopped = false;  // stop_scrubbed sets it again
  stop_scrubbed(p, h, hv);
  p.console().print("[hv] stopping: %s\n", why.message());
  return why;
}

}  // namespace

Status hypervisor_main(hal::Platform& platform, hal::HypervisorHandoff& h, uint64_t test_flags) {
  auto& c = platform.console();
  hypervisor_fail_closed_from(platform, h);
  c.print("[hv] Redoubt hypervisor %s %s entered at 0x%llx (image 0x%llx, %llu bytes, SVN %llu)\n", h.hv_name,
          h.hv_version, (unsigned long long)h.hv_entry_pa, (unsigned long long)h.hv_image_pa,
          (unsigned long long)h.hv_image_size, (unsigned long long)h.hv_svn);
  c.print("[hv] DRTM event log at 0x%llx: %llu of %llu bytes used\n", (unsigned long long)h.event_log_pa,
          (unsigned long long)h.event_log_used, (unsigned long long)h.event_log_cap);
  if (!platform.dma().is_protected(h.hv_image_pa, h.hv_image_size))
    return stop_failed(platform, h, nullptr, Status::fail(Err::internal, "hypervisor image is not DMA-protected at entry"));
  if (h.guest_count == 0) {
    c.print("[hv] no guests configured; stopping\n");
    stop_scrubbed(platform, h, nullptr);
    return Status::ok();
  }
  c.print("[hv] %u guest(s); hypervisor memory [0x%llx, +0x%llx)\n", h.guest_count,
          (unsigned long long)h.hv_memory_pa, (unsigned long long)h.hv_memory_size);

  // The Hypervisor object itself lives in hypervisor memory, after the run
  // record: no heap and no large stack frames.
  const uint64_t obj_pa = h.hv_memory_pa + kRunRecordBytes - ((sizeof(Hypervisor) + 4095) & ~4095ull);
  if (sizeof(Hypervisor) + sizeof(RunRecord) > kRunRecordBytes)
    return stop_failed(platform, h, nullptr, Status::fail(Err::internal, "hypervisor state does not fit its reserved pages"));
  uint8_t* obj = platform.mem().map(obj_pa, sizeof(Hypervisor));
  if (!obj || h.hv_memory_size < kRunRecordBytes)
    return stop_failed(platform, h, nullptr, Status::fail(Err::fault, "hypervisor memory is outside RAM"));
  Hypervisor* hv = new (obj) Hypervisor(platform, h);
  hv->test_flags = test_flags & kHvTestFlagsMask;
  if (hv->test_flags & kHvTestStaleIotlb) c.print("[hv] TEST ONLY: unassigned devices keep their cached translations\n");
  if (hv->test_flags & kHvTestNoGuestStateSwitch) c.print("[hv] TEST ONLY: guest DR0-3, x87/SSE and CR8 are not switched\n");
  if (hv->test_flags & (kHvTestFlagsMask & ~(kHvTestNoGuestStateSwitch | kHvTestInjectFailure | kHvTestInjectSliceMask)))
    c.print("[hv] TEST ONLY: protections turned off: 0x%llx\n", (unsigned long long)hv->test_flags);
  g_active = hv;
  Status s = hv->init();
  if (s) s = hv->run();
  if (!s) return stop_failed(platform, h, hv, s);
  for (uint32_t i = 0; i < hv->vm_count; ++i) {
    const GuestRecord& r = hv->vms[i].record();
    c.print("[hv] guest %s: %s (%s); %llu exits, %llu slices\n", r.name, guest_state_name(GuestState(r.state)),
            r.reason, (unsigned long long)r.exits_total, (unsigned long long)r.slices);
  }
  stop_scrubbed(platform, h, hv);
  c.print("[hv] all guests stopped\n");
  return Status::ok();
}

void hypervisor_fail_closed_from(hal::Platform& platform, hal::HypervisorHandoff& h) {
  g_platform = &platform;
  g_handoff = &h;
  g_active = nullptr;
  g_stopped = false;
}

void hypervisor_fatal(Err err, const char* message) {
  if (!g_platform || g_stopped) return;
  stop_failed(*g_platform, *g_handoff, g_active, Status::fail(err == Err::ok ? Err::internal : err, "%s", message));
}

}  // namespace redoubt::hv
