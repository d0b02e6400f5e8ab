#include "attestation/agent/sim_manufacturer_ca.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/host/host_io.hpp"
#include "policy/host/keys.hpp"

namespace redoubt::attest {
namespace fs = std::filesystem;
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw AttestError("internal", "cannot build X.509 extension", 500);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509Ptr new_cert(const std::string& subject_cn, long days) {
  X509Ptr c(X509_new(), X509_free);
  X509_set_version(c.get(), 2);
  Bytes serial(16);
  RAND_bytes(serial.data(), static_cast<int>(serial.size()));
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_set_bit(bn, 0);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), days * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Redoubt simulator"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(subject_cn.c_str()), -1, -1, 0);
  return c;
}

std::string slurp(const fs::path& p) {
  std::string out;
  policy::FileError e;
  if (!policy::read_file_limited(p.string(), policy::kMaxPemFile, "certificate", out, e)) throw AttestError("io", e.what, 500);
  return out;
}

void write_atomic(const fs::path& p, const std::string& data, mode_t mode) {
  policy::FileError e;
  if (!policy::write_file_atomic(p.string(), {reinterpret_cast<const uint8_t*>(data.data()), data.size()}, mode, e))
    throw AttestError("io", e.what, 500);
}

X509Ptr load_cert(const fs::path& p) {
  std::string pem = slurp(p);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!c) throw AttestError("bad_certificate", "cannot read " + p.string());
  return c;
}

}  // namespace

ManufacturerCa ensure_sim_manufacturer_ca(const fs::path& dir) {
  ManufacturerCa ca{dir / "ca.key.pem", dir / "ca.cert.pem"};
  if (fs::exists(ca.key_pem) && fs::exists(ca.cert_pem)) return ca;
  fs::create_directories(dir);
  policy::EvpKey key = policy::generate_key("P-256");
  X509Ptr c = new_cert("Redoubt Simulated TPM Manufacturer CA", 3650);
  X509_set_issuer_name(c.get(), X509_get_subject_name(c.get()));
  X509_set_pubkey(c.get(), key.get());
  add_ext(c.get(), c.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(c.get(), c.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(c.get(), c.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(c.get(), key.get(), EVP_sha256())) throw AttestError("internal", "cannot self-sign the manufacturer CA", 500);
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), BIO_free), cb(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_X509(cb.get(), c.get());
  char* p = nullptr;
  long n = BIO_get_mem_data(kb.get(), &p);
  std::string key_pem(p, static_cast<size_t>(n));
  n = BIO_get_mem_data(cb.get(), &p);
  std::string cert_pem(p, static_cast<size_t>(n));
  if (fs::exists(ca.key_pem) && fs::exists(ca.cert_pem)) return ca;  // another process won the race
  write_atomic(ca.key_pem, key_pem, 0600);  // never readable by others, not even for a moment
  write_atomic(ca.cert_pem, cert_pem, 0644);
  return ca;
}

Bytes issue_ek_certificate(const ManufacturerCa& ca, const TPMT_PUBLIC& ek, const std::string& serial_hint) {
  policy::EvpKey ca_key = policy::load_private_key(ca.key_pem.string());
  X509Ptr ca_cert = load_cert(ca.cert_pem);
  policy::EvpKey ek_key = public_to_evp(ek);
  X509Ptr c = new_cert("Redoubt simulated TPM EK " + serial_hint, 3650);
  X509_set_issuer_name(c.get(), X509_get_subject_name(ca_cert.get()));
  X509_set_pubkey(c.get(), ek_key.get());
  add_ext(c.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(c.get(), ca_cert.get(), NID_key_usage, "critical,keyAgreement");
  add_ext(c.get(), ca_cert.get(), NID_ext_key_usage, "2.23.133.8.1");  // tcg-kp-EKCertificate
  add_ext(c.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(c.get(), ca_key.get(), EVP_sha256())) throw AttestError("internal", "cannot sign the EK certificate", 500);
  int len = i2d_X509(c.get(), nullptr);
  Bytes der(static_cast<size_t>(len));
  unsigned char* w = der.data();
  i2d_X509(c.get(), &w);
  return der;
}

}  // namespace redoubt::attest
