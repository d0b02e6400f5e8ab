// TPM2_MakeCredential in software (OpenSSL), for the verifier: TPM 2.0 Part 1
// §24 "Credential Protection" with the ECC secret sharing of Part 1 §11.4.10.3
// (KDFe, one-pass ECDH with an ephemeral key) and Annex C.6.4 ("ECC secret
// sharing for credentials"). The endpoint recovers the secret with
// TPM2_ActivateCredential (Part 3 §12.5) only if its EK and the named AK are
// resident in the same TPM.
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <span>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

// KDFa (Part 1 §11.4.10.2): HMAC_hash(key, i || label || 0 || ctxU || ctxV || bits), i = 1, 2, ...
Bytes kdfa(TPMI_ALG_HASH hash, std::span<const uint8_t> key, const char* label, std::span<const uint8_t> context_u,
           std::span<const uint8_t> context_v, uint32_t bits);
// KDFe (Part 1 §11.4.10.3): H(i || Z || label || 0 || partyU || partyV).
Bytes kdfe(TPMI_ALG_HASH hash, std::span<const uint8_t> z, const char* label, std::span<const uint8_t> party_u,
           std::span<const uint8_t> party_v, uint32_t bits);

struct MadeCredential {
  TPM2B_ID_OBJECT credential_blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
};

// Wraps `credential` (≤ the EK nameAlg's digest size) for the object named
// `object_name` (the AK name), to the ECC P-256/P-384 or RSA-2048/3072 EK `ek`
// (restricted decrypt, AES-CFB symmetric; RSA: the seed RSA-OAEP-encrypted,
// Part 1 Annex B.10.3). Throws AttestError("unsupported_ek") otherwise.
MadeCredential make_credential(const TPMT_PUBLIC& ek, std::span<const uint8_t> object_name, std::span<const uint8_t> credential);

Bytes marshal_id_object(const TPM2B_ID_OBJECT& o);
Bytes marshal_encrypted_secret(const TPM2B_ENCRYPTED_SECRET& s);
TPM2B_ID_OBJECT unmarshal_id_object(std::span<const uint8_t> b);
TPM2B_ENCRYPTED_SECRET unmarshal_encrypted_secret(std::span<const uint8_t> b);

}  // namespace redoubt::attest
