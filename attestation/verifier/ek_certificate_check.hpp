// Enrolment's first step: the EK certificate chains to a configured TPM
// manufacturer CA (OpenSSL X509_verify_cert) and certifies exactly the EK
// public area the endpoint presented (TCG EK Credential Profile 2.0 §2.2).
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <string>
#include <vector>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

class ManufacturerTrust {
 public:
  void add_ca_pem(const std::string& pem);  // one or more certificates; AttestError("bad_certificate")
  size_t size() const { return cas_.size(); }
  // Throws AttestError("ek_certificate_untrusted" / "ek_certificate_mismatch" / "bad_certificate").
  void check(std::span<const uint8_t> ek_cert_der, const TPMT_PUBLIC& ek) const;

 private:
  std::vector<Bytes> cas_;  // DER
};

}  // namespace redoubt::attest
