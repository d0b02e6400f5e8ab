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

// --platform qemu's TPM: a private swtpm behind the QEMU bridge, NV in <state>/tpm-qemu.
inline constexpr char kQemuTpmSpec[] = "qemu-swtpm";
// The --tpm spec a platform uses: `tpm_spec` on the simulator; kQemuTpmSpec for qemu
// (std::invalid_argument if another TPM was asked for there).
std::string tpm_spec_for(const std::string& platform, const std::string& tpm_spec);

// The platform owner's provisioning step: define the hypervisor anti-rollback
// counter if this TPM has none (docs/anti-rollback.md). Returns its value.
uint64_t ensure_svn_counter(tpm::TpmDevice& tpm, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
