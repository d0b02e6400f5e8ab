// libFuzzer: the enrolment's EK certificate check (attestation/verifier/
// ek_certificate_check) against the fuzz manufacturer CA (fuzz_state.hpp; the seeds
// carry EK certificates it issued). Input: byte 0 bit 0 set -> add_ca_pem(rest);
// clear -> u16 little-endian certificate length, the DER certificate, then the EK
// TPM2B_PUBLIC: unmarshal_public, then ManufacturerTrust::check. The contract:
// success or AttestError; anything else is a bug. A certificate accepted for an EK
// must certify that EK's key (checked again here with OpenSSL).
#include <openssl/x509.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/ek_certificate_check.hpp"
#include "tests/fuzz/fuzz_state.hpp"

using namespace redoubt;
using namespace redoubt::attest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const ManufacturerTrust trust = [] {
    ManufacturerTrust t;
    t.add_ca_pem(fuzz_state::slurp(fuzz_state::ca().cert_pem));
    return t;
  }();
  std::span<const uint8_t> in(data + 1, size - 1);
  try {
    if (data[0] & 1) {
      ManufacturerTrust t;
      t.add_ca_pem(std::string(in.begin(), in.end()));
      if (t.size() == 0) std::abort();
      return 0;
    }
    if (in.size() < 2) return 0;
    const size_t len = std::min<size_t>(in.size() - 2, in[0] | size_t(in[1]) << 8);
    std::span<const uint8_t> der = in.subspan(2, len), ek_bytes = in.subspan(2 + len);
    const TPM2B_PUBLIC ek = unmarshal_public(ek_bytes, "ek_public");
    trust.check(der, ek.publicArea);
    // Accepted: the certificate's key is the EK's.
    const unsigned char* p = der.data();
    X509* c = d2i_X509(nullptr, &p, long(der.size()));
    if (!c) std::abort();
    policy::EvpKey k = public_to_evp(ek.publicArea);
    if (EVP_PKEY_eq(X509_get0_pubkey(c), k.get()) != 1) std::abort();
    X509_free(c);
  } catch (const AttestError&) {
  }
  return 0;
}
