// Parsers for what a quote is made of, via tpm2-tss MU (never hand-rolled
// offsets): TPMS_ATTEST (TPM 2.0 Part 2 §10.12.12) and TPMT_SIGNATURE
// (Part 2 §11.3.4). Every malformed input throws AttestError with a named code
// ("malformed_attest", "malformed_signature") — never a crash.
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <span>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

TPMS_ATTEST parse_attest(std::span<const uint8_t> msg);
TPMT_SIGNATURE parse_signature(std::span<const uint8_t> sig);
Bytes marshal_attest(const TPMS_ATTEST& a);
Bytes marshal_signature(const TPMT_SIGNATURE& s);

}  // namespace redoubt::attest
