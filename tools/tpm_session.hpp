// Opening the TPM a command asked for, with the owner's one-time provisioning.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "tools/tpm_state_guard.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tools {

// Parses --tpm and fills in the state directory: inproc keeps its NV in
// <state>/tpm-inproc, a spawned swtpm in <state>/tpm-swtpm (unless the spec
// names one). Throws std::invalid_argument for a bad spec, TpmError if unreachable,
// TpmStateLost if a software TPM's state was lost and !new_tpm (tools/tpm_state_guard.hpp).
// `check`, if given, receives what became of the TPM's state (launch.json "tpm_state");
// `say` prints the guard's line when a TPM was manufactured.
std::unique_ptr<tpm::TpmDevice> open_tpm_session(const std::string& spec, const std::filesystem::path& state, bool new_tpm = false,
                                                 TpmStateCheck* check = nullptr,
                                                 const std::function<void(const std::string&)>& say = {});

// The platform owner's provisioning step: define the hypervisor anti-rollback
// counter if this TPM has none (docs/anti-rollback.md). Returns its value.
uint64_t ensure_svn_counter(tpm::TpmDevice& tpm, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
