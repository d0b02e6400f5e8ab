// The simulator's own TPM manufacturer CA (OpenSSL): created once in a
// directory (ca.key.pem, ca.cert.pem), it issues the EK certificate of an
// inproc libtpms TPM the way a TPM vendor does at manufacture (TCG EK
// Credential Profile 2.0 §3: X.509 v3, tcg-kp-EKCertificate EKU 2.23.133.8.1).
// swtpm gets its EK certificates from swtpm_setup's local CA instead.
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <filesystem>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

struct ManufacturerCa {
  std::filesystem::path key_pem, cert_pem;
};

// Creates the CA in `dir` if it is not there yet (concurrent callers: the
// first complete writer wins, files are renamed into place).
ManufacturerCa ensure_sim_manufacturer_ca(const std::filesystem::path& dir);

// An EK certificate (DER) for `ek` signed by `ca`.
Bytes issue_ek_certificate(const ManufacturerCa& ca, const TPMT_PUBLIC& ek, const std::string& serial_hint);

// The certificate is stored in the TPM's NV like a manufacturer does: see ek_nv.hpp.

}  // namespace redoubt::attest
