#include "attestation/verifier/ear_result.hpp"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"

namespace redoubt::attest {
namespace {
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
}

std::string jws_sign_es256(const nlohmann::json& claims, const policy::EvpKey& key, const std::string& kid) {
  const std::string header = nlohmann::json{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid}}.dump();
  const std::string payload = claims.dump();
  const std::string input = to_base64url(to_bytes(header)) + "." + to_base64url(to_bytes(payload));
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) <= 0 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(input.data()), input.size()) <= 0)
    throw AttestError("internal", "JWS signing failed", 500);
  Bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, reinterpret_cast<const uint8_t*>(input.data()), input.size()) <= 0)
    throw AttestError("internal", "JWS signing failed", 500);
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  if (!sig) throw AttestError("internal", "JWS signature decoding failed", 500);
  Bytes raw(64);  // RFC 7518 §3.4: R || S, 32 bytes each
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32);
  return input + "." + to_base64url(raw);
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
