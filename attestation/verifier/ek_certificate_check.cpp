#include "attestation/verifier/ek_certificate_check.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
namespace {
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr from_der(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr c(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (!c || p != der.data() + der.size()) throw AttestError("bad_certificate", "the EK certificate is not one DER X.509 certificate");
  return c;
}
}  // namespace

void ManufacturerTrust::add_ca_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  size_t before = cas_.size();
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    int n = i2d_X509(c, nullptr);
    Bytes der(static_cast<size_t>(n));
    unsigned char* w = der.data();
    i2d_X509(c, &w);
    cas_.push_back(std::move(der));
    X509_free(c);
  }
  if (cas_.size() == before) throw AttestError("bad_certificate", "no PEM certificate in the manufacturer CA file");
}

void ManufacturerTrust::check(std::span<const uint8_t> ek_cert_der, const TPMT_PUBLIC& ek) const {
  X509Ptr leaf = from_der(ek_cert_der);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (const Bytes& der : cas_) {
    X509Ptr ca = from_der(der);
    X509_STORE_add_cert(store.get(), ca.get());
  }
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  // EK certificates carry the tcg-kp-EKCertificate EKU, not a TLS purpose: check the chain, any purpose.
  X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx.get()), X509_PURPOSE_ANY);
  if (X509_verify_cert(ctx.get()) != 1)
    throw AttestError("ek_certificate_untrusted", std::string("the EK certificate does not chain to a configured manufacturer CA: ") +
                                                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())), 403);
  policy::EvpKey ek_key = public_to_evp(ek);
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), ek_key.get()) != 1)
    throw AttestError("ek_certificate_mismatch", "the EK certificate certifies a different key than the EK presented", 403);
}

}  // namespace redoubt::attest
