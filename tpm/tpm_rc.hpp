// TPM_RC / TSS2_RC naming and the one way every backend reports a failed call.
#pragma once
#include <cstdint>
#include <string>

namespace redoubt::tpm {

// "TPM_RC_LOCALITY" for 0x907, "TPM_RC_HANDLE (handle 1)" for 0x18b; falls back to
// Tss2_RC_Decode for anything not in the table (TSS layer errors, vendor codes).
std::string tpm_rc_name(uint32_t rc);

// Throws TpmError("<what> at locality <loc>: <NAME> (0x<rc>)", rc).
[[noreturn]] void throw_tpm_rc(const std::string& what, uint8_t locality, uint32_t rc);

// Checks an ESAPI/TCTI return code; no-op on success.
inline void check_rc(uint32_t rc, const std::string& what, uint8_t locality) {
  if (rc != 0) throw_tpm_rc(what, locality, rc);
}

}  // namespace redoubt::tpm
