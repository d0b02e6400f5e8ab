// The endpoint's TPM identity and its one signing use: the EK (TCG template
// L-2, ECC P-256, certificate in NV 0x01c0000a; or, on a TPM manufactured by
// swtpm_setup 0.7, its persisted ECC P-384 EK 0x81010016 whose certificate is
// in NV 0x01c00016), an AK created as a primary under the ENDORSEMENT hierarchy
// (ECC P-256, restricted signing; deterministic from the endorsement seed, so
// the same AK comes back after every power cycle), TPM2_ActivateCredential
// for enrolment and TPM2_Quote over the DRTM PCRs.
// libtpms has 3 object slots: this holds at most 2 (EK, AK); release() before a
// DRTM sequence (the launch flushes every transient object anyway).
#pragma once
#include <tss2/tss2_esys.h>

#include "attestation/tpm/pcr_file.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::attest {

struct TpmQuote {
  Bytes message;    // TPMS_ATTEST, marshalled (TPM2B_ATTEST.attestationData)
  Bytes signature;  // TPMT_SIGNATURE, marshalled
  QuotedPcrs pcrs;  // the PCR values read right after the quote
};

class TpmIdentity {
 public:
  explicit TpmIdentity(tpm::TpmDevice& tpm) : tpm_(tpm) {}
  ~TpmIdentity() { release(); }
  TpmIdentity(const TpmIdentity&) = delete;
  TpmIdentity& operator=(const TpmIdentity&) = delete;

  const TPM2B_PUBLIC& ek_public();
  // The NV index holding the certificate of the EK in use (EK Credential Profile §2.2.1.5).
  uint32_t ek_cert_index();
  const TPM2B_PUBLIC& ak_public();
  Bytes ak_name();

  // TPM2_ActivateCredential (Part 3 §12.5) with the EK's policy session
  // (PolicySecret(TPM_RH_ENDORSEMENT)); throws TpmError if the blob is not for this EK/AK.
  Bytes activate_credential(const TPM2B_ID_OBJECT& blob, const TPM2B_ENCRYPTED_SECRET& secret);

  // TPM2_Quote (Part 3 §18.4) with qualifyingData = nonce, then PCR_Read of the same selection.
  TpmQuote quote(std::span<const uint8_t> nonce, const TPML_PCR_SELECTION& selection);

  void release();  // flushes EK/AK (they are recreated on demand)

 private:
  ESYS_TR load_primary(const TPM2B_PUBLIC& templ, TPM2B_PUBLIC& out_public);
  void ensure_ek();
  void ensure_ak();

  tpm::TpmDevice& tpm_;
  ESYS_TR ek_ = ESYS_TR_NONE, ak_ = ESYS_TR_NONE;
  bool ek_persistent_ = false;
  uint32_t ek_cert_index_ = 0;
  TPM2B_PUBLIC ek_pub_{}, ak_pub_{};
};

// TPM2_Shutdown(CLEAR) (Part 3 §9.4): an orderly power-down, so the next
// Startup reports clockInfo.safe = 1 and Clock did not fall back. Errors ignored.
void orderly_shutdown(tpm::TpmDevice& tpm);

// The selection Redoubt quotes: PCR 17-20 in sha256 and sha384 (where the bank is active).
TPML_PCR_SELECTION drtm_quote_selection(tpm::TpmDevice& tpm);

}  // namespace redoubt::attest
