// The Intel TXT event types SINIT logs (MLE DG 315168 rev. 017, App. "TPM Event Log": TXT event
// types EVTYPE_BASE + n, 0x400-0x4FF) and the OsSinitData.Capabilities PCR-mapping rule. Pure data.
#pragma once
#include <cstdint>

namespace redoubt::arch::txt::evtype {

inline constexpr uint32_t kBase = 0x400;
inline constexpr uint32_t kPcrMapping = 0x401;
inline constexpr uint32_t kHashStart = 0x402;         // PCR17: the SINIT ACM, measured by the processor
inline constexpr uint32_t kCombinedHash = 0x403;      // PCR17, legacy mapping: the details (SinitMleData fields)
inline constexpr uint32_t kMleHash = 0x404;           // the MLE: PCR18 (legacy) or PCR17 (details/authorities)
inline constexpr uint32_t kBiosAcRegData = 0x40A;     // PCR17 (D/A): BiosData's BIOS ACM registration (BiosAcmID)
inline constexpr uint32_t kCpuScrtmStat = 0x40B;      // PCR17 and PCR18 (D/A): the S-CRTM status
inline constexpr uint32_t kLcpControlHash = 0x40C;    // PCR17 and PCR18 (D/A): the policy's PolicyControl
inline constexpr uint32_t kElementsHash = 0x40D;
inline constexpr uint32_t kStmHash = 0x40E;           // PCR17 (D/A): the STM (none: 20 zero bytes)
inline constexpr uint32_t kOsSinitDataCapHash = 0x40F;  // PCR17 and PCR18 (D/A): OsSinitData.Capabilities
inline constexpr uint32_t kSinitPubkeyHash = 0x410;   // PCR18 (D/A): the key that signed the SINIT ACM
inline constexpr uint32_t kLcpHash = 0x411;           // legacy: the LCP policy SINIT enforced
inline constexpr uint32_t kLcpDetailsHash = 0x412;    // PCR17 (D/A): the policy details SINIT matched
inline constexpr uint32_t kLcpAuthoritiesHash = 0x413;  // PCR18 (D/A): who authorised the policy
inline constexpr uint32_t kNvInfoHash = 0x414;        // PCR18 (D/A): TPM NV index info (not simulated)
inline constexpr uint32_t kCapValue = 0x4FF;          // PCR17 and PCR18: a failed launch's cap

}  // namespace redoubt::arch::txt::evtype
