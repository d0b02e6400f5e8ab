// 64-bit C++ entry of the bare-metal hypervisor image, reached from hv_entry.S
// on the hypervisor's own stack, page tables and GDT (docs/hypervisor.md).
#include "abi/bare_hv_entry.hpp"
#include "hypervisor/core/entry.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/bare_svm.hpp"
#include "platform/x86/hv_selftest.hpp"
#include "platform/x86/idt.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/pending_drivers.hpp"

extern "C" char hv_header[];

extern "C" [[noreturn]] void hv_bare_main(redoubt::abi::BareHvEntry* entry, uint64_t relocations) {
  using namespace redoubt;
  x86::idt_init();  // first: from here on a fault is reported, not a triple fault
  x86::SerialConsole console;
  x86::PendingTisTpm tpm;
  x86::PendingDevProtection dev;
  x86::PendingLapicTimer timer;
  x86::BareSvm svm(timer);
  x86::BarePlatform platform(console, tpm, dev, &svm);
  auto* outcome = entry->hdr.outcome_pa
                      ? reinterpret_cast<abi::LaunchOutcome*>(platform.mem().map(entry->hdr.outcome_pa,
                                                                                 sizeof(abi::LaunchOutcome)))
                      : nullptr;
  x86::launch_report_init(abi::Stage::hypervisor, &console, outcome);
  uint64_t rsp;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  platform.console().print("[hv] bare-metal entry: image at 0x%llx, %llu relocations applied, boot area 0x%llx, stack 0x%llx\n",
                           (unsigned long long)(uintptr_t)hv_header, (unsigned long long)relocations,
                           (unsigned long long)(uintptr_t)entry, (unsigned long long)rsp);

  const uint64_t flags = entry->hdr.flags;
  if (flags & abi::kBareFlagSelfTestFault) {
    platform.console().print("[hv] self-test: executing ud2\n");
    asm volatile("ud2");
  }
  if (flags & abi::kBareFlagSelfTestVmrun) {
    Status s = x86::vmrun_selftest(platform, svm, *entry, 1000);
    if (!s) x86::launch_stop(abi::ExitStatus::hv_failed, s.code(), s.message());
    x86::launch_stop(abi::ExitStatus::ok, Err::ok, "VMRUN self-test passed");
  }

  Status s = hv::hypervisor_main(platform, entry->handoff);
  x86::launch_report_log_used(entry->handoff.event_log_used);
  if (!s) x86::launch_stop(abi::ExitStatus::hv_failed, s.code(), s.message());
  x86::launch_stop(abi::ExitStatus::ok, Err::ok, "the hypervisor stopped normally");
}
