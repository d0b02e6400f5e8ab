// The "secrets in memory" flag of Intel TXT's chipset (Intel TXT Software Development
// Guide 315168, Appendix B.1 "Intel TXT Configuration Registers"): a write of any value to
// TXT.CMD.SECRETS (private space) sets it, to TXT.CMD.NO-SECRETS clears it; it survives a
// warm reset (TXT.E2STS.SECRETS_STS), and while it is set after a reset the chipset blocks
// memory until an ACM has scrubbed it — the role the TCG Platform Reset Attack Mitigation
// spec gives firmware's Memory Overwrite Request (MOR) on other platforms.
// Redoubt's hypervisor sets it before the first guest byte is loaded and clears it after the
// final scrub; the simulated AMD platform offers these three registers as its reset-attack
// mitigation (docs/isolation.md "Remanence"), with these semantics.
#pragma once
#include <cstdint>

namespace redoubt::arch::txt {

inline constexpr uint64_t kPrivateBase = 0xFED20000;  // TXT private configuration space
inline constexpr uint64_t kPublicBase = 0xFED30000;   // TXT public configuration space (read-only view)
inline constexpr uint64_t kSpaceSize = 0x10000;

inline constexpr uint64_t kCmdSecrets = 0x8E0;    // TXT.CMD.SECRETS (write-only)
inline constexpr uint64_t kCmdNoSecrets = 0x8E8;  // TXT.CMD.NO-SECRETS (write-only)
inline constexpr uint64_t kE2sts = 0x8F0;         // TXT.E2STS (read)

namespace e2sts {
inline constexpr uint64_t kSecretsSts = 1ull << 1;  // SECRETS_STS: set by CMD.SECRETS, sticky across warm reset
}  // namespace e2sts

static_assert(kCmdNoSecrets == kCmdSecrets + 8 && kE2sts == kCmdSecrets + 0x10);

}  // namespace redoubt::arch::txt
