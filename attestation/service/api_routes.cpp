#include "attestation/service/api_routes.hpp"

namespace redoubt::attest {

namespace {
constexpr RoleSet kAdmin = roles(Role::admin);
constexpr RoleSet kReaders = Role::admin | Role::relying_party;
constexpr RoleSet kEndpoint = Role::admin | Role::endpoint;
constexpr RoleSet kAnyone = Role::admin | Role::relying_party | Role::endpoint;
constexpr RoleSet kPublic = 0;  // no token: health probes, the status page's empty shell, the JWKS
constexpr const char* kId = R"(/v1/endpoints/([^/]+))";
}  // namespace

const std::vector<ApiRoute>& api_routes() {
  // Admin: the fleet's operator (enrol, delete, reference values) and a superset of the others.
  // Relying party: reads verdicts. Endpoint: nonce, evidence and activation for its own id only.
  static const std::vector<ApiRoute> t = {
      {RouteId::info, "GET", "/v1/info", "/v1/info", kAnyone, false, false},
      {RouteId::list_endpoints, "GET", "/v1/endpoints", "/v1/endpoints", kReaders, false, false},
      {RouteId::enrol, "POST", "/v1/endpoints", "/v1/endpoints", kAdmin, false, true},
      {RouteId::get_endpoint, "GET", kId, "/v1/endpoints/ep-1", kReaders, false, false},
      {RouteId::delete_endpoint, "DELETE", kId, "/v1/endpoints/ep-1", kAdmin, false, false},
      {RouteId::activate, "POST", R"(/v1/endpoints/([^/]+)/activate)", "/v1/endpoints/ep-1/activate", kEndpoint, true, true},
      {RouteId::nonce, "POST", R"(/v1/endpoints/([^/]+)/nonce)", "/v1/endpoints/ep-1/nonce", kEndpoint, true, true},
      {RouteId::evidence, "POST", R"(/v1/endpoints/([^/]+)/evidence)", "/v1/endpoints/ep-1/evidence", kEndpoint, true, true},
      {RouteId::verify, "POST", "/v1/verify", "/v1/verify", kReaders, false, true},
      {RouteId::verdict, "GET", R"(/v1/verdicts/(\d{1,18}))", "/v1/verdicts/1", kReaders, false, false},
      {RouteId::get_reference_values, "GET", "/v1/reference-values", "/v1/reference-values", kReaders, false, false},
      {RouteId::put_reference_values, "PUT", "/v1/reference-values", "/v1/reference-values", kAdmin, false, true},
      {RouteId::healthz, "GET", "/healthz", "/healthz", kPublic, false, false},
      {RouteId::readyz, "GET", "/readyz", "/readyz", kPublic, false, false},
      {RouteId::metrics, "GET", "/metrics", "/metrics", kReaders, false, false},
      // The status page holds no data (its script reads /v1/fleet with the user's token); the JWKS is a public key.
      {RouteId::status_page, "GET", "/status", "/status", kPublic, false, false},
      {RouteId::fleet, "GET", "/v1/fleet", "/v1/fleet", kReaders, false, false},
      {RouteId::jwks, "GET", "/.well-known/jwks.json", "/.well-known/jwks.json", kPublic, false, false},
      // Lifecycle and policy (store schema 4): groups, the reference-value history and rollback, token revocation.
      {RouteId::set_group, "PUT", R"(/v1/endpoints/([^/]+)/group)", "/v1/endpoints/ep-1/group", kAdmin, false, true},
      {RouteId::reference_history, "GET", "/v1/reference-values/history", "/v1/reference-values/history", kReaders, false, false},
      {RouteId::rollback_reference_values, "POST", "/v1/reference-values/rollback", "/v1/reference-values/rollback", kAdmin, false, true},
      {RouteId::revoke_token, "POST", "/v1/tokens/revoke", "/v1/tokens/revoke", kAdmin, false, true},
  };
  return t;
}

const char* route_name(RouteId id) {
  switch (id) {
    case RouteId::info: return "info";
    case RouteId::list_endpoints: return "list_endpoints";
    case RouteId::enrol: return "enrol";
    case RouteId::get_endpoint: return "get_endpoint";
    case RouteId::delete_endpoint: return "delete_endpoint";
    case RouteId::activate: return "activate";
    case RouteId::nonce: return "nonce";
    case RouteId::evidence: return "evidence";
    case RouteId::verify: return "verify";
    case RouteId::verdict: return "verdict";
    case RouteId::get_reference_values: return "get_reference_values";
    case RouteId::put_reference_values: return "put_reference_values";
    case RouteId::healthz: return "healthz";
    case RouteId::readyz: return "readyz";
    case RouteId::metrics: return "metrics";
    case RouteId::status_page: return "status_page";
    case RouteId::fleet: return "fleet";
    case RouteId::jwks: return "jwks";
    case RouteId::set_group: return "set_group";
    case RouteId::reference_history: return "reference_history";
    case RouteId::rollback_reference_values: return "rollback_reference_values";
    case RouteId::revoke_token: return "revoke_token";
  }
  return "?";
}

}  // namespace redoubt::attest
