#include "attestation/service/auth.hpp"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"
#include "attestation/verifier/ear_result.hpp"

namespace redoubt::attest {
using nlohmann::json;

const char* role_name(Role r) {
  switch (r) {
    case Role::admin: return "admin";
    case Role::relying_party: return "relying-party";
    case Role::endpoint: return "endpoint";
  }
  return "?";
}

std::optional<Role> parse_role(const std::string& s) {
  for (Role r : {Role::admin, Role::relying_party, Role::endpoint})
    if (s == role_name(r)) return r;
  return std::nullopt;
}

namespace {
void check_endpoint_claim(Role role, const std::string& endpoint) {
  if (role == Role::endpoint && endpoint.empty()) throw AttestError("bad_token", "an endpoint token must name its endpoint (\"endpoint\" claim)", 401);
  if (role != Role::endpoint && !endpoint.empty()) throw AttestError("bad_token", "only an endpoint token names an endpoint", 401);
}
}  // namespace

std::string issue_token(const policy::EvpKey& issuer_key, Role role, const std::string& subject, const std::string& endpoint, int64_t ttl_s,
                        int64_t now) {
  if (ttl_s < 1 || ttl_s > kMaxTokenLifetime) throw AttestError("bad_request", "a token lives 1 s .. 400 days");
  check_endpoint_claim(role, endpoint);
  Bytes jti(16);
  if (RAND_bytes(jti.data(), static_cast<int>(jti.size())) != 1) throw AttestError("internal", "RAND_bytes failed", 500);
  json claims = {{"aud", kTokenAudience}, {"sub", subject}, {"role", role_name(role)}, {"iat", now}, {"exp", now + ttl_s}, {"jti", to_hex(jti)}};
  if (!endpoint.empty()) claims["endpoint"] = endpoint;
  return jws_sign_es256(claims, issuer_key, policy::key_id_hex(issuer_key));
}

TokenVerifier::TokenVerifier(policy::EvpKey issuer_public) : key_(std::move(issuer_public)) {}

Principal TokenVerifier::verify(const std::string& authorization, int64_t now) const {
  if (authorization.empty()) throw AttestError("unauthenticated", "no credentials: send Authorization: Bearer <token> (`redoubt verifier token issue`)", 401);
  // RFC 6750 §2.1: the scheme is case-insensitive, one space, then the token.
  if (authorization.size() < 8 || (authorization.compare(0, 7, "Bearer ") != 0 && authorization.compare(0, 7, "bearer ") != 0))
    throw AttestError("unauthenticated", "the Authorization header is not \"Bearer <token>\" (RFC 6750 §2.1)", 401);
  const std::string token = authorization.substr(7);
  if (token.size() > 4096) throw AttestError("bad_token", "the bearer token is longer than 4096 bytes", 401);
  json c;
  try {
    c = jws_verify_es256(token, key_);
  } catch (const AttestError& e) {
    throw AttestError("bad_token", "the bearer token is not signed by this verifier's token issuer (" + e.reason() + ")", 401);
  }
  auto str = [&](const char* k) -> std::string {
    if (!c.is_object() || !c.contains(k)) return "";
    if (!c[k].is_string()) throw AttestError("bad_token", std::string("token claim \"") + k + "\" is not a string", 401);
    return c[k].get<std::string>();
  };
  // RFC 7519 §4.1.3: a token for another service (an EAR of this verifier, say) is not a credential here.
  if (str("aud") != kTokenAudience) throw AttestError("bad_token", std::string("the token's audience is not \"") + kTokenAudience + "\"", 401);
  if (!c.contains("exp") || !c["exp"].is_number_integer() || !c.contains("iat") || !c["iat"].is_number_integer())
    throw AttestError("bad_token", "the token lacks an integer \"exp\" or \"iat\"", 401);
  const int64_t exp = c["exp"].get<int64_t>(), iat = c["iat"].get<int64_t>();
  if (exp - iat > kMaxTokenLifetime) throw AttestError("bad_token", "the token lives longer than 400 days", 401);
  if (exp <= now) throw AttestError("token_expired", "the token expired " + std::to_string(now - exp) + " s ago (RFC 7519 §4.1.4)", 401);
  if (iat > now + 300) throw AttestError("bad_token", "the token is issued in the future", 401);
  const auto role = parse_role(str("role"));
  if (!role) throw AttestError("bad_token", "the token's role is not admin, relying-party or endpoint", 401);
  Principal p;
  p.role = *role;
  p.subject = str("sub");
  p.endpoint = str("endpoint");
  p.token_id = str("jti");
  check_endpoint_claim(p.role, p.endpoint);
  return p;
}

}  // namespace redoubt::attest
