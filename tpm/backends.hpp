// Internal: the backend factories behind open_tpm, and ESAPI steps they share.
#pragma once
#include <memory>

#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

std::unique_ptr<TpmDevice> make_inproc_tpm(const TpmSpec& spec);
std::unique_ptr<TpmDevice> make_swtpm_tpm(const TpmSpec& spec);
std::unique_ptr<TpmDevice> make_device_tpm(const TpmSpec& spec);

// TPM2_Startup(CLEAR).
void tpm_startup_clear(ESYS_CONTEXT* esys, uint8_t locality);

// Flushes every loaded transient object (TPM2_GetCapability(HANDLES) + FlushContext),
// so that _TPM_Hash_Start does not evict one behind its owner's back.
void flush_transients(ESYS_CONTEXT* esys, uint8_t locality);

}  // namespace redoubt::tpm
