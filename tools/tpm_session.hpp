// Opening the TPM a command asked for, with the owner's one-time provisioning.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "tpm/tpm_device.hpp"

namespace redoubt::tools {

// Parses --tpm and fills in the state directory: inproc keeps its NV in
// <state>/tpm-inproc, a spawned swtpm in <state>/tpm-swtpm (unless the spec
// names one). Throws std::invalid_argument for a bad spec, TpmError if unreachable.
std::unique_ptr<tpm::TpmDevice> open_tpm_session(const std::string& spec, const std::filesystem::path& state);

// The platform owner's provisioning step: define the hypervisor anti-rollback
// counter if this TPM has none (docs/anti-rollback.md). Returns its value.
uint64_t ensure_svn_counter(tpm::TpmDevice& tpm, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
