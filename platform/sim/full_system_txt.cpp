// The full-system machine's TXT launch: the untrusted loader lays out the same images as for
// SKINIT plus the TXT structures (txt/txt_layout.hpp), the BSP executes GETSEC[SENTER]
// (txt/senter.hpp: the processor authenticates and measures the SINIT ACM, SINIT validates,
// measures the MLE = sl.bin and programs the PMRs through the bus), and the CPU executes sl.bin
// from its MLE entry (platform/x86/sl_entry.S sl_mle_entry) — docs/intel.md "The SL as MLE".
#include <cstring>

#include "abi/slb_layout.hpp"
#include "arch/intel/mle.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/txt/senter.hpp"
#include "platform/sim/devices/intel_vtd.hpp"

namespace redoubt::sim {

namespace {

std::string hex64(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

LaunchReport FullSystem::launch_txt(const LaunchInputs& in, const TxtLaunchInputs& txt, TxtChipset& chipset) {
  LaunchReport r;
  r.mode = "full-system";
  r.drtm = "senter";
  const LaunchLayout& L = in.layout;
  auto refuse = [&r](const std::string& stage, const std::string& why) {
    r.launched = false;
    r.stage = stage;
    r.reason = why;
    return r;
  };
  if (std::string why = lay_out(m_, in, [&](const std::string& l) { sink_(l); }); !why.empty())
    return refuse("loader", why);
  if (std::string why = lay_out_txt(m_, chipset, txt, L.slb_base, sl::kSlbSize, in.sl_image, L.boot_params); !why.empty())
    return refuse("loader", why);
  r.slb_region = m_.mem().read(L.slb_base, sl::kSlbSize);

  CpuState& bsp = m_.bsp();
  if (vmx_) {
    // SDM vol. 2D GETSEC[SENTER], "Operation": #GP(0) unless IA32_FEATURE_CONTROL is locked with
    // the SENTER global enable (bit 15) set.
    namespace fc = redoubt::vmx::feature_control;
    const uint64_t f = vmx_->feature_control();
    if (!(f & fc::kLock) || !(f & fc::kSenterGlobalEnable)) {
      r.fault = CpuFault{13, 0, "#GP(0) at GETSEC[SENTER]"};
      return refuse("senter", "GETSEC[SENTER] raised #GP(0): IA32_FEATURE_CONTROL " + hex64(f) +
                                  " is not locked with SENTER enabled (bits 0 and 15)");
    }
  }
  TxtMachine tm{bsp, m_.aps(), m_.mem(), tpm_, chipset,
                [this](uint64_t pa, unsigned size, uint64_t v) { return bus_.mmio_write(pa, size, v); }};
  sink_("[loader] GETSEC[SENTER] EBX=" + hex64(bsp.rbx) + " ECX=" + hex64(bsp.rcx));
  const auto t0 = std::chrono::steady_clock::now();
  SenterResult s = getsec_senter(tm);
  if (s.fault) {
    r.fault = s.fault;
    return refuse("senter", "GETSEC[SENTER] raised " + s.fault->name() + ": " + s.fault->why);
  }
  if (!s.ok()) return refuse("senter", s.message + " (TXT.ERRORCODE " + hex64(chipset.read(arch::txt::kErrorCode)) + ")");
  r.slb_length = static_cast<uint16_t>(s.mle_measured.size());
  r.slb_entry = static_cast<uint16_t>(s.mle_entry - s.mle_base);
  sink_("[cpu] SENTER: SINIT ACM (" + std::to_string(s.acm.size()) + " bytes) authenticated and measured into PCR17; MLE at " +
        hex64(s.mle_base) + ", " + std::to_string(s.mle_measured.size()) + " bytes measured into " +
        (s.pcr_map == TxtPcrMap::legacy ? "PCR18" : "PCR17") + "; PMR writes " +  // MLE DG: legacy PCR18, D/A PCR17
        (s.pmr_writes_unclaimed ? "unclaimed (no VT-d unit on this bus)" : "done") + "; entry " + hex64(bsp.rip) +
        "; executing sl.bin at locality 2");
  tis_->set_established(true);  // TPM_ACCESS.tpmEstablishment after a DRTM sequence (PTP §6)
  cpu_->smx = true;             // SENTER leaves CR4.SMXE set; the MLE keeps it (SDM vol. 2D GETSEC)
  if (vmx_) vmx_->smx_operation = true;  // until SEXIT (not modelled): VMXON needs "VMX inside SMX"
  if (vtd_)  // what SINIT left in the VT-d unit (VT-d §10.4.16-18): the MLE's only DMA protection now
    sink_("[chipset] VT-d PMRs " + std::string(vtd_->pmr_enabled() ? "enabled" : "off") + ": low [" +
          hex64(vtd_->mmio_read(arch::txt::kVtdPlmbase, 4)) + ", " + hex64(vtd_->mmio_read(arch::txt::kVtdPlmlimit, 4)) +
          "] (2 MiB granules), translation " + (vtd_->translation_enabled() ? "on" : "off"));
  enter_from_skinit(bsp);       // the same register transfer: SINIT's launch state -> the CPU model
  return run_launched(std::move(r), in, t0);
}

}  // namespace redoubt::sim
