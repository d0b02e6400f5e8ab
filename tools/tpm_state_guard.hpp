// A software TPM (inproc libtpms, a spawned swtpm) keeps its NV — the
// anti-rollback counters among it — in a file that software can delete; a new
// TPM would then start every counter again at 1 and an old, vulnerable
// hypervisor would launch again. This guard makes that loss visible
// (docs/tpm-state.md): a journal kept beside (not inside) the TPM's state
// directory records every manufacture; when the journal says a TPM was made
// there but its NV state is gone, the TPM is not opened unless the owner asks
// for a new one (--new-tpm), and the new generation is recorded in the journal
// and in launch.json.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/common.hpp"

namespace redoubt::tools {

// The NV state of this TPM is gone but its journal says it existed: exit code 3.
class TpmStateLost : public InputError {
 public:
  using InputError::InputError;
};

struct TpmStateCheck {
  bool guarded = false;         // a software TPM whose state directory we manage
  std::string status;           // existing | manufactured (first use) | remanufactured (--new-tpm after a loss)
                                // | adopted (state from before the journal) | external (a device or a running swtpm)
  uint64_t generation = 0;      // 1 for the first TPM of the state directory, +1 for each --new-tpm
  std::string manufactured_at;  // RFC 3339 UTC of this generation's manufacture ("" if unknown)
  std::filesystem::path state_dir, journal;
  nlohmann::json to_json() const;
};

// Before the TPM is opened. Throws TpmStateLost when the journal records a TPM in
// state_dir but its NV file is missing and !new_tpm.
TpmStateCheck check_tpm_state(const std::filesystem::path& state_dir, bool new_tpm);

// After the TPM opened (and manufactured itself, if it had to): writes the journal
// for a manufactured, remanufactured or adopted TPM. Returns a line for the console ("" if nothing happened).
std::string record_tpm_state(TpmStateCheck& c);

// The journal of a TPM state directory: "<dir>.journal.json", next to it.
std::filesystem::path tpm_journal_path(const std::filesystem::path& state_dir);

}  // namespace redoubt::tools
