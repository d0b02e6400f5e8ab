// 64-bit C++ entry of the bare-metal secure loader, reached from sl_entry.S in
// long mode after the self-relocation. Runs the same secure_loader_main as the
// simulator; on bare metal it returns only on a refusal.
#include <cstring>

#include "abi/boot_params.hpp"
#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/pending_drivers.hpp"
#include "sl/secure_loader.hpp"

namespace {

using namespace redoubt;

// A pointer table in data: each entry is an R_X86_64_RELATIVE relocation, so
// printing through it shows the relocation pass ran.
const char* const kStageNames[] = {"none", "secure loader", "hypervisor"};

bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }

// The LaunchOutcome record is an output the untrusted loader asked for: it must
// not overlap anything the launch relies on (the SLB, the boot params, any
// region they name), else writing it could change measured or protected bytes.
abi::LaunchOutcome* checked_outcome(hal::Console& c, hal::PhysMem& mem, uint64_t slb_base, uint64_t bp_pa) {
  const uint8_t* raw = mem.map(bp_pa, sizeof(sl::BootParams));
  if (!raw) return nullptr;
  sl::BootParams bp;
  std::memcpy(&bp, raw, sizeof bp);
  const sl::Region o = bp.outcome;
  if (o.pa == 0 && o.size == 0) return nullptr;
  bool ok = std::memcmp(bp.magic, sl::kBootParamsMagic, 8) == 0 && o.size >= sizeof(abi::LaunchOutcome) &&
            o.pa % 8 == 0 && mem.map(o.pa, sizeof(abi::LaunchOutcome)) &&
            !overlaps(o.pa, o.size, slb_base, sl::kSlbSize) && !overlaps(o.pa, o.size, bp_pa, sizeof bp);
  const sl::Region others[] = {bp.hv_image, bp.hv_manifest, bp.event_log, bp.launch_policy, bp.hv_memory, bp.guest_table};
  for (const sl::Region& r : others) ok = ok && !(r.size && overlaps(o.pa, o.size, r.pa, r.size));
  if (!ok) {
    c.print("[sl] ignoring the outcome record at 0x%llx: too small, misaligned, outside RAM or overlapping the "
            "SLB or a boot-params region\n", (unsigned long long)o.pa);
    return nullptr;
  }
  return reinterpret_cast<abi::LaunchOutcome*>(mem.map(o.pa, sizeof(abi::LaunchOutcome)));
}

}  // namespace

extern "C" [[noreturn]] void sl_bare_main(uint64_t slb_base, uint64_t boot_params_pa, uint64_t relocations,
                                          uint64_t stack_bottom) {
  x86::SerialConsole console;
  x86::PendingTisTpm tpm;
  x86::PendingDevProtection dev;
  x86::BarePlatform platform(console, tpm, dev, nullptr);
  x86::launch_report_init(abi::Stage::sl, &console, nullptr);
  x86::launch_report_stack(stack_bottom, slb_base + 0xFFF0);  // sl_entry.S SLB_STACK_TOP
  hal::Console& con = platform.console();  // through the vtable
  con.print("[sl] long mode: %s at 0x%llx, %llu relocations applied, boot params at 0x%llx\n",
            kStageNames[uint32_t(abi::Stage::sl)], (unsigned long long)slb_base, (unsigned long long)relocations,
            (unsigned long long)boot_params_pa);
  x86::launch_report_init(abi::Stage::sl, &console, checked_outcome(con, platform.mem(), slb_base, boot_params_pa));

  sl::Outcome o = sl::secure_loader_main(platform, slb_base);
  // Only a refusal returns (or a hand-off that could not be made).
  x86::launch_report_log_used(o.event_log_used);
  x86::launch_stop(abi::ExitStatus::launch_refused, o.reason.is_ok() ? Err::internal : o.reason.code(),
                   o.reason.message());
}
