#include "attestation/verifier/ear_result.hpp"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"

namespace redoubt::attest {
namespace {
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
}

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Per thread, the signing context for the last key used, initialised once (EVP_DigestSignInit fetches
// the algorithms from the provider: most of a signature's cost outside the EC arithmetic) and copied for
// every signature. It holds a reference to the key, so the key's address is never reused while cached.
struct SignTemplate {
  EVP_PKEY* key = nullptr;
  EVP_MD_CTX* ctx = nullptr;
  std::string kid, header_b64;
  ~SignTemplate() { reset(); }
  void reset() {
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    ctx = nullptr;
    key = nullptr;
  }
  EVP_MD_CTX* for_key(EVP_PKEY* k) {
    if (k == key && ctx) return ctx;
    reset();
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k) <= 0) {
      reset();
      throw AttestError("internal", "JWS signing failed", 500);
    }
    EVP_PKEY_up_ref(k);
    key = k;
    return ctx;
  }
};
thread_local SignTemplate tl_sign;

}  // namespace

std::string jws_sign_es256(const nlohmann::json& claims, const policy::EvpKey& key, const std::string& kid) {
  return jws_sign_es256_payload(claims.dump(), key, kid);
}

std::string jws_sign_es256_payload(const std::string& payload, const policy::EvpKey& key, const std::string& kid,
                                   std::array<uint8_t, 64>* raw_signature) {
  if (tl_sign.kid != kid || tl_sign.header_b64.empty()) {
    tl_sign.header_b64 = to_base64url(bytes_of(nlohmann::json{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}}.dump()));
    tl_sign.kid = kid;
  }
  std::string input;
  input.reserve(tl_sign.header_b64.size() + 1 + (payload.size() + 2) / 3 * 4 + 1 + 86);  // one allocation: header.payload.signature
  input += tl_sign.header_b64;
  input += '.';
  input += to_base64url(bytes_of(payload));
  EVP_MD_CTX* tmpl = tl_sign.for_key(key.get());
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  uint8_t der[160];  // an ECDSA-Sig-Value: 72 bytes at most over P-256 (139 over P-521)
  size_t len = sizeof der;
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), tmpl) != 1 || EVP_DigestSignUpdate(ctx.get(), input.data(), input.size()) <= 0 ||
      EVP_DigestSignFinal(ctx.get(), der, &len) <= 0)
    throw AttestError("internal", "JWS signing failed", 500);
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  if (!sig) throw AttestError("internal", "JWS signature decoding failed", 500);
  uint8_t raw[64];  // RFC 7518 §3.4: R || S, 32 bytes each
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32);
  input += '.';
  input += to_base64url(raw);
  if (raw_signature) std::memcpy(raw_signature->data(), raw, sizeof raw);
  return input;
}

nlohmann::json jws_verify_es256(const std::string& token, const policy::EvpKey& key) {
  const size_t d1 = token.find('.'), d2 = token.rfind('.');
  if (d1 == std::string::npos || d1 == d2) throw AttestError("bad_jws", "not a JWS compact serialization");
  const Bytes header = from_base64url(std::string_view(token).substr(0, d1), "JWS header");
  const Bytes payload = from_base64url(std::string_view(token).substr(d1 + 1, d2 - d1 - 1), "JWS payload");
  const Bytes raw = from_base64url(std::string_view(token).substr(d2 + 1), "JWS signature");
  auto h = nlohmann::json::parse(header.begin(), header.end(), nullptr, false);
  if (h.is_discarded() || !h.is_object() || h.value("alg", "") != "ES256") throw AttestError("bad_jws", "JWS header is not {\"alg\":\"ES256\"}");
  if (raw.size() != 64) throw AttestError("bad_jws", "ES256 signature is not 64 bytes");
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &der);
  const std::string input = token.substr(0, d2);
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok = n > 0 && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) > 0 &&
                  EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(n), reinterpret_cast<const uint8_t*>(input.data()), input.size()) == 1;
  OPENSSL_free(der);
  if (!ok) throw AttestError("bad_jws", "the JWS signature does not verify with the verifier key");
  auto claims = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (claims.is_discarded()) throw AttestError("bad_jws", "JWS payload is not JSON");
  return claims;
}

}  // namespace redoubt::attest
