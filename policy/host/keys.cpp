#include "policy/host/keys.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "platform/hal/format.hpp"
#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string pem_of(const EvpKey& key, bool priv) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
  int ok = priv ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
                : PEM_write_bio_PUBKEY(bio.get(), key.get());
  if (!ok) throw KeyError("keys: cannot encode key: " + openssl_error());
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

std::string group_name(const EvpKey& key) {
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      !EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len))
    throw KeyError("keys: not an EC key (only P-256 / P-384 are supported)");
  return name;
}

}  // namespace

EvpKey generate_key(const std::string& curve) {
  if (curve != "P-256" && curve != "P-384") throw KeyError("keys: unsupported curve \"" + curve + "\" (use P-256 or P-384)");
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve.c_str());
  if (!k) throw KeyError("keys: EC key generation on " + curve + " failed: " + openssl_error());
  return EvpKey(k);
}

void generate_key_files(const std::string& curve, const std::string& out_prefix) {
  EvpKey k = generate_key(curve);
  write_file_mode<KeyError>(out_prefix + ".key.pem", pem_of(k, true), 0600, "keys");
  write_file_mode<KeyError>(out_prefix + ".pub.pem", pem_of(k, false), 0644, "keys");
}

EvpKey load_private_key(const std::string& path) {
  std::string pem = read_file_text<KeyError>(path, "keys");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!k) throw KeyError("keys: " + path + ": not a PEM private key: " + openssl_error());
  return EvpKey(k);
}

EvpKey load_public_key(const std::string& path) {
  std::string pem = read_file_text<KeyError>(path, "keys");
  {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    if (EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)) return EvpKey(k);
  }
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!k) throw KeyError("keys: " + path + ": not a PEM public or private key: " + openssl_error());
  return EvpKey(k);
}

PublicKey cose_public_key(const EvpKey& key) {
  if (!key) throw KeyError("keys: no key");
  const std::string g = group_name(key);
  PublicKey pk;
  size_t coord;
  if (g == "prime256v1" || g == "P-256") {
    pk.alg = CoseAlg::es256;
    coord = 32;
  } else if (g == "secp384r1" || g == "P-384") {
    pk.alg = CoseAlg::es384;
    coord = 48;
  } else {
    throw KeyError("keys: unsupported EC group " + g + " (use P-256 or P-384)");
  }
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (!EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x) || !EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
    BN_free(x);
    throw KeyError("keys: cannot read the public point: " + openssl_error());
  }
  // SEC1 §2.3.3 uncompressed: 0x04 || X || Y, coordinates left-padded.
  pk.sec1[0] = 0x04;
  bool ok = BN_bn2binpad(x, pk.sec1 + 1, static_cast<int>(coord)) == static_cast<int>(coord) &&
            BN_bn2binpad(y, pk.sec1 + 1 + coord, static_cast<int>(coord)) == static_cast<int>(coord);
  BN_free(x);
  BN_free(y);
  if (!ok) throw KeyError("keys: public point does not fit the curve size");
  pk.sec1_len = 1 + 2 * coord;
  return pk;
}

std::string key_id_hex(const EvpKey& key) {
  PublicKey pk = cose_public_key(key);
  uint8_t id[32];
  key_id(pk, id);
  char hex[65];
  return to_hex(id, 32, hex);
}

}  // namespace redoubt::policy
