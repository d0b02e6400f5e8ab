#include "attestation/tpm/quote_parse.hpp"

#include <tss2/tss2_mu.h>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {

TPMS_ATTEST parse_attest(std::span<const uint8_t> msg) {
  TPMS_ATTEST a{};
  size_t off = 0;
  if (msg.empty()) throw AttestError("malformed_attest", "quote message is empty");
  if (msg.size() > sizeof(TPMS_ATTEST))  // TPM2B_ATTEST.attestationData is at most sizeof(TPMS_ATTEST)
    throw AttestError("malformed_attest", "quote message is " + std::to_string(msg.size()) + " bytes, more than a TPMS_ATTEST holds");
  TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(msg.data(), msg.size(), &off, &a);
  if (rc != TSS2_RC_SUCCESS)
    throw AttestError("malformed_attest", "not a TPMS_ATTEST (" + std::to_string(msg.size()) + " bytes, tss2-mu rc 0x" +
                                              to_hex(Bytes{uint8_t(rc >> 24), uint8_t(rc >> 16), uint8_t(rc >> 8), uint8_t(rc)}) + ")");
  if (off != msg.size())
    throw AttestError("malformed_attest", std::to_string(msg.size() - off) + " trailing bytes after the TPMS_ATTEST");
  return a;
}

TPMT_SIGNATURE parse_signature(std::span<const uint8_t> sig) {
  TPMT_SIGNATURE s{};
  size_t off = 0;
  if (sig.empty()) throw AttestError("malformed_signature", "signature is empty");
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig.data(), sig.size(), &off, &s) != TSS2_RC_SUCCESS)
    throw AttestError("malformed_signature", "not a TPMT_SIGNATURE (" + std::to_string(sig.size()) + " bytes)");
  if (off != sig.size())
    throw AttestError("malformed_signature", std::to_string(sig.size() - off) + " trailing bytes after the TPMT_SIGNATURE");
  return s;
}

Bytes marshal_attest(const TPMS_ATTEST& a) {
  Bytes out(sizeof(TPMS_ATTEST) + 64);
  size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Marshal(&a, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
    throw AttestError("malformed_attest", "cannot marshal TPMS_ATTEST");
  out.resize(off);
  return out;
}

Bytes marshal_signature(const TPMT_SIGNATURE& s) {
  Bytes out(sizeof(TPMT_SIGNATURE) + 16);
  size_t off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&s, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
    throw AttestError("malformed_signature", "cannot marshal TPMT_SIGNATURE");
  out.resize(off);
  return out;
}

}  // namespace redoubt::attest
