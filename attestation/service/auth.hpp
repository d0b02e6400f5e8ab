// Who may call the verifier API (issue 13): signed bearer tokens (RFC 6750) —
// a JWS ES256 (RFC 7515/7518) JWT (RFC 7519) issued by `redoubt verifier token
// issue` with the fleet's token-issuer key and verified against its configured
// public key — carrying one role: admin, relying-party, or endpoint (bound to
// one endpoint id). docs/verifier-auth.md says why tokens and not mutual TLS.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "policy/host/keys.hpp"

namespace redoubt::attest {

enum class Role : uint8_t { admin = 1, relying_party = 2, endpoint = 4 };
using RoleSet = uint8_t;  // a bit per Role
constexpr RoleSet roles(Role r) { return static_cast<RoleSet>(r); }
constexpr RoleSet operator|(Role a, Role b) { return static_cast<RoleSet>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b)); }
constexpr RoleSet operator|(RoleSet a, Role b) { return static_cast<RoleSet>(a | static_cast<uint8_t>(b)); }

const char* role_name(Role r);                  // "admin" | "relying-party" | "endpoint"
std::optional<Role> parse_role(const std::string& s);

inline constexpr const char* kTokenAudience = "redoubt-verifier";  // RFC 7519 §4.1.3 aud
inline constexpr int64_t kMaxTokenLifetime = 400LL * 24 * 3600;     // exp - iat at most this

struct Principal {
  Role role = Role::relying_party;
  std::string subject;   // sub: who (a person, a service, an endpoint)
  std::string endpoint;  // endpoint role: the only endpoint id it may act for
  std::string token_id;  // jti
};

// Issues a token; ttl_s in 1..kMaxTokenLifetime. An endpoint token needs `endpoint`, others must not have one.
std::string issue_token(const policy::EvpKey& issuer_key, Role role, const std::string& subject, const std::string& endpoint, int64_t ttl_s,
                        int64_t now);

class TokenVerifier {
 public:
  explicit TokenVerifier(policy::EvpKey issuer_public);
  // `authorization` is the Authorization header value ("" = absent). Throws AttestError 401:
  // unauthenticated (none), bad_token (malformed, wrong signature/audience/claims), token_expired.
  Principal verify(const std::string& authorization, int64_t now) const;

 private:
  policy::EvpKey key_;
};

}  // namespace redoubt::attest
