// 64-bit C++ entry of the secure loader's stage 2 (sl2.bin), reached from
// sl2_entry.S on its own stack after stage 1 matched it against the SLB's pin
// (docs/skinit.md "Two stages"). Runs the same secure_loader_main as the
// simulator's native build, on the real drivers: the TPM FIFO interface at
// locality 2 and the DEV (or AMD-Vi) stage 1 enabled. On bare metal it returns only on a
// refusal.
#include "abi/launch_outcome.hpp"
#include "arch/tpm/tis.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/dma_protection.hpp"
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/tis_tpm.hpp"
#include "platform/x86/drivers/tpm_tis.hpp"
#include "platform/x86/drivers/vtd.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/sl_outcome.hpp"
#include "sl/secure_loader.hpp"

namespace {
// A pointer table in data: each entry is an R_X86_64_RELATIVE relocation, so
// printing through it shows the relocation pass ran.
const char* const kStageNames[] = {"none", "secure loader", "hypervisor"};
}  // namespace

extern "C" [[noreturn]] void sl_bare_main(uint64_t slb_base, uint64_t boot_params_pa, uint64_t relocations,
                                          uint64_t stack_bottom, uint64_t stack_top) {
  using namespace redoubt;
  x86::SerialConsole console;
  x86::VolatileMmio tis_regs(arch::tis::kBase);
  x86::TisDriver tis(tis_regs);
  x86::TisTpm tpm(tis);
  x86::X86PortBus ports;
  x86::IdentityMemory phys;
  x86::AmdDev dev(ports, phys);
  x86::AmdIommu iommu(ports, phys);
  x86::Vtd vtd(phys);  // an Intel TXT machine: SINIT's PMRs (docs/intel.md "The Intel platform")
  x86::DmaProtectionSelector dma(dev, iommu, &vtd);
  x86::BarePlatform platform(console, tpm, dma, nullptr);
  x86::launch_report_init(abi::Stage::sl, &console, nullptr);
  x86::launch_report_stack(stack_bottom, stack_top);
  hal::Console& con = platform.console();  // through the vtable
  con.print("[sl] stage 2 (%s) in long mode: %llu relocations applied, SLB at 0x%llx, boot params at 0x%llx\n",
            kStageNames[uint32_t(abi::Stage::sl)], (unsigned long long)relocations, (unsigned long long)slb_base,
            (unsigned long long)boot_params_pa);
  x86::launch_report_init(abi::Stage::sl, &console, x86::sl_checked_outcome(con, platform.mem(), slb_base, boot_params_pa));

  // Stage 1 enabled the DEV (or AMD-Vi) over the SLB, the boot params and this image, or checked
  // that SINIT's PMRs cover them; take it over.
  if (Status d = dma.attach(); !d) {
    sl::refuse(platform, slb_base, d);
    x86::launch_stop(abi::ExitStatus::launch_refused, d.code(), d.message());
  }
  con.print("[sl] DMA protection: %s attached\n", dma.name());
  sl::Outcome o = sl::secure_loader_main(platform, slb_base);
  // Only a refusal returns (or a hand-off that could not be made).
  x86::launch_report_log_used(o.event_log_used);
  x86::launch_stop(abi::ExitStatus::launch_refused, o.reason.is_ok() ? Err::internal : o.reason.code(),
                   o.reason.message());
}
