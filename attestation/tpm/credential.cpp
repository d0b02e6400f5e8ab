#include "attestation/tpm/credential.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
namespace {

void put_u32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void put_label(Bytes& b, const char* label) {
  b.insert(b.end(), label, label + std::strlen(label));
  b.push_back(0);  // the label includes its terminating NUL (Part 1 §11.4.10.2)
}
void append(Bytes& b, std::span<const uint8_t> s) { b.insert(b.end(), s.begin(), s.end()); }

Bytes hmac(TPMI_ALG_HASH hash, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_get_digestbyname(tpm_hash_ossl_name(hash)), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out, &len))
    throw AttestError("internal", "HMAC failed", 500);
  return Bytes(out, out + len);
}

using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

}  // namespace

Bytes kdfa(TPMI_ALG_HASH hash, std::span<const uint8_t> key, const char* label, std::span<const uint8_t> context_u,
           std::span<const uint8_t> context_v, uint32_t bits) {
  Bytes out;
  for (uint32_t i = 1; out.size() * 8 < bits; ++i) {
    Bytes in;
    put_u32(in, i);
    put_label(in, label);
    append(in, context_u);
    append(in, context_v);
    put_u32(in, bits);
    append(out, hmac(hash, key, in));
  }
  out.resize((bits + 7) / 8);
  return out;
}

Bytes kdfe(TPMI_ALG_HASH hash, std::span<const uint8_t> z, const char* label, std::span<const uint8_t> party_u,
           std::span<const uint8_t> party_v, uint32_t bits) {
  Bytes out;
  for (uint32_t i = 1; out.size() * 8 < bits; ++i) {
    Bytes in;
    put_u32(in, i);
    append(in, z);
    put_label(in, label);
    append(in, party_u);
    append(in, party_v);
    append(out, tpm_hash(hash, in));
  }
  out.resize((bits + 7) / 8);
  return out;
}

namespace {

// ECC secret sharing (Part 1 §11.4.10.3, Annex C.6.4): one-pass ECDH with an ephemeral key; returns the seed.
Bytes ecc_seed(const TPMT_PUBLIC& ek, size_t hsize, MadeCredential& out) {
  // 1. Ephemeral ECDH on the EK's curve (Part 1 §C.6.4): Z = x([d_e]Q_ek).
  policy::EvpKey ek_key = public_to_evp(ek);
  const char* group = ek.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 ? "P-256" : "P-384";
  policy::EvpKey eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
  if (!eph) throw AttestError("internal", "ephemeral key generation failed", 500);
  PkeyCtx dctx(EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr), EVP_PKEY_CTX_free);
  size_t zlen = 0;
  if (!dctx || EVP_PKEY_derive_init(dctx.get()) <= 0 || EVP_PKEY_derive_set_peer(dctx.get(), ek_key.get()) <= 0 ||
      EVP_PKEY_derive(dctx.get(), nullptr, &zlen) <= 0)
    throw AttestError("internal", "ECDH with the EK failed", 500);
  Bytes z(zlen);
  if (EVP_PKEY_derive(dctx.get(), z.data(), &zlen) <= 0) throw AttestError("internal", "ECDH derive failed", 500);
  z.resize(zlen);
  uint8_t point[133];
  size_t plen = 0;
  if (!EVP_PKEY_get_octet_string_param(eph.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &plen) || plen < 65)
    throw AttestError("internal", "cannot read the ephemeral point", 500);
  const size_t cs = (plen - 1) / 2;
  std::span<const uint8_t> eph_x(point + 1, cs), eph_y(point + 1 + cs, cs);
  std::span<const uint8_t> ek_x(ek.unique.ecc.x.buffer, ek.unique.ecc.x.size);

  // 2. seed = KDFe(nameAlg, Z, "IDENTITY", x_ephemeral, x_ek, bits(nameAlg)) — Part 1 §24.4 / §11.4.10.3.
  const Bytes seed = kdfe(ek.nameAlg, z, "IDENTITY", eph_x, ek_x, static_cast<uint32_t>(hsize * 8));
  TPMS_ECC_POINT ep{};
  ep.x.size = static_cast<uint16_t>(cs);
  std::memcpy(ep.x.buffer, eph_x.data(), cs);
  ep.y.size = static_cast<uint16_t>(cs);
  std::memcpy(ep.y.buffer, eph_y.data(), cs);
  size_t off = 0;
  if (Tss2_MU_TPMS_ECC_POINT_Marshal(&ep, out.secret.secret, sizeof out.secret.secret, &off) != TSS2_RC_SUCCESS)
    throw AttestError("internal", "cannot marshal the ephemeral point", 500);
  out.secret.size = static_cast<uint16_t>(off);
  return seed;
}

// RSA secret sharing (Part 1 Annex B.10.3): a random seed, RSAES-OAEP-encrypted to the EK with
// the EK's nameAlg (hash and MGF1) and the label "IDENTITY" including its NUL (B.10.4).
Bytes rsa_seed(const TPMT_PUBLIC& ek, size_t hsize, MadeCredential& out) {
  Bytes seed(hsize);
  if (RAND_bytes(seed.data(), static_cast<int>(hsize)) != 1) throw AttestError("internal", "RAND_bytes failed", 500);
  policy::EvpKey ek_key = public_to_evp(ek);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek_key.get(), nullptr), EVP_PKEY_CTX_free);
  const EVP_MD* md = EVP_get_digestbyname(tpm_hash_ossl_name(ek.nameAlg));
  static const char kLabel[] = "IDENTITY";
  unsigned char* label = static_cast<unsigned char*>(OPENSSL_memdup(kLabel, sizeof kLabel));  // with the NUL
  if (!ctx || !md || !label || EVP_PKEY_encrypt_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) <= 0 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof kLabel) <= 0) {
    OPENSSL_free(label);
    throw AttestError("internal", "RSA-OAEP set-up for the EK failed", 500);
  }
  size_t n = sizeof out.secret.secret;
  if (EVP_PKEY_encrypt(ctx.get(), out.secret.secret, &n, seed.data(), seed.size()) <= 0)
    throw AttestError("internal", "RSA-OAEP encryption to the EK failed", 500);
  out.secret.size = static_cast<uint16_t>(n);
  return seed;
}

}  // namespace

MadeCredential make_credential(const TPMT_PUBLIC& ek, std::span<const uint8_t> object_name, std::span<const uint8_t> credential) {
  if (ek.type != TPM2_ALG_ECC && ek.type != TPM2_ALG_RSA) throw AttestError("unsupported_ek", "the EK is neither ECC nor RSA");
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM;
  if ((ek.objectAttributes & need) != need || (ek.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
    throw AttestError("unsupported_ek", "the EK is not a fixedTPM restricted decryption key");
  if (ek.type == TPM2_ALG_RSA && ek.parameters.rsaDetail.keyBits != 2048 && ek.parameters.rsaDetail.keyBits != 3072)
    throw AttestError("unsupported_ek", "RSA EKs of 2048 or 3072 bits only");
  if (ek.type == TPM2_ALG_ECC && ek.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 && ek.parameters.eccDetail.curveID != TPM2_ECC_NIST_P384)
    throw AttestError("unsupported_ek", "ECC EKs on P-256 or P-384 only");
  const auto& sym = ek.type == TPM2_ALG_ECC ? ek.parameters.eccDetail.symmetric : ek.parameters.rsaDetail.symmetric;
  if (sym.algorithm != TPM2_ALG_AES || sym.mode.aes != TPM2_ALG_CFB || (sym.keyBits.aes != 128 && sym.keyBits.aes != 256))
    throw AttestError("unsupported_ek", "the EK's symmetric scheme is not AES-128/256-CFB");
  const size_t hsize = tpm_hash_size(ek.nameAlg);
  if (hsize == 0) throw AttestError("unsupported_ek", "unknown EK nameAlg");
  if (credential.size() > hsize) throw AttestError("internal", "credential longer than the EK nameAlg digest", 500);

  MadeCredential out;
  const Bytes seed = ek.type == TPM2_ALG_ECC ? ecc_seed(ek, hsize, out) : rsa_seed(ek, hsize, out);

  // 3. Part 1 §24.4: symKey = KDFa(nameAlg, seed, "STORAGE", name, -, keyBits); encIdentity = AES-CFB(IV = 0, TPM2B credential).
  const uint32_t key_bits = sym.keyBits.aes;
  const Bytes sym_key = kdfa(ek.nameAlg, seed, "STORAGE", object_name, {}, key_bits);
  Bytes plain = {static_cast<uint8_t>(credential.size() >> 8), static_cast<uint8_t>(credential.size())};
  append(plain, credential);
  Bytes enc(plain.size());
  {
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    const uint8_t iv[16] = {};
    int l1 = 0, l2 = 0;
    if (!c || !EVP_EncryptInit_ex(c.get(), key_bits == 128 ? EVP_aes_128_cfb128() : EVP_aes_256_cfb128(), nullptr, sym_key.data(), iv) ||
        !EVP_EncryptUpdate(c.get(), enc.data(), &l1, plain.data(), static_cast<int>(plain.size())) ||
        !EVP_EncryptFinal_ex(c.get(), enc.data() + l1, &l2))
      throw AttestError("internal", "AES-CFB failed", 500);
  }
  // 4. Part 1 §24.5: HMACkey = KDFa(nameAlg, seed, "INTEGRITY", -, -, bits(nameAlg)); outerHMAC = HMAC(encIdentity || name).
  const Bytes hmac_key = kdfa(ek.nameAlg, seed, "INTEGRITY", {}, {}, static_cast<uint32_t>(hsize * 8));
  Bytes mac_in = enc;
  append(mac_in, object_name);
  const Bytes outer = hmac(ek.nameAlg, hmac_key, mac_in);

  // TPM2B_ID_OBJECT.credential = TPM2B_DIGEST(outerHMAC) || encIdentity (Part 2 §11.4.5? "TPMS_ID_OBJECT").
  Bytes blob = {static_cast<uint8_t>(outer.size() >> 8), static_cast<uint8_t>(outer.size())};
  append(blob, outer);
  append(blob, enc);
  if (blob.size() > sizeof out.credential_blob.credential) throw AttestError("internal", "credential blob too large", 500);
  out.credential_blob.size = static_cast<uint16_t>(blob.size());
  std::memcpy(out.credential_blob.credential, blob.data(), blob.size());
  return out;
}

Bytes marshal_id_object(const TPM2B_ID_OBJECT& o) {
  Bytes out(sizeof o + 4);
  size_t off = 0;
  Tss2_MU_TPM2B_ID_OBJECT_Marshal(&o, out.data(), out.size(), &off);
  out.resize(off);
  return out;
}

Bytes marshal_encrypted_secret(const TPM2B_ENCRYPTED_SECRET& s) {
  Bytes out(sizeof s + 4);
  size_t off = 0;
  Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&s, out.data(), out.size(), &off);
  out.resize(off);
  return out;
}

TPM2B_ID_OBJECT unmarshal_id_object(std::span<const uint8_t> b) {
  TPM2B_ID_OBJECT o{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(b.data(), b.size(), &off, &o) != TSS2_RC_SUCCESS || off != b.size())
    throw AttestError("malformed_credential", "not a TPM2B_ID_OBJECT");
  return o;
}

TPM2B_ENCRYPTED_SECRET unmarshal_encrypted_secret(std::span<const uint8_t> b) {
  TPM2B_ENCRYPTED_SECRET s{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(b.data(), b.size(), &off, &s) != TSS2_RC_SUCCESS || off != b.size())
    throw AttestError("malformed_credential", "not a TPM2B_ENCRYPTED_SECRET");
  return s;
}

}  // namespace redoubt::attest
