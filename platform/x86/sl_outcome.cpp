#include "platform/x86/sl_outcome.hpp"

#include <cstring>

#include "abi/boot_params.hpp"
#include "abi/slb_layout.hpp"
#include "platform/x86/launch_report.hpp"

namespace redoubt::x86 {
namespace {
bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }
}  // namespace

abi::LaunchOutcome* sl_checked_outcome(hal::Console& c, hal::PhysMem& mem, uint64_t slb_base, uint64_t bp_pa) {
  const uint8_t* raw = mem.map(bp_pa, sizeof(sl::BootParams));
  if (!raw) return nullptr;
  sl::BootParams bp;
  std::memcpy(&bp, raw, sizeof bp);
  const sl::Region o = bp.outcome;
  if (o.pa == 0 && o.size == 0) return nullptr;
  bool ok = std::memcmp(bp.magic, sl::kBootParamsMagic, 8) == 0 && o.size >= sizeof(abi::LaunchOutcome) &&
            o.pa % 8 == 0 && mem.map(o.pa, sizeof(abi::LaunchOutcome)) &&
            !overlaps(o.pa, o.size, slb_base, sl::kSlbSize) && !overlaps(o.pa, o.size, bp_pa, sizeof bp);
  const sl::Region others[] = {bp.hv_image,  bp.hv_manifest, bp.event_log, bp.launch_policy,
                               bp.hv_memory, bp.guest_table, bp.dev_table, bp.sl_stage2};
  for (const sl::Region& r : others) ok = ok && !(r.size && overlaps(o.pa, o.size, r.pa, r.size));
  if (!ok) {
    c.print("[sl] ignoring the outcome record at 0x%llx: too small, misaligned, outside RAM or overlapping the "
            "SLB or a boot-params region\n", (unsigned long long)o.pa);
    return nullptr;
  }
  // The harness channel sends the log at power-off (the SL validates the region before it writes one).
  launch_report_event_log(bp.event_log.pa, bp.event_log.size);
  return reinterpret_cast<abi::LaunchOutcome*>(mem.map(o.pa, sizeof(abi::LaunchOutcome)));
}

}  // namespace redoubt::x86
