#include "policy/host/cose_sign.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include <memory>

#include "policy/host/cbor_write.hpp"

namespace redoubt::policy {
namespace {

std::string ossl_err() {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

std::vector<uint8_t> cose_sign1_sign(std::span<const uint8_t> payload, const EvpKey& key) {
  const PublicKey pk = cose_public_key(key);
  uint8_t kid[32];
  key_id(pk, kid);
  const bool p384 = pk.alg == CoseAlg::es384;
  const size_t coord = p384 ? 48 : 32;

  // Protected header: {1: alg, 4: kid}, keys ascending (RFC 9052 §3, §9).
  CborWriter prot;
  prot.map(2).uint(1).integer(static_cast<int64_t>(pk.alg)).uint(4).bytes(kid);
  const std::vector<uint8_t>& prot_bytes = prot.data();

  // Sig_structure (RFC 9052 §4.4): ["Signature1", protected, external_aad = h'', payload].
  CborWriter tbs;
  tbs.array(4).text("Signature1").bytes(prot_bytes).bytes({}).bytes(payload);

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = p384 ? EVP_sha384() : EVP_sha256();  // RFC 9053 §2.1
  size_t der_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len, tbs.data().data(), tbs.data().size()) != 1)
    throw SignError("cose: cannot sign (is this a private key?): " + ossl_err());
  std::vector<uint8_t> der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, tbs.data().data(), tbs.data().size()) != 1)
    throw SignError("cose: signing failed: " + ossl_err());

  // OpenSSL produces DER ECDSA-Sig-Value; COSE wants raw r||s (RFC 9053 §2.1).
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)), ECDSA_SIG_free);
  if (!sig) throw SignError("cose: cannot decode the DER signature: " + ossl_err());
  std::vector<uint8_t> raw(2 * coord);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), static_cast<int>(coord)) != static_cast<int>(coord) ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + coord, static_cast<int>(coord)) != static_cast<int>(coord))
    throw SignError("cose: signature component larger than the curve");

  CborWriter out;
  out.tag(18).array(4).bytes(prot_bytes).map(0).bytes(payload).bytes(raw);  // RFC 9052 §2 tag 18
  return out.take();
}

}  // namespace redoubt::policy
