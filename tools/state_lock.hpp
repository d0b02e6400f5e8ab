// One redoubt at a time on a software TPM's state (docs/running.md "One command per state
// directory"): two processes driving one libtpms/swtpm NV state at once corrupt each other's
// sessions (TPM_RC_FAILURE, with no hint). The lock is flock(2) on DIR.lock next to the TPM's
// state directory, held until the process exits; a second command waits for it, saying who
// holds it, and gives up with exit 3 after REDOUBT_STATE_LOCK_WAIT_S seconds (default 300).
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace redoubt::tools {

// Takes (or, if this process holds it already, keeps) the lock of `tpm_state_dir`.
// Throws InputError naming the holder when it stays busy.
void lock_state_dir(const std::filesystem::path& tpm_state_dir, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
