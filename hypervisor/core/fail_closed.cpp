#include "hypervisor/core/fail_closed.hpp"

#include <cstring>

#include "abi/slb_layout.hpp"
#include "platform/hal/format.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/measure.hpp"
#include "policy/fs/pcr_map.hpp"

namespace redoubt::hv {
namespace {

bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return an && bn && a < b + bn && b < a + an; }

// Zeroes [pa, pa+n) unless it overlaps what must stay; counts it.
uint64_t zero(hal::Platform& p, const hal::HypervisorHandoff& h, const char* what, uint64_t pa, uint64_t n,
              uint64_t& skipped) {
  if (n == 0) return 0;
  const bool bad = pa + n < pa || overlaps(pa, n, h.hv_image_pa, h.hv_image_size) ||
                   overlaps(pa, n, h.event_log_pa, h.event_log_cap) || overlaps(pa, n, h.hv_memory_pa, kRunRecordBytes);
  if (bad || !p.mem().zero(pa, n)) {
    ++skipped;
    p.console().print("[hv] scrub: %s [0x%llx, +0x%llx) skipped: %s\n", what, (unsigned long long)pa,
                      (unsigned long long)n, bad ? "it overlaps what must stay" : "outside RAM");
    return 0;
  }
  return n;
}

}  // namespace

Status cap_hypervisor_failure(hal::Platform& p, hal::HypervisorHandoff& h, const Status& why) {
  char reason[Status::kMsgCap + 32];
  const size_t n = format(reason, sizeof reason, "%s: %s", err_name(why.code()), why.message());
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(reason), n);
  // The SL's log, resumed where the last measurement left it (TCG PFP §10.2.2: one log per PCR set).
  policy::EventLogWriter log(p.mem().map(h.event_log_pa, h.event_log_cap), h.event_log_cap);
  const bool log_ok = h.event_log_cap && p.mem().map(h.event_log_pa, h.event_log_cap) &&
                      p.dma().is_protected(h.event_log_pa, h.event_log_cap) && bool(log.resume(h.event_log_used, h.banks));
  Status first = Status::ok();
  for (uint32_t pcr : {policy::kPcrDrtmDetail, policy::kPcrDrtmAuthority, policy::kPcrGuestAuthority, policy::kPcrGuestDetail}) {
    Status s = policy::measure_event(p.tpm(), policy::kLocalityDlme, log_ok ? &log : nullptr, pcr, policy::kEvHvFailed,
                                     policy::hash_banks(h.banks, data), data);
    if (!s) {
      p.console().print("[hv] could not cap PCR%u: %s\n", pcr, s.message());
      if (first) first = s;
    }
  }
  if (log_ok) h.event_log_used = log.size();
  p.console().print("[hv] HYPERVISOR FAILED (%s): %s; PCR17-20 capped with EV_REDOUBT_HV_FAILED%s\n",
                    err_name(why.code()), why.message(), log_ok ? "" : " (the event log could not take the events)");
  return first;
}

ScrubTotals scrub_launch_memory(hal::Platform& p, const hal::HypervisorHandoff& h, const RunRecord* keep) {
  ScrubTotals t;
  const uint32_t n = h.guest_count > hal::HypervisorHandoff::kMaxGuests ? hal::HypervisorHandoff::kMaxGuests : h.guest_count;
  for (uint32_t i = 0; i < n; ++i)
    t.guest_bytes += zero(p, h, "guest RAM", h.guests[i].ram_pa, h.guests[i].ram_size, t.skipped);
  // The hypervisor's pages after the run record, around the serial logs (kept: they are output).
  if (h.hv_memory_size > kRunRecordBytes) {
    uint64_t at = h.hv_memory_pa + kRunRecordBytes;
    const uint64_t end = h.hv_memory_pa + h.hv_memory_size;
    while (at < end) {
      uint64_t next = end, skip_to = end;  // the nearest kept serial log at or after `at`
      if (keep)
        for (uint32_t i = 0; i < keep->guest_count && i < kRecordGuests; ++i) {
          const GuestRecord& g = keep->guests[i];
          if (!g.serial_cap || g.serial_pa + g.serial_cap <= at || g.serial_pa >= end) continue;
          const uint64_t lo = g.serial_pa < at ? at : g.serial_pa;
          if (lo < next) next = lo, skip_to = g.serial_pa + g.serial_cap;
        }
      t.hv_bytes += zero(p, h, "hypervisor memory", at, next - at, t.skipped);
      at = skip_to;
    }
  }
  if (h.slb_base) t.slb_bytes = zero(p, h, "SLB", h.slb_base, sl::kSlbSize, t.skipped);
  return t;
}

void record_scrub(RunRecord* rec, const ScrubTotals& t) {
  if (!rec) return;
  rec->scrub_done = t.skipped == 0;
  rec->scrubbed_guest_bytes = t.guest_bytes;
  rec->scrubbed_hv_bytes = t.hv_bytes;
  rec->scrubbed_slb_bytes = t.slb_bytes;
  rec->scrub_skipped = t.skipped;
}

}  // namespace redoubt::hv
