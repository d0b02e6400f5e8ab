// An LCP-like launch control policy (Redoubt's reduced form of the MLE DG's Launch Control Policy,
// ch. 3 / the LCP policy data file): the platform owner lists the MLEs SINIT may launch by SHA-256.
// OsSinitData.LCPPOBase/Size name it; SINIT refuses an MLE whose hash is not listed and measures the
// policy (SinitMleData.LcpPolicyHash, PCR17). Pure data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::txt {

struct LcpPolicyHeader {
  uint8_t magic[8];         // "RDBTLCP1"
  uint32_t version;         // 1
  uint32_t policy_control;  // copied into SinitMleData.PolicyControl and the PCR17 details
  uint32_t mle_count;       // SHA-256 digests that follow, at most kLcpMaxMles
  uint32_t reserved;        // 0
};
static_assert(sizeof(LcpPolicyHeader) == 24 && offsetof(LcpPolicyHeader, mle_count) == 16);
inline constexpr uint8_t kLcpMagic[8] = {'R', 'D', 'B', 'T', 'L', 'C', 'P', '1'};
inline constexpr uint32_t kLcpVersion = 1;
inline constexpr uint32_t kLcpMaxMles = 64;

}  // namespace redoubt::arch::txt
