#include "attestation/tpm/tpm_public.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
namespace {

// PolicySecret(TPM_RH_ENDORSEMENT), TCG EK Credential Profile 2.0 §B.6.3 (policy A, SHA-256).
constexpr uint8_t kEkPolicyA[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                    0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                    0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

}  // namespace

TPM2B_PUBLIC ek_template_ecc_p256() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof kEkPolicyA;
  std::memcpy(p.authPolicy.buffer, kEkPolicyA, sizeof kEkPolicyA);
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.eccDetail.symmetric.keyBits.aes = 128;
  p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  p.unique.ecc.x.size = 32;  // Template L-2: 32 zero bytes each
  p.unique.ecc.y.size = 32;
  return t;
}

TPM2B_PUBLIC ak_template_ecc_p256() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  // A distinct unique field so the AK primary never coincides with another primary.
  static const char kUnique[] = "redoubt-ak";
  p.unique.ecc.x.size = sizeof kUnique - 1;
  std::memcpy(p.unique.ecc.x.buffer, kUnique, sizeof kUnique - 1);
  return t;
}

Bytes marshal_public(const TPM2B_PUBLIC& p) {
  Bytes out(sizeof(TPM2B_PUBLIC) + 16);
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) throw AttestError("malformed_public", "cannot marshal TPM2B_PUBLIC (rc 0x" + std::to_string(rc) + ")");
  out.resize(off);
  return out;
}

TPM2B_PUBLIC unmarshal_public(std::span<const uint8_t> b, const char* what) {
  TPM2B_PUBLIC p{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data(), b.size(), &off, &p) != TSS2_RC_SUCCESS)
    throw AttestError("malformed_public", std::string(what) + ": not a TPM2B_PUBLIC (" + std::to_string(b.size()) + " bytes)");
  if (off != b.size())
    throw AttestError("malformed_public", std::string(what) + ": " + std::to_string(b.size() - off) + " trailing bytes");
  // Part 2 §12.2.5 (TPM2B_PUBLIC): size is the size of the marshalled publicArea (a TPM answers
  // TPM_RC_SIZE otherwise); tss2-mu does not check it (found by fuzz_quote).
  if (p.size == 0 || size_t{p.size} != off - sizeof(uint16_t))
    throw AttestError("malformed_public", std::string(what) + ": the size field says " + std::to_string(p.size) +
                                              " bytes but the public area is " + std::to_string(off - sizeof(uint16_t)) + " bytes");
  return p;
}

size_t tpm_hash_size(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA1: return 20;
    case TPM2_ALG_SHA256: return 32;
    case TPM2_ALG_SHA384: return 48;
    case TPM2_ALG_SHA512: return 64;
    default: return 0;
  }
}

const char* tpm_hash_ossl_name(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA1: return "SHA1";
    case TPM2_ALG_SHA256: return "SHA256";
    case TPM2_ALG_SHA384: return "SHA384";
    case TPM2_ALG_SHA512: return "SHA512";
    default: return nullptr;
  }
}

const char* tpm_hash_text(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA1: return "sha1";
    case TPM2_ALG_SHA256: return "sha256";
    case TPM2_ALG_SHA384: return "sha384";
    case TPM2_ALG_SHA512: return "sha512";
    default: return "unknown";
  }
}

// Fetched once per algorithm: EVP_Digest with EVP_get_digestbyname's EVP_MD fetches the implementation
// again on every call (OpenSSL 3 "implicit fetch", crypto(7)), which was half of each event digest's
// cost in the first-seen profile (docs/verifier-performance.md, third round).
const EVP_MD* tpm_hash_md(TPMI_ALG_HASH alg) {
  static EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const kSha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (alg) {
    case TPM2_ALG_SHA1: return kSha1;
    case TPM2_ALG_SHA256: return kSha256;
    case TPM2_ALG_SHA384: return kSha384;
    case TPM2_ALG_SHA512: return kSha512;
    default: return nullptr;
  }
}

namespace {
// One digest context per thread, initialised again for each digest: EVP_Digest allocates and frees a
// context (and the provider's) on every call, ~40 % of a short event's digest on this machine
// (docs/verifier-performance.md, seventh round).
struct ThreadDigestCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~ThreadDigestCtx() { EVP_MD_CTX_free(ctx); }
};
thread_local ThreadDigestCtx tl_digest;
}  // namespace

size_t tpm_hash_into(TPMI_ALG_HASH alg, std::span<const uint8_t> data, uint8_t* out) {
  const EVP_MD* md = tpm_hash_md(alg);
  if (!md) throw AttestError("unsupported_hash", "hash algorithm 0x" + to_hex(Bytes{uint8_t(alg >> 8), uint8_t(alg)}));
  EVP_MD_CTX* c = tl_digest.ctx;
  unsigned int len = 0;
  if (!c || EVP_DigestInit_ex2(c, md, nullptr) != 1 || EVP_DigestUpdate(c, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(c, out, &len) != 1)
    throw AttestError("internal", "digest failed", 500);
  return len;
}

Bytes tpm_hash(TPMI_ALG_HASH alg, std::span<const uint8_t> data) {
  uint8_t buf[EVP_MAX_MD_SIZE];
  const size_t n = tpm_hash_into(alg, data, buf);
  return Bytes(buf, buf + n);
}

Bytes tpm_object_name(const TPMT_PUBLIC& p) {
  uint8_t buf[sizeof(TPMT_PUBLIC) + 16];
  size_t off = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&p, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
    throw AttestError("malformed_public", "cannot marshal TPMT_PUBLIC");
  Bytes name = {static_cast<uint8_t>(p.nameAlg >> 8), static_cast<uint8_t>(p.nameAlg)};
  Bytes h = tpm_hash(p.nameAlg, {buf, off});
  name.insert(name.end(), h.begin(), h.end());
  return name;
}

Bytes tpm_primary_qualified_name(TPM2_HANDLE hierarchy, const TPMT_PUBLIC& p) {
  Bytes in = {static_cast<uint8_t>(hierarchy >> 24), static_cast<uint8_t>(hierarchy >> 16), static_cast<uint8_t>(hierarchy >> 8),
              static_cast<uint8_t>(hierarchy)};
  const Bytes name = tpm_object_name(p);
  in.insert(in.end(), name.begin(), name.end());
  Bytes qn = {static_cast<uint8_t>(p.nameAlg >> 8), static_cast<uint8_t>(p.nameAlg)};
  const Bytes h = tpm_hash(p.nameAlg, in);
  qn.insert(qn.end(), h.begin(), h.end());
  return qn;
}

Bytes tpm_child_qualified_name(std::span<const uint8_t> parent_qn, const TPMT_PUBLIC& p) {
  Bytes in(parent_qn.begin(), parent_qn.end());
  const Bytes name = tpm_object_name(p);
  in.insert(in.end(), name.begin(), name.end());
  Bytes qn = {static_cast<uint8_t>(p.nameAlg >> 8), static_cast<uint8_t>(p.nameAlg)};
  const Bytes h = tpm_hash(p.nameAlg, in);
  qn.insert(qn.end(), h.begin(), h.end());
  return qn;
}

policy::EvpKey public_to_evp(const TPMT_PUBLIC& p) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  const char* type = nullptr;
  Bytes point;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> n(nullptr, BN_free), e(nullptr, BN_free);
  if (p.type == TPM2_ALG_ECC) {
    const char* group = p.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256   ? "P-256"
                        : p.parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ? "P-384"
                                                                                : nullptr;
    const size_t cs = p.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 ? 32 : 48;
    if (!group) throw AttestError("unsupported_key", "ECC curve 0x" + std::to_string(p.parameters.eccDetail.curveID));
    if (p.unique.ecc.x.size != cs || p.unique.ecc.y.size != cs)
      throw AttestError("malformed_public", "ECC point coordinates are not " + std::to_string(cs) + " bytes");
    point.push_back(0x04);
    point.insert(point.end(), p.unique.ecc.x.buffer, p.unique.ecc.x.buffer + cs);
    point.insert(point.end(), p.unique.ecc.y.buffer, p.unique.ecc.y.buffer + cs);
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    type = "EC";
  } else if (p.type == TPM2_ALG_RSA) {
    if (p.unique.rsa.size == 0) throw AttestError("malformed_public", "RSA modulus is empty");
    n.reset(BN_bin2bn(p.unique.rsa.buffer, p.unique.rsa.size, nullptr));
    e.reset(BN_new());
    BN_set_word(e.get(), p.parameters.rsaDetail.exponent ? p.parameters.rsaDetail.exponent : 65537);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    type = "RSA";
  } else {
    throw AttestError("unsupported_key", "public area type 0x" + std::to_string(p.type) + " (expected ECC or RSA)");
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                                                   EVP_PKEY_CTX_free);
  EVP_PKEY* k = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || !k)
    throw AttestError("malformed_public", "the public key is not a valid point/modulus");
  return policy::EvpKey(k);
}

std::string public_key_pem(const policy::EvpKey& k) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PUBKEY(bio.get(), k.get())) throw AttestError("internal", "cannot write a PEM public key", 500);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

policy::EvpKey public_key_from_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!k) throw AttestError("bad_key", "not a PEM SubjectPublicKeyInfo");
  return policy::EvpKey(k);
}

}  // namespace redoubt::attest
