#include "policy/host/pki_build.hpp"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

void add_ext(X509* c, int nid, bool critical, ASN1_OCTET_STRING* value) {
  X509_EXTENSION* ext = X509_EXTENSION_create_by_NID(nullptr, nid, critical ? 1 : 0, value);
  if (!ext || !X509_add_ext(c, ext, -1)) throw PkiError("pki: cannot add extension: " + openssl_error());
  X509_EXTENSION_free(ext);
}

template <typename T, typename F>
void add_ext_d2i(X509* c, int nid, bool critical, T* obj, F i2d) {
  unsigned char* der = nullptr;
  int len = i2d(obj, &der);
  if (len <= 0) throw PkiError("pki: cannot encode extension: " + openssl_error());
  ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(os, der, len);
  OPENSSL_free(der);
  add_ext(c, nid, critical, os);
  ASN1_OCTET_STRING_free(os);
}

}  // namespace

Bytes oid_content(const std::string& dotted) {
  ASN1_OBJECT* o = OBJ_txt2obj(dotted.c_str(), 1);
  if (!o) throw PkiError("pki: \"" + dotted + "\" is not a dotted OID");
  const unsigned char* p = OBJ_get0_data(o);
  Bytes b(p, p + OBJ_length(o));
  ASN1_OBJECT_free(o);
  return b;
}

std::string oid_dotted(std::span<const uint8_t> content) {
  Bytes der{0x06, static_cast<uint8_t>(content.size())};
  der.insert(der.end(), content.begin(), content.end());
  const unsigned char* p = der.data();
  ASN1_OBJECT* o = content.size() < 128 ? d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(der.size())) : nullptr;
  if (!o) return "(invalid OID)";
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, o, 1);
  ASN1_OBJECT_free(o);
  return buf;
}

EvpKey generate_signing_key(const std::string& kind) {
  if (kind == "P-256" || kind == "P-384") return generate_key(kind);
  size_t bits = kind == "RSA-2048" ? 2048 : kind == "RSA-3072" ? 3072 : kind == "RSA-4096" ? 4096 : 0;
  if (!bits) throw PkiError("pki: unsupported key kind \"" + kind + "\" (P-256, P-384, RSA-2048, RSA-3072, RSA-4096)");
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
  if (!k) throw PkiError("pki: RSA key generation failed: " + openssl_error());
  return EvpKey(k);
}

void write_private_key_pem(const std::string& path, const EvpKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
    throw PkiError("pki: cannot encode key: " + openssl_error());
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  write_file_mode<PkiError>(path, std::string(p, static_cast<size_t>(n)), 0600, "pki");
}

X509Ptr issue_cert(const CertSpec& s, const EvpKey& subject_key, const X509* issuer, const EvpKey& issuer_key) {
  X509Ptr c(X509_new(), X509_free);
  X509_set_version(c.get(), X509_VERSION_3);
  Bytes serial = s.serial;
  if (serial.empty()) {
    serial.resize(16);
    RAND_bytes(serial.data(), 16);
    serial[0] = (serial[0] & 0x7f) | 0x40;  // positive, 16 octets
  }
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Redoubt Test Corp"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1, -1, 0);
  X509_set_subject_name(c.get(), name);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_NAME_free(name);
  ASN1_TIME_set(X509_getm_notBefore(c.get()), static_cast<time_t>(s.not_before));
  ASN1_TIME_set(X509_getm_notAfter(c.get()), static_cast<time_t>(s.not_after));
  X509_set_pubkey(c.get(), subject_key.get());

  if (s.bc) {
    BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
    bc->ca = s.ca ? 0xff : 0;
    if (s.path_len >= 0) {
      bc->pathlen = ASN1_INTEGER_new();
      ASN1_INTEGER_set(bc->pathlen, s.path_len);
    }
    add_ext_d2i(c.get(), NID_basic_constraints, s.bc_critical, bc, i2d_BASIC_CONSTRAINTS);
    BASIC_CONSTRAINTS_free(bc);
  }
  if (s.ku) {
    ASN1_BIT_STRING* ku = ASN1_BIT_STRING_new();
    for (int i = 0; i < 9; ++i)
      if (s.ku_bits & (1u << i)) ASN1_BIT_STRING_set_bit(ku, i, 1);
    add_ext_d2i(c.get(), NID_key_usage, s.ku_critical, ku, i2d_ASN1_BIT_STRING);
    ASN1_BIT_STRING_free(ku);
  }
  if (!s.eku.empty()) {
    EXTENDED_KEY_USAGE* eku = sk_ASN1_OBJECT_new_null();
    for (const auto& o : s.eku) sk_ASN1_OBJECT_push(eku, OBJ_txt2obj(o.c_str(), 1));
    add_ext_d2i(c.get(), NID_ext_key_usage, false, eku, i2d_EXTENDED_KEY_USAGE);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? const_cast<X509*>(issuer) : c.get(), c.get(), nullptr, nullptr, 0);
  if (s.ski) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash");
    if (!e) throw PkiError("pki: subjectKeyIdentifier: " + openssl_error());
    X509_add_ext(c.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  if (s.aki) {
    // keyIdentifier = the issuer's SKI, or SHA-1 of its public key when it has none
    // (RFC 5280 §4.2.1.2 method 1); for a self-signed certificate, its own key.
    AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
    akid->keyid = ASN1_OCTET_STRING_new();
    const ASN1_OCTET_STRING* ski = issuer ? X509_get0_subject_key_id(const_cast<X509*>(issuer)) : nullptr;
    if (ski) {
      ASN1_OCTET_STRING_set(akid->keyid, ski->data, ski->length);
    } else {
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int mdlen = 0;
      X509_pubkey_digest(issuer ? issuer : c.get(), EVP_sha1(), md, &mdlen);
      ASN1_OCTET_STRING_set(akid->keyid, md, static_cast<int>(mdlen));
    }
    add_ext_d2i(c.get(), NID_authority_key_identifier, false, akid, i2d_AUTHORITY_KEYID);
    AUTHORITY_KEYID_free(akid);
  }
  if (s.extra_critical) {
    ASN1_OBJECT* o = OBJ_txt2obj("1.3.6.1.4.1.32473.4242.9.9", 1);
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    static const unsigned char kNull[] = {0x05, 0x00};
    ASN1_OCTET_STRING_set(os, kNull, 2);
    X509_EXTENSION* e = X509_EXTENSION_create_by_OBJ(nullptr, o, 1, os);
    X509_add_ext(c.get(), e, -1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(o);
  }
  const EVP_MD* md = s.md;
  if (!md) {
    md = EVP_sha256();
    char g[32] = {};
    size_t gl = 0;
    if (EVP_PKEY_get_base_id(issuer_key.get()) == EVP_PKEY_EC &&
        EVP_PKEY_get_utf8_string_param(issuer_key.get(), "group", g, sizeof g, &gl) && std::string(g) == "secp384r1")
      md = EVP_sha384();
  }
  if (!X509_sign(c.get(), issuer_key.get(), md)) throw PkiError("pki: signing the certificate failed: " + openssl_error());
  return c;
}

Bytes cert_der(const X509* c) {
  unsigned char* p = nullptr;
  int n = i2d_X509(c, &p);
  if (n <= 0) throw PkiError("pki: cannot encode certificate: " + openssl_error());
  Bytes b(p, p + n);
  OPENSSL_free(p);
  return b;
}

X509Ptr cert_from_der(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!c) throw PkiError("pki: not a DER certificate: " + openssl_error());
  return X509Ptr(c, X509_free);
}

std::vector<X509Ptr> load_certs(const std::string& path) {
  const std::string data = read_file_text<PkiError>(path, "pki");
  std::vector<X509Ptr> out;
  if (data.find("-----BEGIN") != std::string::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), BIO_free);
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c, X509_free);
    ERR_clear_error();
  } else {
    out.push_back(cert_from_der({reinterpret_cast<const uint8_t*>(data.data()), data.size()}));
  }
  if (out.empty()) throw PkiError("pki: " + path + ": no certificate found");
  return out;
}

X509Ptr load_cert(const std::string& path) {
  auto v = load_certs(path);
  return std::move(v.front());
}

void write_cert_pem(const std::string& path, const X509* c) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), c);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  write_file_mode<PkiError>(path, std::string(p, static_cast<size_t>(n)), 0644, "pki");
}

Bytes sha256(std::span<const uint8_t> d) {
  Bytes out(32);
  unsigned len = 0;
  EVP_Digest(d.data(), d.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Bytes spki_sha256(const X509* c) {
  unsigned char* p = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c), &p);
  Bytes d = sha256({p, static_cast<size_t>(n)});
  OPENSSL_free(p);
  return d;
}

Bytes subject_name_sha256(const X509* c) {
  unsigned char* p = nullptr;
  int n = i2d_X509_NAME(X509_get_subject_name(c), &p);
  Bytes d = sha256({p, static_cast<size_t>(n)});
  OPENSSL_free(p);
  return d;
}

Bytes serial_content(const X509* c) {
  const ASN1_INTEGER* s = X509_get0_serialNumber(c);
  unsigned char* p = nullptr;
  int n = i2d_ASN1_INTEGER(s, &p);
  // Skip the INTEGER tag and length (serials are at most 21 octets: short form).
  Bytes b(p + 2, p + n);
  OPENSSL_free(p);
  return b;
}

const char* const kPkiInitFiles[8] = {"root.key.pem", "root.crt.pem", "intermediate.key.pem", "intermediate.crt.pem",
                                      "leaf.key.pem", "leaf.crt.pem", "owner.key.pem", "owner.pub.pem"};

PkiInitResult pki_init(const std::string& dir, bool rsa, int64_t nb, int64_t na) {
  std::filesystem::create_directories(dir);
  const std::string kind = rsa ? "RSA-3072" : "P-256";
  EvpKey root_key = generate_signing_key(kind), int_key = generate_signing_key(kind), leaf_key = generate_signing_key(kind);
  EvpKey owner_key = generate_signing_key("P-256");  // policy signing: ES256 (the SL verifies EC only)
  CertSpec root{.cn = "Redoubt Corporate Root CA", .not_before = nb, .not_after = na};
  root.ca = true;
  root.path_len = 1;
  root.ku_bits = 32 | 64;  // keyCertSign | cRLSign
  X509Ptr root_c = issue_cert(root, root_key, nullptr, root_key);
  CertSpec inter{.cn = "Redoubt Guest Signing CA", .not_before = nb, .not_after = na};
  inter.ca = true;
  inter.path_len = 0;
  inter.ku_bits = 32 | 64;
  X509Ptr int_c = issue_cert(inter, int_key, root_c.get(), root_key);
  CertSpec leaf{.cn = "Redoubt Guest Signer", .not_before = nb, .not_after = na};
  leaf.ku_bits = 1;  // digitalSignature
  leaf.eku = {kGuestSigningEku};
  X509Ptr leaf_c = issue_cert(leaf, leaf_key, int_c.get(), int_key);

  PkiInitResult r;
  auto p = [&](const std::string& f) {
    r.files.push_back(dir + "/" + f);
    return dir + "/" + f;
  };
  write_private_key_pem(p("root.key.pem"), root_key);
  write_cert_pem(p("root.crt.pem"), root_c.get());
  write_private_key_pem(p("intermediate.key.pem"), int_key);
  write_cert_pem(p("intermediate.crt.pem"), int_c.get());
  write_private_key_pem(p("leaf.key.pem"), leaf_key);
  write_cert_pem(p("leaf.crt.pem"), leaf_c.get());
  write_private_key_pem(p("owner.key.pem"), owner_key);
  {
    BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), owner_key.get());
    char* d = nullptr;
    long n = BIO_get_mem_data(bio.get(), &d);
    write_file_mode<PkiError>(p("owner.pub.pem"), std::string(d, static_cast<size_t>(n)), 0644, "pki");
  }
  return r;
}

}  // namespace redoubt::policy
