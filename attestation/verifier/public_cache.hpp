// Decoded TPM public areas, by their exact bytes (issue 13, throughput): an
// AK/EK/SRK TPM2B_PUBLIC is unmarshalled, its Name and primary Qualified Names
// hashed and its OpenSSL key built once, not on every appraisal. The entry is
// found by comparing the whole byte string, so a different key is never
// mistaken for a cached one; bytes that do not unmarshal are never cached
// (unmarshal_public throws as before). Thread-safe, bounded (FIFO eviction).
#pragma once
#include <memory>
#include <span>

#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {

struct DecodedPublic {
  TPM2B_PUBLIC pub{};
  Bytes name;                    // tpm_object_name (Part 1 §16)
  Bytes endorsement_primary_qn;  // tpm_primary_qualified_name(TPM_RH_ENDORSEMENT, ...)
  Bytes owner_primary_qn;        // tpm_primary_qualified_name(TPM_RH_OWNER, ...)
  policy::EvpKey key;            // public_to_evp, or null if it threw (callers then call it to get the error)
};

// What unmarshal_public(bytes, what) would give, with the derived values above.
std::shared_ptr<const DecodedPublic> decode_public_cached(std::span<const uint8_t> bytes, const char* what);

}  // namespace redoubt::attest
