#include "policy/fs/pcr_map.hpp"

#include "arch/intel/txt_evtypes.hpp"

namespace redoubt::policy {

// TCG PC Client PFP 1.05 §10.4.1 Table 9 (event types) and Redoubt's DRTM block.
const char* event_type_name(uint32_t type) {
  switch (type) {
    case 0x00000000: return "EV_PREBOOT_CERT";
    case 0x00000001: return "EV_POST_CODE";
    case 0x00000002: return "EV_UNUSED";
    case kEvNoAction: return "EV_NO_ACTION";
    case kEvSeparator: return "EV_SEPARATOR";
    case 0x00000005: return "EV_ACTION";
    case 0x00000006: return "EV_EVENT_TAG";
    case 0x00000007: return "EV_S_CRTM_CONTENTS";
    case 0x00000008: return "EV_S_CRTM_VERSION";
    case 0x00000009: return "EV_CPU_MICROCODE";
    case 0x0000000A: return "EV_PLATFORM_CONFIG_FLAGS";
    case 0x0000000B: return "EV_TABLE_OF_DEVICES";
    case 0x0000000C: return "EV_COMPACT_HASH";
    case 0x0000000D: return "EV_IPL";
    case 0x0000000E: return "EV_IPL_PARTITION_DATA";
    case 0x0000000F: return "EV_NONHOST_CODE";
    case 0x00000010: return "EV_NONHOST_CONFIG";
    case 0x00000011: return "EV_NONHOST_INFO";
    case 0x00000012: return "EV_OMIT_BOOT_DEVICE_EVENTS";
    case kEvSkinitSlb: return "EV_REDOUBT_SKINIT_SLB";
    case kEvHvManifest: return "EV_REDOUBT_HV_MANIFEST";
    case kEvHvImage: return "EV_REDOUBT_HV_IMAGE";
    case kEvHvSigner: return "EV_REDOUBT_HV_SIGNER";
    case kEvLaunchPolicy: return "EV_REDOUBT_LAUNCH_POLICY";
    case kEvGuestAnchor: return "EV_REDOUBT_GUEST_ANCHOR";
    case kEvGuestChain: return "EV_REDOUBT_GUEST_CHAIN";
    case kEvGuestManifest: return "EV_REDOUBT_GUEST_MANIFEST";
    case kEvGuestUnsigned: return "EV_REDOUBT_GUEST_UNSIGNED";
    case kEvGuestRefused: return "EV_REDOUBT_GUEST_REFUSED";
    case kEvGuestImage: return "EV_REDOUBT_GUEST_IMAGE";
    case kEvLaunchFailed: return "EV_REDOUBT_LAUNCH_FAILED";
    case kEvHvFailed: return "EV_REDOUBT_HV_FAILED";
    // Intel TXT event types written by SINIT (arch/intel/txt_evtypes.hpp, MLE DG App. "TPM Event Log").
    case arch::txt::evtype::kPcrMapping: return "EV_TXT_PCRMAPPING";
    case arch::txt::evtype::kHashStart: return "EV_TXT_HASH_START";
    case arch::txt::evtype::kCombinedHash: return "EV_TXT_COMBINED_HASH";
    case arch::txt::evtype::kMleHash: return "EV_TXT_MLE_HASH";
    case arch::txt::evtype::kBiosAcRegData: return "EV_TXT_BIOSAC_REG_DATA";
    case arch::txt::evtype::kCpuScrtmStat: return "EV_TXT_CPU_SCRTM_STAT";
    case arch::txt::evtype::kLcpControlHash: return "EV_TXT_LCP_CONTROL_HASH";
    case arch::txt::evtype::kElementsHash: return "EV_TXT_ELEMENTS_HASH";
    case arch::txt::evtype::kStmHash: return "EV_TXT_STM_HASH";
    case arch::txt::evtype::kOsSinitDataCapHash: return "EV_TXT_OSSINITDATA_CAP_HASH";
    case arch::txt::evtype::kSinitPubkeyHash: return "EV_TXT_SINIT_PUBKEY_HASH";
    case arch::txt::evtype::kLcpHash: return "EV_TXT_LCP_HASH";
    case arch::txt::evtype::kLcpDetailsHash: return "EV_TXT_LCP_DETAILS_HASH";
    case arch::txt::evtype::kLcpAuthoritiesHash: return "EV_TXT_LCP_AUTHORITIES_HASH";
    case arch::txt::evtype::kNvInfoHash: return "EV_TXT_NV_INFO_HASH";
    case arch::txt::evtype::kCapValue: return "EV_TXT_CAP_VALUE";
    default: return "EV_UNKNOWN";
  }
}

}  // namespace redoubt::policy
