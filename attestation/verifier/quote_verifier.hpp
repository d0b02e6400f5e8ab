// Checks a TPM quote field by field (TPM 2.0 Part 2 §10.12.12 TPMS_ATTEST,
// §10.12.8 TPMS_QUOTE_INFO, §10.11.1 TPMS_CLOCK_INFO) and its signature
// (Part 1 §20 / Part 3 §18.4) with OpenSSL.
#pragma once
#include <openssl/evp.h>

#include <optional>

#include "attestation/common/evidence.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/verifier/finding.hpp"

namespace redoubt::attest {

struct ClockState {
  uint64_t clock = 0;
  uint32_t reset_count = 0, restart_count = 0;
  bool safe = false;
};

struct QuoteExpectations {
  Bytes ak_public;                       // TPM2B_PUBLIC the quote must be signed by (enrolled AK)
  Bytes nonce;                           // extraData the verifier issued
  TPML_PCR_SELECTION selection{};        // what the verifier asked for
  std::optional<ClockState> previous;    // last accepted clockInfo for this endpoint
  Bytes ek_public;                       // the enrolled EK (TPM2B_PUBLIC): an AK may be its child (tpm2_createak)
};

// Where the AK sits, as proven by the quote's qualifiedSigner (TPM 2.0 Part 1 §16):
// an endorsement-hierarchy primary, a child of the enrolled EK, or a child of an owner-hierarchy
// primary (the SRK) whose public area the evidence carries. Storage-hierarchy AKs get
// obfuscated resetCount/restartCount/firmwareVersion (Part 3 §18.1).
enum class AkPosition { unknown, endorsement_primary, ek_child, srk_child };
const char* ak_position_name(AkPosition p);

struct QuoteCheck {
  Findings findings;
  bool signature_ok = false;   // signed by the expected AK (and qualifiedSigner matches)
  bool pcrs_ok = false;        // reported PCR values hash to pcrDigest and match the selection
  ClockState clock;
  QuotedPcrs pcrs;
  Bytes extra_data;
  AkPosition ak_position = AkPosition::unknown;
};

// Throws AttestError for malformed quote/signature/PCR file/AK public (not evidence,
// but garbage); everything else is a Finding.
QuoteCheck verify_quote(const Evidence& ev, const QuoteExpectations& want);

// Only the signature, over the raw TPMS_ATTEST bytes with the AK public area.
bool quote_signature_valid(std::span<const uint8_t> attest, std::span<const uint8_t> signature, const TPMT_PUBLIC& ak);
// The same with the AK's OpenSSL key already built (public_to_evp of `ak`).
bool quote_signature_valid(std::span<const uint8_t> attest, std::span<const uint8_t> signature, const TPMT_PUBLIC& ak, EVP_PKEY* key_of_ak);

// extraData of a TPMS_ATTEST (so the service can consume the nonce before a full check).
Bytes quote_extra_data(std::span<const uint8_t> attest);

}  // namespace redoubt::attest
