// The untrusted MLE loader's part of a TXT launch (what tboot's pre-launch code does, MLE DG
// 315168 §2.2 and App. C): place the SINIT ACM, fill the TXT heap (BiosData, OsMleData,
// OsSinitData with an event-log pointer element), build the MLE page tables, program
// TXT.HEAP/SINIT.BASE, and leave the BSP ready for GETSEC[SENTER] (EBX, ECX, EDX, CR4.SMXE).
// SINIT checks all of it; nothing here is trusted.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/sim/machine.hpp"
#include "platform/sim/txt/txt_chipset.hpp"

namespace redoubt::sim {

struct TxtLayout {
  uint64_t acm = 0x00800000;        // SINIT ACM (4 KiB aligned)
  uint64_t heap = 0x00900000;       // TXT heap
  uint64_t heap_size = 0x10000;
  // The TCG 2.0 DRTM log container SINIT writes; 0: the boot params' event log region, which the SL
  // then continues (BootParams::txt_log names the heap element); else a separate container.
  uint64_t log = 0;
  uint64_t log_size = 0x10000;
  uint64_t lcp = 0x00B00000;        // the owner's LCP policy, when there is one
  uint64_t mle_tables = 0x01070000; // PDPT, PD, PT (inside the PMR, below LaunchLayout::sl_stage2)
  uint64_t pmr_low_base = 0x01000000;  // 2 MiB over the SLB, the boot params and the page tables
  uint64_t pmr_low_size = 2ull << 20;
};

// The PMRs tboot asks SINIT for (and what an Intel machine's hypervisor needs for its VT-d take-over,
// platform/x86/drivers/vtd_handoff.hpp): the low PMR over [0, RAM) below 4 GiB, 2 MiB granular, so
// every range the SL hands the hypervisor is DMA-protected from SENTER until translation is on.
inline TxtLayout txt_layout_covering_ram(uint64_t ram_bytes) {
  TxtLayout L;
  L.pmr_low_base = 0;
  L.pmr_low_size = (ram_bytes < (1ull << 32) ? ram_bytes : (1ull << 32)) & ~((2ull << 20) - 1);
  return L;
}

struct TxtLaunchInputs {
  std::vector<uint8_t> acm;         // the SINIT ACM (policy::build_sinit_acm)
  std::vector<uint8_t> lcp_policy;  // arch/intel/lcp.hpp; empty = none
  // OsSinitData.Capabilities: the details/authorities PCR mapping (the default) or, set here, the legacy
  // one (MLE DG Table 2 bit 5 cleared; sinit_measure.hpp).
  bool legacy_pcr_map = false;
  TxtLayout layout;
};

// The MLE is `mle_image` at `mle_base` (already in RAM), `mle_size` bytes mapped; its MLE header is
// found by GUID in its first 4 KiB. `os_mle_boot_params` goes into OsMleData. Returns "" or why not.
std::string lay_out_txt(Machine& m, TxtChipset& chipset, const TxtLaunchInputs& in, uint64_t mle_base,
                        uint64_t mle_size, std::span<const uint8_t> mle_image, uint64_t os_mle_boot_params);

// The heap's HEAP_EVENT_LOG_POINTER_ELEMENT2_1 data (as lay_out_txt placed it) and, after SENTER, the
// bytes SINIT wrote into the container it names: [0, NextRecordOffset).
uint64_t txt_log_element(const TxtLayout& layout);
std::vector<uint8_t> sinit_log(Machine& m, const TxtLayout& layout);

}  // namespace redoubt::sim
