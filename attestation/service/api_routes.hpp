// Every route of the verifier API in one table (issue 13): method, path
// pattern, the roles that may call it and whether an endpoint token may act
// only for the endpoint named in the path. http_api.cpp registers exactly
// these, and tests/attestation/attest_auth_test.cpp walks exactly these, so a
// route cannot be added without saying who may call it. docs/api.md lists them.
#pragma once
#include <vector>

#include "attestation/service/auth.hpp"

namespace redoubt::attest {

enum class RouteId {
  info,
  list_endpoints,
  enrol,
  get_endpoint,
  delete_endpoint,
  activate,
  nonce,
  evidence,
  verify,
  verdict,
  get_reference_values,
  put_reference_values,
  healthz,
  readyz,
  metrics,
  status_page,
  fleet,
  jwks,
  set_group,
  reference_history,
  rollback_reference_values,
  revoke_token,
};

struct ApiRoute {
  RouteId id;
  const char* method;   // GET | POST | PUT | DELETE
  const char* pattern;  // cpp-httplib regex; group 1 is the endpoint id or verdict number where there is one
  const char* example;  // a concrete path matching it (tests)
  RoleSet allowed;      // 0 = public (health probes only)
  bool own_endpoint;    // an endpoint token may call it only for the id in the path
  bool has_body;
};

const std::vector<ApiRoute>& api_routes();
const char* route_name(RouteId id);

}  // namespace redoubt::attest
