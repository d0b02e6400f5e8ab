#include "policy/host/acm_build.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "arch/intel/acm.hpp"

namespace redoubt::policy {

namespace at = redoubt::arch::txt;

namespace {

// Modulus and exponent of an RSA key as the ACM header stores them: little-endian.
void rsa_public_le(const EvpKey& key, uint8_t (&mod)[256], uint32_t& exp) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key.get()) != 2048)
    throw AcmError("acm: the chipset key must be RSA-2048");
  if (!EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) ||
      !EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e))
    throw AcmError("acm: cannot read the RSA public key");
  int ok = BN_bn2lebinpad(n, mod, 256) == 256 && BN_num_bytes(e) <= 4;
  exp = ok ? static_cast<uint32_t>(BN_get_word(e)) : 0;
  BN_free(n);
  BN_free(e);
  if (!ok) throw AcmError("acm: RSA modulus is not 256 bytes or the exponent exceeds 32 bits");
}

}  // namespace

EvpKey generate_chipset_key() {
  EVP_PKEY* k = EVP_RSA_gen(2048);
  if (!k) throw AcmError("acm: RSA-2048 key generation failed");
  return EvpKey(k);
}

std::vector<uint8_t> acm_signed_bytes(std::span<const uint8_t> acm) {
  if (acm.size() < at::kAcmUserAreaOffset) throw AcmError("acm: image shorter than its header and scratch area");
  std::vector<uint8_t> m(at::kAcmSignedHeaderBytes + (acm.size() - at::kAcmUserAreaOffset));
  std::memcpy(m.data(), acm.data(), at::kAcmSignedHeaderBytes);
  std::memcpy(m.data() + at::kAcmSignedHeaderBytes, acm.data() + at::kAcmUserAreaOffset, acm.size() - at::kAcmUserAreaOffset);
  return m;
}

std::array<uint8_t, 32> acm_key_hash(std::span<const uint8_t> acm) {
  if (acm.size() < sizeof(at::AcmHeader)) throw AcmError("acm: image shorter than its header");
  std::array<uint8_t, 32> h{};
  SHA256(acm.data() + offsetof(at::AcmHeader, rsa_pub_key), 256 + 4, h.data());
  return h;
}

std::array<uint8_t, 32> chipset_key_hash(const EvpKey& key) {
  uint8_t buf[260];
  uint32_t exp = 0;
  rsa_public_le(key, reinterpret_cast<uint8_t(&)[256]>(buf), exp);
  std::memcpy(buf + 256, &exp, 4);
  std::array<uint8_t, 32> h{};
  SHA256(buf, sizeof buf, h.data());
  return h;
}

std::vector<uint8_t> build_sinit_acm(const EvpKey& key, const AcmOptions& opts) {
  at::AcmInfoTable info{};
  std::memcpy(info.uuid, at::kAcmInfoTableUuid, 16);
  info.chipset_acm_type = at::kAcmTypeSinit;
  info.version = at::kAcmInfoTableVersion;
  info.length = sizeof info;
  info.os_sinit_data_ver = 7;
  info.min_mle_header_ver = opts.min_mle_header_version;
  info.capabilities = (1u << 2) | (1u << 5) | (1u << 9);  // ECX page table, D/A PCR mapping, TCG 2.0 event log (mle.hpp mle_caps)
  info.acm_version = opts.acm_version;

  size_t user = sizeof info + opts.code.size();
  size_t total = (at::kAcmUserAreaOffset + user + 63) & ~size_t{63};  // SDM: ECX at SENTER is a multiple of 64
  std::vector<uint8_t> img(total, 0);
  std::memcpy(img.data() + at::kAcmUserAreaOffset, &info, sizeof info);
  std::copy(opts.code.begin(), opts.code.end(), img.begin() + at::kAcmUserAreaOffset + sizeof info);

  at::AcmHeader h{};
  h.module_type = at::kAcmModuleTypeChipset;
  h.header_len = at::kAcmHeaderDwords;
  h.header_version = at::kAcmHeaderVersion0;
  h.chipset_id = opts.chipset_id;
  h.module_vendor = at::kAcmVendorIntel;
  h.date = opts.date;
  h.size = static_cast<uint32_t>(total / 4);
  h.txt_svn = opts.txt_svn;
  h.entry_point = at::kAcmUserAreaOffset + sizeof info;  // "SINIT's code" begins after the table
  h.key_size = at::kAcmKeySizeDwords;
  h.scratch_size = at::kAcmScratchDwords;
  rsa_public_le(key, h.rsa_pub_key, h.rsa_pub_exp);
  std::memcpy(img.data(), &h, sizeof h);

  std::vector<uint8_t> msg = acm_signed_bytes(img);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  size_t sig_len = 256;
  uint8_t sig[256];
  bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_DigestSign(ctx, sig, &sig_len, msg.data(), msg.size()) == 1 && sig_len == 256;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw AcmError("acm: RSA signing failed");
  std::reverse(sig, sig + 256);  // the header stores the signature little-endian
  std::memcpy(img.data() + offsetof(at::AcmHeader, rsa_sig), sig, 256);
  return img;
}

}  // namespace redoubt::policy
