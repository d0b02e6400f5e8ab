// TPM public areas on the host: the EK and AK templates, (un)marshalling,
// object names and conversion to OpenSSL keys.
#pragma once
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include <span>
#include <string>

#include "attestation/common/encoding.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::attest {

// TCG EK Credential Profile 2.0 §2.1.5.2, Template L-2: ECC NIST P-256 EK,
// restricted decrypt, adminWithPolicy with PolicySecret(TPM_RH_ENDORSEMENT) ("policy A").
TPM2B_PUBLIC ek_template_ecc_p256();
// The attestation key: ECC P-256, restricted signing, ECDSA-SHA256, created as a
// primary under the ENDORSEMENT hierarchy (so clockInfo is not obfuscated in quotes).
TPM2B_PUBLIC ak_template_ecc_p256();

// TPM2B_PUBLIC wire form (TPM 2.0 Part 2 §12.2.5). unmarshal throws
// AttestError("malformed_public") for bad or trailing bytes.
Bytes marshal_public(const TPM2B_PUBLIC& p);
TPM2B_PUBLIC unmarshal_public(std::span<const uint8_t> b, const char* what = "public area");

// Object name: nameAlg (big-endian u16) || H_nameAlg(TPMT_PUBLIC) (Part 1 §16).
Bytes tpm_object_name(const TPMT_PUBLIC& p);

// Qualified Name of a primary object (Part 1 §16): nameAlg || H_nameAlg(hierarchy handle || Name).
// The quote's qualifiedSigner is the AK's QN; Redoubt's AK is a primary of TPM_RH_ENDORSEMENT.
Bytes tpm_primary_qualified_name(TPM2_HANDLE hierarchy, const TPMT_PUBLIC& p);
// Part 1 §16: QN(child) = nameAlg || H_nameAlg(QN(parent) || Name(child)), nameAlg the child's.
Bytes tpm_child_qualified_name(std::span<const uint8_t> parent_qn, const TPMT_PUBLIC& p);

// The public key of an ECC (P-256/P-384) or RSA public area, for OpenSSL.
policy::EvpKey public_to_evp(const TPMT_PUBLIC& p);
std::string public_key_pem(const policy::EvpKey& k);  // SubjectPublicKeyInfo PEM
policy::EvpKey public_key_from_pem(const std::string& pem);

// Digest size of a TPM hash algorithm id (0 if unknown) and its OpenSSL name.
size_t tpm_hash_size(TPMI_ALG_HASH alg);
const char* tpm_hash_ossl_name(TPMI_ALG_HASH alg);  // nullptr if unknown
const char* tpm_hash_text(TPMI_ALG_HASH alg);       // "sha256", ... or "unknown"
Bytes tpm_hash(TPMI_ALG_HASH alg, std::span<const uint8_t> data);
// The algorithm's EVP_MD, fetched once (nullptr if unknown), and a hash into a caller's buffer
// (EVP_MAX_MD_SIZE bytes; returns the digest's length): no allocation per hash.
const EVP_MD* tpm_hash_md(TPMI_ALG_HASH alg);
size_t tpm_hash_into(TPMI_ALG_HASH alg, std::span<const uint8_t> data, uint8_t* out);

}  // namespace redoubt::attest
