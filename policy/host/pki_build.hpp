// Host-side PKI for guest signing (GitHub issue #4), OpenSSL 3: keys, X.509
// certificates with exactly the extensions we ask for (the profile tests and
// the differential corpus vary them), and `redoubt pki init`.
#pragma once
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/host/keys.hpp"

namespace redoubt::policy {

class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using Bytes = std::vector<uint8_t>;

// The guest-OS-signing extendedKeyUsage (docs/pki.md §3): under IANA PEN 32473,
// which RFC 5612 reserves for documentation; a placeholder until Redoubt has its own PEN.
//   1.3.6.1.4.1.32473.4242        id-redoubt
//   1.3.6.1.4.1.32473.4242.1      id-redoubt-kp
//   1.3.6.1.4.1.32473.4242.1.1    id-redoubt-kp-guestSigning
inline constexpr char kGuestSigningEku[] = "1.3.6.1.4.1.32473.4242.1.1";
Bytes oid_content(const std::string& dotted);  // DER content octets of an OID
std::string oid_dotted(std::span<const uint8_t> content);

// "P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096".
EvpKey generate_signing_key(const std::string& kind);
void write_private_key_pem(const std::string& path, const EvpKey& key);  // PKCS#8, mode 0600

struct CertSpec {
  std::string cn;
  int64_t not_before = 0, not_after = 0;  // Unix seconds
  Bytes serial;                            // INTEGER content octets; empty: 16 random bytes
  bool bc = true, bc_critical = true, ca = false;
  int path_len = -1;
  bool ku = true, ku_critical = true;
  uint16_t ku_bits = 0;                    // bit i = KeyUsage bit i (digitalSignature = 1, keyCertSign = 32)
  std::vector<std::string> eku;            // dotted OIDs; empty: no extension
  bool ski = true, aki = true;
  bool extra_critical = false;             // add an unknown critical extension
  const EVP_MD* md = nullptr;              // null: SHA-256 (SHA-384 for P-384 issuers)
};

// Issues a certificate for subject_key. issuer == nullptr: self-signed.
X509Ptr issue_cert(const CertSpec& spec, const EvpKey& subject_key, const X509* issuer, const EvpKey& issuer_key);
Bytes cert_der(const X509* c);
X509Ptr cert_from_der(std::span<const uint8_t> der);
X509Ptr load_cert(const std::string& path);  // PEM or DER
std::vector<X509Ptr> load_certs(const std::string& path);  // every PEM certificate in a file (or one DER)
void write_cert_pem(const std::string& path, const X509* c);
Bytes sha256(std::span<const uint8_t> d);
Bytes spki_sha256(const X509* c);       // SHA-256(SubjectPublicKeyInfo DER): key id and revocation id
Bytes subject_name_sha256(const X509* c);
Bytes serial_content(const X509* c);    // serialNumber INTEGER content octets

// `redoubt pki init DIR`: root (CA, pathlen 1) -> guest-signing intermediate (CA,
// pathlen 0, keyCertSign) -> leaf (digitalSignature, guest-signing EKU), plus the
// platform owner's key (policy signing). Files: see docs/pki.md §6.
struct PkiInitResult {
  std::vector<std::string> files;
};
// The files pki_init writes in its directory.
extern const char* const kPkiInitFiles[8];
PkiInitResult pki_init(const std::string& dir, bool rsa, int64_t not_before, int64_t not_after);

}  // namespace redoubt::policy
