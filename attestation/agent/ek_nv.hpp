// EK certificates in TPM NV, where a real TPM keeps them (TCG EK Credential
// Profile 2.0 §2.2.1.5): read them back like any endpoint, and — for the
// simulator's inproc TPM only — write one there as its manufacturer would.
#pragma once
#include <cstdint>
#include <optional>

#include "attestation/agent/sim_manufacturer_ca.hpp"
#include "attestation/agent/tpm_identity.hpp"
#include "attestation/common/encoding.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::attest {

// EK Credential Profile 2.0 §2.2.1.5.1 (low range) / §2.2.1.5.2 (high range).
inline constexpr uint32_t kNvEkCertRsa2048 = 0x01c00002;
inline constexpr uint32_t kNvEkCertEccP256 = 0x01c0000a;
inline constexpr uint32_t kNvEkCertEccP384 = 0x01c00016;  // swtpm 0.7's ECC EK (template H-4)

// The attributes a manufacturer gives an EK certificate index (the same as
// swtpm_setup's): written and read by the platform, readable by owner and with
// the index's (empty) authValue, no DA, deleted only by the platform, lockable
// for good with NV_WriteLock (WRITEDEFINE).
inline constexpr uint32_t kEkCertNvAttributes = TPMA_NV_PPWRITE | TPMA_NV_WRITEDEFINE | TPMA_NV_PPREAD | TPMA_NV_OWNERREAD |
                                                TPMA_NV_AUTHREAD | TPMA_NV_NO_DA | TPMA_NV_PLATFORMCREATE;

// The whole content of an NV index (TPM2_NV_ReadPublic + TPM2_NV_Read in
// chunks, authorised by the index's empty authValue); nullopt if the index is
// not defined. Throws TpmError if it is defined but not written or unreadable.
std::optional<Bytes> nv_read_blob(tpm::TpmDevice& tpm, uint32_t index);

// Defines `index` with kEkCertNvAttributes under platform authorisation,
// writes `data` and write-locks it. An existing index is undefined first.
void nv_store_ek_certificate(tpm::TpmDevice& tpm, uint32_t index, std::span<const uint8_t> data);

// The EK certificate of `id`'s EK, read from its NV index (id.ek_cert_index()).
// It must certify exactly that EK. If it is missing or certifies another key
// and `sim_ca` is given (the inproc simulator), the simulator CA issues one and
// it is stored in NV first; otherwise AttestError("no_ek_certificate").
Bytes ek_certificate_from_nv(tpm::TpmDevice& tpm, TpmIdentity& id, const ManufacturerCa* sim_ca);

}  // namespace redoubt::attest
