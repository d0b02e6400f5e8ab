// The Redoubt PCR map and DRTM event types (docs/pcr-map.md is the prose).
#pragma once
#include <cstdint>

namespace redoubt::policy {

// PCR roles (design "PCR map"). Dynamic PCRs: TCG PC Client PTP §4.6 /
// PFP §2.3.4 — PCR17-22 are reset only by the locality-4 hash sequence.
inline constexpr uint32_t kPcrDrtmDetail = 17;     // SLB, hypervisor image, launch policy
inline constexpr uint32_t kPcrDrtmAuthority = 18;  // hypervisor signer, guest trust anchors
inline constexpr uint32_t kPcrGuestAuthority = 19;
inline constexpr uint32_t kPcrGuestDetail = 20;

// Localities (TCG PC Client PTP §6.5.2.1 / design): CPU at 4, SL + hypervisor at 2.
inline constexpr uint8_t kLocalityCpu = 4;
inline constexpr uint8_t kLocalityDlme = 2;

// Event types. EV_NO_ACTION / EV_SEPARATOR are TCG PFP §10.4.1 (Table 9);
// the DRTM events are Redoubt's own (there is no TCG-registered AMD DRTM set),
// in a block that does not collide with PFP or the Intel TXT 0x400 range.
inline constexpr uint32_t kEvNoAction = 0x00000003;
inline constexpr uint32_t kEvSeparator = 0x00000004;
inline constexpr uint32_t kEvRedoubtBase = 0x00000600;
inline constexpr uint32_t kEvSkinitSlb = 0x00000601;       // PCR17: SLB[0:len], measured by the CPU
inline constexpr uint32_t kEvHvManifest = 0x00000602;      // PCR17: manifest payload (event = payload)
inline constexpr uint32_t kEvHvImage = 0x00000603;         // PCR17: hypervisor image bytes
inline constexpr uint32_t kEvHvSigner = 0x00000604;        // PCR18: signer public key (event = SEC1 point)
inline constexpr uint32_t kEvLaunchPolicy = 0x00000605;    // PCR17: launch policy (issue 4)
inline constexpr uint32_t kEvGuestAnchor = 0x00000606;     // PCR18: guest trust anchor (issue 4)
// Guest events (issue 4, docs/trust-model.md), extended by the hypervisor at locality 2.
inline constexpr uint32_t kEvGuestChain = 0x00000607;      // PCR19: signer chain (event = x5chain CBOR item)
inline constexpr uint32_t kEvGuestManifest = 0x00000608;   // PCR20: guest manifest payload (event = payload)
inline constexpr uint32_t kEvGuestUnsigned = 0x00000609;   // PCR19: "unsigned guest NAME" (policy allows it)
inline constexpr uint32_t kEvGuestRefused = 0x0000060A;    // PCR19+20: "guest NAME refused: reason: detail"
inline constexpr uint32_t kEvGuestImage = 0x0000060B;      // PCR20: unsigned guest kernel/initrd (digest = H(bytes))
inline constexpr uint32_t kEvLaunchFailed = 0x000006FF;    // PCR17+18: reason (event = ASCII reason)
// The hypervisor itself failed after the hand-off (issue 11): PCR17, 18, 19 and 20 in that
// order, digest = H(reason), event = the ASCII reason. Every DRTM PCR a verifier reads shows it.
inline constexpr uint32_t kEvHvFailed = 0x000006FE;

// NV indices (owner range, TPM 2.0 Part 2 §13.? / TCG handle registry: 0x01xxxxxx).
inline constexpr uint32_t kNvHvSvnCounter = 0x01500000;    // TPM_NT_COUNTER: minimum hypervisor SVN
// Guest SVN floors: one TPM_NT_COUNTER per guest name, at base + SHA-256(name)[0]
// (256 slots; two names in one slot share the higher floor, which can only refuse
// more, never admit a rollback). An undefined counter is a floor of 0.
inline constexpr uint32_t kNvGuestSvnBase = 0x01500100;
inline constexpr uint32_t kNvGuestSvnSlots = 256;

const char* event_type_name(uint32_t type);

}  // namespace redoubt::policy
