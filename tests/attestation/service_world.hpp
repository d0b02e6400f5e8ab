// Shared set-up of the loopback service tests: a simulated manufacturer CA, a
// hypervisor-owner key, a policy authority, signed reference values (min SVN 2)
// and helpers to run endpoints and talk to a verifier.
#pragma once
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "tests/attestation/child_process.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

namespace redoubt::test {

struct ServiceWorld {
  TempDir dir;
  std::string ca_cert, owner_key, authority_pub, reference;
  // Bearer tokens (docs/verifier-auth.md) signed by issuer_key; the verifier gets --token-issuer issuer_pub.
  std::string issuer_key, issuer_pub, admin_token, rp_token;  // token files
  std::string admin_bearer, rp_bearer;                         // and their contents
  // allow_emulated_drtm: the reference values say "drtm": {"allow_emulated": true} (a QEMU harness's
  // emulated-DRTM marker is accepted, docs/attestation.md "Emulated DRTM (QEMU)"); default: refused.
  explicit ServiceWorld(bool allow_emulated_drtm = false);
  std::vector<std::string> verifier_args() const;  // --manufacturer-ca, --reference, --authority, --token-issuer
  // The verifier's store: `--db DIR/NAME.db` (SQLite), or with REDOUBT_TEST_STORE=postgresql a fresh
  // database on this process's own PostgreSQL server and `--key DIR/NAME.db.key.pem` (a shared store
  // needs the EAR key given; its public half is at DIR/NAME.db.pub.pem either way).
  std::vector<std::string> store_args(const std::string& name) const;
  // A token file for `role` (endpoint: for `endpoint`), made on first use; ttl in seconds.
  std::string token_file(const std::string& role, const std::string& endpoint = "", int64_t ttl = 3600) const;
  // `redoubt endpoint --verifier URL --id ID --state dir/ID ...extra`
  CliResult endpoint(const std::string& url, const std::string& id, const std::vector<std::string>& extra = {}) const;
  std::vector<std::string> endpoint_argv(const std::string& url, const std::string& id, const std::vector<std::string>& extra) const;
  // `redoubt quote --nonce N --state dir/STATE --out dir/OUT`; returns the evidence JSON of the files.
  nlohmann::json quote(const std::string& nonce_hex, const std::string& state, const std::string& out) const;
};

struct Http {
  // The bearer token every Http sends unless given one (a ServiceWorld sets it to its admin token).
  static inline std::string default_bearer;
  httplib::Client c;
  explicit Http(const std::string& url, const std::string& bearer = default_bearer) : c(url) {
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(30, 0);
    if (!bearer.empty()) c.set_bearer_token_auth(bearer.c_str());
  }
  // {status, json body (or {"raw": body} if not JSON)}
  std::pair<int, nlohmann::json> post(const std::string& path, const std::string& body);
  std::pair<int, nlohmann::json> post(const std::string& path, const nlohmann::json& body) { return post(path, body.dump()); }
  std::pair<int, nlohmann::json> get(const std::string& path);
  std::pair<int, nlohmann::json> put(const std::string& path, const nlohmann::json& body);
  std::pair<int, nlohmann::json> del(const std::string& path);
};

}  // namespace redoubt::test
