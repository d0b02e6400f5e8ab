// Stage 1 of the secure loader: the code in the 64 KiB SLB that SKINIT measures
// (docs/skinit.md "Two stages"). Reached from sl_entry.S in long mode on the
// SLB stack. It does only what must happen before any code outside the SLB
// runs: read the boot params, enable the DEV over the SLB, the boot params and
// stage 2's region (APM vol. 2 §15.24) — or, on a machine without a DEV, AMD-Vi
// blocking every device (docs/dma.md "AMD-Vi") — hash stage 2 and compare it with the
// pin measured as part of the SLB, then enter it. On an Intel TXT machine (no DEV, no AMD-Vi) it
// checks that the PMRs SINIT enabled cover them instead (docs/intel.md "The Intel platform"). Any failure caps PCR17/18
// with TPM2_PCR_Event at locality 2 (the TPM hashes the reason in every bank,
// the digest the SL's "launch failed" event carries) and powers off.
#include <bearssl.h>

#include <cstring>

#include "abi/boot_params.hpp"
#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "arch/tpm/tis.hpp"
#include "platform/hal/format.hpp"
#include "platform/x86/bare_platform.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/tpm2_commands.hpp"
#include "platform/x86/drivers/tpm_tis.hpp"
#include "arch/intel/vtd.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/sl_outcome.hpp"
#include "policy/fs/pcr_map.hpp"

namespace {

using namespace redoubt;
using sl::Region;

bool overlap(const Region& a, const Region& b) { return a.pa < b.pa + b.size && b.pa < a.pa + a.size; }

struct Stage1 {
  hal::Console& con;
  x86::IdentityMemory mem;
  uint64_t slb_base;
  uint64_t bp_pa;
  sl::BootParams bp{};

  Status read_boot_params(sl::BootParams& out) {
    const uint8_t* raw = mem.map(bp_pa, sizeof(sl::BootParams));
    if (!raw) return Status::fail(Err::malformed, "boot params pointer 0x%llx is outside RAM", (unsigned long long)bp_pa);
    if (overlap({bp_pa, sizeof(sl::BootParams)}, {slb_base, sl::kSlbSize}))
      return Status::fail(Err::malformed, "boot params at 0x%llx overlap the SLB", (unsigned long long)bp_pa);
    std::memcpy(&out, raw, sizeof out);
    if (std::memcmp(out.magic, sl::kBootParamsMagic, 8) != 0)
      return Status::fail(Err::malformed, "boot params at 0x%llx: bad magic", (unsigned long long)bp_pa);
    if (out.size != sizeof(sl::BootParams) || out.version != 1)
      return Status::fail(Err::unsupported, "boot params: size %u version %u, expected %u/1", out.size, out.version,
                          unsigned(sizeof(sl::BootParams)));
    return Status::ok();
  }

  Status run() {
    REDOUBT_TRY(read_boot_params(bp));
    const sl::SlbHeader& h = *reinterpret_cast<const sl::SlbHeader*>(mem.map(slb_base, sizeof(sl::SlbHeader)));
    if (h.stage2_pin_offset < sizeof(sl::SlbHeader) || h.stage2_pin_offset + sizeof(sl::SlbStage2Pin) > h.length)
      return Status::fail(Err::malformed, "SLB stage-2 pin at 0x%x is outside the measured region (length 0x%x)",
                          h.stage2_pin_offset, h.length);
    sl::SlbStage2Pin pin;
    std::memcpy(&pin, mem.map(slb_base + h.stage2_pin_offset, sizeof pin), sizeof pin);
    if (std::memcmp(pin.magic, sl::kStage2PinMagic, 8) != 0 || pin.image_size < sizeof(sl::Stage2Header) ||
        pin.image_size > sl::kMaxStage2Size)
      return Status::fail(Err::malformed, "SLB stage-2 pin: bad magic or size %u", pin.image_size);

    const Region s2 = bp.sl_stage2, table = bp.dev_table, slb{slb_base, sl::kSlbSize}, bpr{bp_pa, sizeof bp};
    if (s2.size == 0) return Status::fail(Err::malformed, "boot params: no SL stage 2 region (sl2.bin)");
    if (s2.pa % 4096 != 0 || s2.size < pin.image_size || s2.size > sl::kMaxStage2Size || s2.pa + s2.size < s2.pa ||
        !mem.map(s2.pa, s2.size))
      return Status::fail(Err::malformed, "boot params: SL stage 2 [0x%llx, +0x%llx) is unaligned, outside RAM, larger "
                          "than %llu or smaller than the pinned %u bytes", (unsigned long long)s2.pa,
                          (unsigned long long)s2.size, (unsigned long long)sl::kMaxStage2Size, pin.image_size);
    if (table.size == 0) return Status::fail(Err::malformed, "boot params: no DEV table region (docs/dma.md)");
    if (overlap(s2, slb) || overlap(s2, bpr) || overlap(s2, table) || overlap(table, slb) || overlap(table, bpr))
      return Status::fail(Err::malformed, "boot params: SL stage 2, the DEV table, the SLB and the boot params overlap");

    // DEV (or AMD-Vi) over the SLB, the boot params and stage 2 before stage 2 is read (no DMA TOCTOU).
    x86::X86PortBus ports;
    // The DEV first (docs/dma.md); else AMD-Vi blocking every device (the same choice
    // x86::DmaProtectionSelector makes in stage 2 and the hypervisor); else refuse.
    x86::AmdDev dev(ports, mem);
    x86::AmdIommuHw iommu(ports, mem);
    const x86::PhysRange initial[] = {{slb.pa, slb.size}, {bpr.pa, bpr.size}, {s2.pa, s2.size}};
    const Status d = dev.find();
    const Status i = d ? d : iommu.find();
    if (d) {
      REDOUBT_TRY(dev.enable(table.pa, table.size, initial, 3));
    } else if (i) {
      REDOUBT_TRY(iommu.enable(table.pa, table.size, initial, 3));
    } else {
      // Intel TXT (MLE DG App. C.4): SINIT enabled the VT-d low PMR; it must cover these as well. Read
      // here, not with VtdHw (the SLB budget): PMEN.PRS, PLMBASE, PLMLIMIT (VT-d §10.4.16-18; the
      // limit names the last 2 MiB granule). No VT-d unit reads all ones: PLMBASE above everything.
      const volatile uint32_t* pm = reinterpret_cast<const volatile uint32_t*>(arch::vtd::kDefaultBase + arch::vtd::reg::kPmen);
      for (const x86::PhysRange& r : initial)
        if (!(pm[0] & arch::vtd::pmen::kPrs) || r.pa < pm[1] || r.pa + r.size > pm[2] + uint64_t(arch::vtd::kPmrGranularity))
          return Status::fail(Err::unsupported, "no DEV, AMD-Vi or PMR over 0x%llx", (unsigned long long)r.pa);
    }
    con.print("[sl] DMA protection: %s enabled\n", d ? "AMD DEV" : i ? "AMD-Vi" : "VT-d PMR");
    sl::BootParams again;
    REDOUBT_TRY(read_boot_params(again));
    if (std::memcmp(&again, &bp, sizeof bp) != 0)
      return Status::fail(Err::malformed, "boot params changed while the DEV was being enabled (DMA?)");

    // APM vol. 2 §15.27: SKINIT measured SLB[0:length], pin included; the pin names stage 2.
    const uint8_t* image = mem.map(s2.pa, pin.image_size);
    br_sha256_context ctx;
    br_sha256_init(&ctx);
    br_sha256_update(&ctx, image, pin.image_size);
    uint8_t got[32];
    br_sha256_out(&ctx, got);
    if (std::memcmp(got, pin.sha256, 32) != 0)
      return Status::fail(Err::digest_mismatch, "SL stage 2 sha256 %02x%02x%02x%02x... is not the pinned %02x%02x%02x%02x...",
                          got[0], got[1], got[2], got[3], pin.sha256[0], pin.sha256[1], pin.sha256[2], pin.sha256[3]);
    sl::Stage2Header s2h;
    std::memcpy(&s2h, image, sizeof s2h);
    if (std::memcmp(s2h.magic, sl::kStage2Magic, 8) != 0 || s2h.header_size != sizeof s2h ||
        s2h.image_size != pin.image_size || s2h.entry_offset < sizeof s2h || s2h.entry_offset >= pin.image_size)
      return Status::fail(Err::malformed, "SL stage 2 header: bad magic, size or entry offset 0x%x", s2h.entry_offset);
    con.print("[sl] stage 2 verified: %u bytes at 0x%llx match the SLB's pin; entering it\n", pin.image_size,
              (unsigned long long)s2.pa);
    // sl2_entry.S: (slb_base, boot params, stage-2 base); it switches to its own stack.
    using Entry = void(uint64_t, uint64_t, uint64_t);
    reinterpret_cast<Entry*>(s2.pa + s2h.entry_offset)(slb_base, bp_pa, s2.pa);
    return Status::fail(Err::internal, "SL stage 2 returned");
  }
};

// Caps PCR17 and PCR18 with "<err>: <message>" (TPM2_PCR_Event, Part 3 §22.3).
void cap(hal::Console& con, const Status& why) {
  char reason[Status::kMsgCap + 32];
  size_t n = format(reason, sizeof reason, "%s: %s", err_name(why.code()), why.message());
  x86::VolatileMmio regs(arch::tis::kBase);
  x86::TisDriver tis(regs);
  // In the measured image (bss counts in SLB[0:length]): sized for this one command, not a
  // general one. TPM2_PCR_Event with a password session and <= 272 bytes of event data (Part 3
  // §22.3), and its response with up to four bank digests (TPML_DIGEST_VALUES).
  static uint8_t cmd[10 + 4 + 4 + 9 + 2 + Status::kMsgCap + 32], resp[256];
  const uint32_t pcrs[] = {policy::kPcrDrtmDetail, policy::kPcrDrtmAuthority};
  for (uint32_t pcr : pcrs) {
    size_t len = x86::tpm2::build_pcr_event(cmd, sizeof cmd, pcr, reinterpret_cast<const uint8_t*>(reason), n);
    size_t got = 0;
    Status s = tis.transact(policy::kLocalityDlme, cmd, len, resp, sizeof resp, got);
    if (s) s = x86::tpm2::parse_pcr_event(resp, got, policy::kLocalityDlme);
    if (!s) con.print("[sl] could not cap PCR%u: %s\n", pcr, s.message());
  }
  con.print("[sl] LAUNCH REFUSED (%s): %s\n", err_name(why.code()), why.message());
}

}  // namespace

extern "C" [[noreturn]] void sl_stage1_main(uint64_t slb_base, uint64_t boot_params_pa, uint64_t relocations,
                                            uint64_t stack_bottom) {
  x86::SerialConsole console;
  x86::launch_report_init(abi::Stage::sl, &console, nullptr);
  x86::launch_report_stack(stack_bottom, slb_base + 0xFFF0);  // sl_entry.S SLB_STACK_TOP
  console.print("[sl] stage 1 in long mode: SLB at 0x%llx, %llu relocations applied, boot params at 0x%llx\n",
                (unsigned long long)slb_base, (unsigned long long)relocations, (unsigned long long)boot_params_pa);
  Stage1 s1{console, {}, slb_base, boot_params_pa};
  x86::launch_report_init(abi::Stage::sl, &console, x86::sl_checked_outcome(console, s1.mem, slb_base, boot_params_pa));
  Status s = s1.run();
  cap(console, s);
  x86::launch_stop(abi::ExitStatus::launch_refused, s.code(), s.message());
}
