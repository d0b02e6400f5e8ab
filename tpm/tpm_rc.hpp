// TPM_RC / TSS2_RC naming and the one way every backend reports a failed call.
#pragma once
#include <cstdint>
#include <string>

namespace redoubt::tpm {

// "TPM_RC_LOCALITY" for 0x907, "TPM_RC_HANDLE (handle 1)" for 0x18b; falls back to
// Tss2_RC_Decode for anything not in the table (TSS layer errors, vendor codes).
std::string tpm_rc_name(uint32_t rc);

// A TCTI that fails a call (C code: it can only return a TSS2_RC) leaves the reason here for
// this thread; the next throw_tpm_rc with a TCTI-layer code appends it ("...: <why>") and
// every throw_tpm_rc clears it. TCTIs clear it at the start of each transmit.
void note_tcti_failure(std::string why);

// Throws TpmError("<what> at locality <loc>: <NAME> (0x<rc>)", rc).
[[noreturn]] void throw_tpm_rc(const std::string& what, uint8_t locality, uint32_t rc);

// Checks an ESAPI/TCTI return code; no-op on success.
inline void check_rc(uint32_t rc, const std::string& what, uint8_t locality) {
  if (rc != 0) throw_tpm_rc(what, locality, rc);
}

}  // namespace redoubt::tpm
