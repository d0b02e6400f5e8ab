// The SL -> hypervisor hand-off on bare metal (docs/hypervisor.md "Bare-metal
// entry"). The SL's HypervisorHandoff lives on its stack in the SLB; it is
// copied into a boot area the SL carves from the END of the DEV-protected
// hypervisor memory (abi/bare_hv_entry.hpp), the LaunchOutcome is updated, and
// the SL jumps to hv.bin's entry with RDI = the boot area, interrupts off.
#include <cstring>

#include "abi/bare_hv_entry.hpp"
#include "abi/handoff.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/launch_report.hpp"

namespace redoubt::x86 {

Status BarePlatform::enter_hypervisor(hal::HypervisorHandoff& ho) {
  using abi::kBareBootAreaBytes;
  if (ho.hv_image_pa % 4096 != 0)
    return Status::fail(Err::malformed, "hypervisor image 0x%llx is not 4 KiB aligned", (unsigned long long)ho.hv_image_pa);
  // The run record stays at hv_memory[0]; the boot area comes off the end.
  constexpr uint64_t kRunRecordReserve = 64 * 1024;
  if (ho.hv_memory_size < kBareBootAreaBytes + kRunRecordReserve)
    return Status::fail(Err::malformed, "hypervisor memory (%llu bytes) has no room for the boot area (%llu + %llu)",
                        (unsigned long long)ho.hv_memory_size, (unsigned long long)kBareBootAreaBytes,
                        (unsigned long long)kRunRecordReserve);
  const uint64_t area = ho.hv_memory_pa + ho.hv_memory_size - kBareBootAreaBytes;
  uint8_t* p = mem().map(area, kBareBootAreaBytes);
  if (!p) return Status::fail(Err::fault, "boot area 0x%llx is outside RAM", (unsigned long long)area);

  auto* e = reinterpret_cast<abi::BareHvEntry*>(p);
  std::memset(p, 0, abi::kBarePageTablesOffset);
  e->hdr.magic = abi::kBareHvMagic;
  e->hdr.stack_top = area + abi::kBareStackTopOffset;
  e->hdr.page_tables_pa = area + abi::kBarePageTablesOffset;
  e->hdr.outcome_pa = reinterpret_cast<uint64_t>(launch_report_outcome());  // checked by sl_main.cpp; 0 = none
  e->hdr.flags = 0;  // the test-only flags are never set by the SL
  e->handoff = ho;
  e->handoff.hv_memory_size -= kBareBootAreaBytes;

  launch_report_hv_entered(ho.hv_entry_pa, ho.event_log_used);
  console().print("[sl] hypervisor boot area at 0x%llx\n", (unsigned long long)area);
  asm volatile(
      "cli\n\t"
      "jmp *%1"
      :
      : "D"(area), "r"(ho.hv_entry_pa)
      : "memory");
  __builtin_unreachable();
}

}  // namespace redoubt::x86
