// GETSEC[CAPABILITIES] and GETSEC[SENTER] (Intel SDM vol. 2D, "GETSEC—Safer Mode Extensions") acting
// on the simulated machine, and SINIT (the chipset's authenticated code module) as simulator logic,
// as the MLE DG (Intel TXT Software Development Guide 315168) describes what it does: docs/intel.md
// "TXT launch, as the simulator executes it".
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "arch/intel/sinit_errors.hpp"
#include "platform/sim/skinit.hpp"  // CpuFault, TpmDevice
#include "platform/sim/txt/sinit_measure.hpp"
#include "platform/sim/txt/txt_chipset.hpp"

namespace redoubt::sim {

struct GetsecResult {
  std::optional<CpuFault> fault;  // set: GETSEC raised this fault and changed nothing
  uint32_t eax = 0;               // CAPABILITIES: the capability bits
};

// A write of `size` bytes at physical `pa` on the platform's bus (the VT-d PMR registers);
// returns false when nothing claimed the address.
using MmioWriter = std::function<bool(uint64_t pa, unsigned size, uint64_t value)>;

struct TxtMachine {
  CpuState& cpu;                 // the ILP (BSP)
  std::vector<CpuState>& aps;    // the RLPs
  PhysicalMemory& mem;
  TpmDevice& tpm;
  TxtChipset& chipset;
  MmioWriter mmio;               // may be empty: the PMR writes then hit nothing
  bool smx_supported = true;     // CPUID.1:ECX.SMX
  bool chipset_present = true;   // a TXT-capable chipset (GETSEC[CAPABILITIES] bit 0)
  // Test-only: turn one protection off to show the refusal tests fail without it. Never set
  // outside tests/platform/sim/txt.
  struct TestOnlyOff {
    bool acm_signature = false;  // accept any ACM signature (the key hash is still compared)
    bool pmr_coverage = false;   // accept PMRs that do not cover the MLE
    bool rlp_state = false;      // accept RLPs that are not in wait-for-SIPI
  } test_only_off;
};

struct SenterResult {
  std::optional<CpuFault> fault;                 // GETSEC faulted: nothing changed
  arch::txt::TxtError error = arch::txt::TxtError::none;  // launch refused: TXT shutdown, code in TXT.ERRORCODE
  std::string message;                           // why, for a human
  std::vector<uint8_t> acm;                      // the module the processor measured (HASH_START)
  uint64_t mle_base = 0;                         // physical base of the MLE (first page)
  uint64_t mle_size = 0;
  uint64_t mle_entry = 0;                        // where the MLE starts (EIP)
  std::vector<uint8_t> mle_measured;             // MLE[mle_start:mle_end], what PCR18 measures
  TxtPcrMap pcr_map = TxtPcrMap::legacy;         // the PCR mapping SINIT used (sinit_measure.hpp)
  std::vector<uint8_t> details;                  // legacy mapping: the PCR17 details event data
  std::vector<uint8_t> lcp_policy;               // the owner policy SINIT enforced (empty: none)
  size_t log_bytes = 0;                          // event log bytes written
  unsigned pmr_writes_unclaimed = 0;             // PMR register writes nothing on the bus claimed
  bool ok() const { return !fault && error == arch::txt::TxtError::none; }
};

GetsecResult getsec_capabilities(TxtMachine& m);

// GETSEC[SENTER] with EBX = SINIT base, ECX = SINIT size, EDX = 0 (SDM vol. 2D). On success the BSP
// is in the MLE launch state at locality 2; on a refusal the TXT error is in TXT.ERRORCODE, ESTS has
// TXT_RESET_STS, and PCR17/18 hold no launch (all-ones when the processor refused the module, a cap
// event after HASH_START when SINIT refused the environment).
SenterResult getsec_senter(TxtMachine& m);

// SINIT's part (sinit.cpp), after the processor authenticated and measured the module.
void run_sinit(TxtMachine& m, SenterResult& r);

}  // namespace redoubt::sim
