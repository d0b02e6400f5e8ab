// What SINIT extends into PCR17/18 and logs, under either PCR mapping of the MLE DG (315168 rev. 017,
// "PCR Usage"): the legacy mapping (PCR17 = HASH_START, the combined details; PCR18 = the MLE) or the
// details/authorities mapping (PCR17 = what was launched and how, PCR18 = who vouched for it).
// docs/pcr-map.md "Intel TXT (SENTER)" lists both, event by event.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "arch/intel/txt_heap.hpp"
#include "policy/fs/hash.hpp"

namespace redoubt::sim {

enum class TxtPcrMap { legacy, details_authorities };

// MLE DG Table 2 bits 4/5: D/A when the MLE asks for it (OsSinitData.Capabilities.PCR_MAP_DA) and the
// ACM supports it (its information table's capabilities); else legacy. (On TPM 2.0 real SINITs offer D/A
// only; the simulator keeps legacy selectable so both layouts stay testable.)
TxtPcrMap select_pcr_map(uint32_t os_sinit_caps, uint32_t acm_caps);

struct SinitMeasurement {
  const std::vector<uint8_t>& acm;           // the whole module (its header holds the signing key)
  const std::vector<uint8_t>& mle;           // MLE[MleStart:MleEnd]
  std::span<const uint8_t> mle_text;         // the MLE event's description
  const std::vector<uint8_t>& lcp_policy;    // empty: no owner policy
  const arch::txt::SinitMleData& smd;        // BiosAcmID, STM hash, PolicyControl, S-CRTM status
  uint32_t os_sinit_caps = 0;                // OsSinitData.Capabilities as the MLE gave it
};

// extend(pcr, digests) then log(pcr, type, digests, data) for each of SINIT's measurements, in order
// (HASH_START, the processor's, is not one: the caller logged it). Returns the legacy details bytes (else empty).
using SinitExtend = std::function<void(uint32_t pcr, const DigestList& d)>;
using SinitLog = std::function<void(uint32_t pcr, uint32_t type, const DigestList& d, std::span<const uint8_t> data)>;
std::vector<uint8_t> sinit_measure(TxtPcrMap map, const BankList& banks, const SinitMeasurement& in, const SinitExtend& extend,
                                   const SinitLog& log);

}  // namespace redoubt::sim
