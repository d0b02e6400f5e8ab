// What an endpoint sends a verifier: the quote, its signature, the quoted PCR
// values, the DRTM event log and the AK public area. JSON carries every blob in
// base64 (docs/api.md "Evidence"); the decoder checks presence, type, base64 and
// size limits and names the field that is wrong.
#pragma once
#include <nlohmann/json.hpp>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

struct Evidence {
  Bytes quote;      // TPMS_ATTEST
  Bytes signature;  // TPMT_SIGNATURE
  Bytes pcrs;       // tpm2-tools serialized PCR file (attestation/tpm/pcr_file.hpp)
  Bytes eventlog;   // TCG crypto-agile DRTM log
  Bytes ak_public;  // TPM2B_PUBLIC of the AK
  // Optional: TPM2B_PUBLIC of the AK's parent when it is an owner-hierarchy primary (the SRK, as
  // go-attestation makes AKs), so the quote's qualifiedSigner can be recomputed (docs/attestation.md).
  Bytes ak_parent;
};

nlohmann::json evidence_to_json(const Evidence& e);
Evidence evidence_from_json(const nlohmann::json& j);  // throws AttestError("bad_request"/"bad_base64"/"too_large")

// Helpers for request bodies: a required string member, else AttestError("bad_request", "missing field X").
const std::string& json_string(const nlohmann::json& j, const char* field);
Bytes json_base64(const nlohmann::json& j, const char* field, size_t max_bytes);
nlohmann::json parse_json_body(const std::string& body);  // AttestError("malformed_json") on syntax errors

}  // namespace redoubt::attest
