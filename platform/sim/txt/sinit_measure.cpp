#include "platform/sim/txt/sinit_measure.hpp"

#include <cstddef>

#include "arch/intel/acm.hpp"
#include "arch/intel/mle.hpp"
#include "arch/intel/txt_evtypes.hpp"

namespace redoubt::sim {

namespace at = arch::txt;
namespace ev = arch::txt::evtype;

TxtPcrMap select_pcr_map(uint32_t os_sinit_caps, uint32_t acm_caps) {
  return (os_sinit_caps & acm_caps & at::mle_caps::kPcrMapDa) ? TxtPcrMap::details_authorities : TxtPcrMap::legacy;
}

std::vector<uint8_t> sinit_measure(TxtPcrMap map, const BankList& banks, const SinitMeasurement& in, const SinitExtend& extend,
                                   const SinitLog& log) {
  auto bytes = [](const void* p, size_t n) { return std::span<const uint8_t>(static_cast<const uint8_t*>(p), n); };
  // One measurement whose digest is H(data), the data logged as measured.
  auto measure = [&](uint32_t pcr, uint32_t type, std::span<const uint8_t> data) {
    DigestList d = policy::hash_banks(banks, data);
    extend(pcr, d);
    log(pcr, type, d, data);
  };
  const DigestList mle_d = policy::hash_banks(banks, in.mle);
  const at::SinitMleData& smd = in.smd;

  if (map == TxtPcrMap::legacy) {
    // MLE DG "PCR Usage", legacy mapping: PCR17 ← BiosAcmID || EdxSenterFlags || MsegValid || StmHash ||
    // PolicyControl || LcpPolicyHash || OsSinitData.Capabilities || 0 (84 bytes); PCR18 ← H(MLE).
    std::vector<uint8_t> details;
    auto put = [&](const void* p, size_t n) { details.insert(details.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); };
    uint32_t zero = 0;
    put(smd.bios_acm_id, 20); put(&smd.edx_senter_flags, 4); put(&smd.mseg_valid, 8); put(smd.stm_hash, 20);
    put(&smd.policy_control, 4); put(smd.lcp_policy_hash, 20); put(&in.os_sinit_caps, 4); put(&zero, 4);
    measure(17, ev::kCombinedHash, details);
    extend(18, mle_d);
    log(18, ev::kMleHash, mle_d, in.mle_text);
    return details;
  }

  // MLE DG "PCR Usage", details/authorities mapping. PCR17, the details of what was launched: the BIOS
  // ACM registration, the S-CRTM status, the policy control, the policy details (when a policy was
  // enforced), the STM, the capabilities the MLE chose, and the MLE.
  const uint32_t caps = in.os_sinit_caps;
  measure(17, ev::kBiosAcRegData, bytes(smd.bios_acm_id, 20));
  measure(17, ev::kCpuScrtmStat, bytes(&smd.scrtm_status, 4));
  measure(17, ev::kLcpControlHash, bytes(&smd.policy_control, 4));
  if (!in.lcp_policy.empty()) measure(17, ev::kLcpDetailsHash, in.lcp_policy);
  measure(17, ev::kStmHash, bytes(smd.stm_hash, 20));
  measure(17, ev::kOsSinitDataCapHash, bytes(&caps, 4));
  extend(17, mle_d);
  log(17, ev::kMleHash, mle_d, in.mle_text);
  // PCR18, the authorities: the ACM's signing key (modulus || exponent as the header stores them, the
  // bytes whose SHA-256 is the chipset's TXT.PUBLIC.KEY fuse), the S-CRTM status, the capabilities, the
  // policy control, and the policy's authority (Redoubt's LCP is unsigned: the policy itself).
  measure(18, ev::kSinitPubkeyHash, std::span(in.acm).subspan(offsetof(at::AcmHeader, rsa_pub_key), 256 + 4));
  measure(18, ev::kCpuScrtmStat, bytes(&smd.scrtm_status, 4));
  measure(18, ev::kOsSinitDataCapHash, bytes(&caps, 4));
  measure(18, ev::kLcpControlHash, bytes(&smd.policy_control, 4));
  if (!in.lcp_policy.empty()) measure(18, ev::kLcpAuthoritiesHash, in.lcp_policy);
  return {};
}

}  // namespace redoubt::sim
