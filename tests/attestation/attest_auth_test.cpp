// Issue 13, authentication and roles (docs/verifier-auth.md): EVERY route of
// the one route table (attestation/service/api_routes.cpp) × {no credentials,
// each wrong role, the right roles}: 401 without a valid token, 403 with the
// wrong role (or an endpoint token for another id), never 401/403 with the
// right one. Forged, expired and foreign tokens are 401; `--insecure-no-auth`
// (the test-only switch) shows the same requests succeed with the protection off.
// The access log names who did what.
#define BOOST_TEST_MODULE attest_auth_test
#include <boost/test/unit_test.hpp>
#include <fstream>

#include "attestation/service/api_routes.hpp"
#include "attestation/service/verifier_service.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/service_world.hpp"

using namespace redoubt;
using namespace redoubt::test;
using nlohmann::json;

namespace {

std::pair<int, json> call(const std::string& url, const attest::ApiRoute& r, const std::string& bearer, const std::string& path_override = "") {
  Http h(url, bearer);
  const std::string path = path_override.empty() ? r.example : path_override;
  const std::string m = r.method;
  if (m == "GET") return h.get(path);
  if (m == "DELETE") return h.del(path);
  if (m == "PUT") return h.put(path, json::object());
  return h.post(path, json::object());
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

struct AuthFixture {
  ServiceWorld w;
  std::unique_ptr<VerifierProcess> v;
  std::string bearer_of(const std::string& role, const std::string& ep = "", int64_t ttl = 3600) const { return slurp(w.token_file(role, ep, ttl)); }
  AuthFixture() {
    auto args = w.verifier_args();
    args.insert(args.end(), {"--db", (w.dir / "auth.db").string(), "--access-log", (w.dir / "access.jsonl").string()});
    v = std::make_unique<VerifierProcess>(args, w.dir / "auth.out");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_refuses_missing_and_wrong_credentials) {
  AuthFixture f;
  const std::map<std::string, std::string> bearer = {{"admin", f.w.admin_bearer},
                                                     {"relying-party", f.w.rp_bearer},
                                                     {"endpoint", f.bearer_of("endpoint", "ep-1")}};
  const std::string other_endpoint = f.bearer_of("endpoint", "ep-2");
  int public_routes = 0;
  BOOST_TEST_REQUIRE(attest::api_routes().size() == 22u);
  for (const attest::ApiRoute& r : attest::api_routes()) {
    BOOST_TEST_CONTEXT(r.method << " " << r.example) {
      auto [c0, j0] = call(f.v->url, r, "");
      if (r.allowed == 0) {  // health probes only: open to load balancers
        ++public_routes;
        const bool answered = c0 == 200 || c0 == 503;
        BOOST_TEST(answered, c0 << " " << j0.dump());
        continue;
      }
      BOOST_TEST(c0 == 401, j0.dump());
      BOOST_TEST(j0.value("error", "") == "unauthenticated", j0.dump());
      for (const auto& [role, tok] : bearer) {
        const bool allowed = (r.allowed & attest::roles(*attest::parse_role(role))) != 0;
        auto [c, j] = call(f.v->url, r, tok);
        BOOST_TEST_CONTEXT(role) {
          if (allowed) {
            const bool past_auth = (c != 401 && c != 403 && c != 404) || j.value("error", "") == "unknown_endpoint" || j.value("error", "") == "unknown_verdict";
            BOOST_TEST(past_auth, c << " " << j.dump());
            BOOST_TEST(c != 401);
            BOOST_TEST(c != 403);
          } else {
            BOOST_TEST(c == 403, j.dump());
            BOOST_TEST(j.value("error", "") == "forbidden", j.dump());
          }
        }
      }
      if (r.own_endpoint) {  // an endpoint token acts for its own id only
        auto [c, j] = call(f.v->url, r, other_endpoint);
        BOOST_TEST(c == 403, j.dump());
        BOOST_TEST(j.value("reason", "").find("\"ep-2\" only") != std::string::npos, j.dump());
      }
    }
  }
  BOOST_TEST(public_routes == 4);  // /healthz, /readyz, /status (no data in it), /.well-known/jwks.json
}

BOOST_AUTO_TEST_CASE(forged_expired_and_foreign_tokens_are_refused) {
  AuthFixture f;
  const attest::ApiRoute& list = attest::api_routes()[1];
  BOOST_TEST_REQUIRE(std::string(list.example) == "/v1/endpoints");
  auto expect401 = [&](const std::string& tok, const std::string& code) {
    auto [c, j] = call(f.v->url, list, tok);
    BOOST_TEST(c == 401, j.dump());
    BOOST_TEST(j.value("error", "") == code, j.dump());
  };
  // Signed by another key (an attacker's own issuer).
  policy::EvpKey mine = policy::generate_key("P-256");
  expect401(attest::issue_token(mine, attest::Role::admin, "mallory", "", 3600, attest::unix_now()), "bad_token");
  // Expired: issued two hours ago for one hour.
  const policy::EvpKey issuer = policy::load_private_key(f.w.issuer_key);
  expect401(attest::issue_token(issuer, attest::Role::admin, "old", "", 3600, attest::unix_now() - 7200), "token_expired");
  // A JWS by the right key but for another audience (as an EAR is): not a credential.
  expect401(attest::jws_sign_es256(json{{"role", "admin"}, {"iat", attest::unix_now()}, {"exp", attest::unix_now() + 60}}, issuer, "x"), "bad_token");
  // One bit of the signature flipped.
  std::string t = f.w.admin_bearer;
  t[t.size() - 3] = t[t.size() - 3] == 'A' ? 'B' : 'A';
  expect401(t, "bad_token");
  expect401("not-a-token", "bad_token");
  // The right token is accepted (control).
  auto [c, j] = call(f.v->url, list, f.w.admin_bearer);
  BOOST_TEST(c == 200, j.dump());
}

BOOST_AUTO_TEST_CASE(without_auth_flags_the_verifier_does_not_start_and_the_insecure_switch_opens_everything) {
  ServiceWorld w;
  CliResult r = run_redoubt({"verifier", "serve", "--listen", "127.0.0.1:0", "--db", (w.dir / "n.db").string()});
  BOOST_TEST(r.exit_code == 2, r.out + r.err);
  BOOST_TEST(r.err.find("--token-issuer") != std::string::npos, r.err);
  BOOST_TEST(r.out.find("listening on") == std::string::npos, r.out);
  // Protection off (test-only switch): the same anonymous requests now pass (and a warning is printed).
  auto args = std::vector<std::string>{"--db", (w.dir / "open.db").string(), "--insecure-no-auth", "--manufacturer-ca", w.ca_cert};
  VerifierProcess v(args, w.dir / "open.out");
  auto [c, j] = Http(v.url, "").get("/v1/endpoints");
  BOOST_TEST(c == 200, j.dump());
  auto [c2, j2] = Http(v.url, "").del("/v1/endpoints/ep-1");
  BOOST_TEST(c2 == 404, j2.dump());  // past the auth check: there is no such endpoint
  BOOST_TEST(v.proc.output().find("WARNING: --insecure-no-auth") != std::string::npos, v.proc.output());
}

BOOST_AUTO_TEST_CASE(the_access_log_names_who_did_what) {
  AuthFixture f;
  Http(f.v->url, f.w.rp_bearer).get("/v1/endpoints/lab-7");
  Http(f.v->url, "").get("/v1/endpoints");
  Http(f.v->url, f.w.rp_bearer).del("/v1/endpoints/lab-7");
  std::vector<json> lines;
  std::ifstream in(f.w.dir / "access.jsonl");
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  BOOST_TEST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(lines[0]["who"] == "relying-party");
  BOOST_TEST(lines[0]["role"] == "relying-party");
  BOOST_TEST(lines[0]["route"] == "get_endpoint");
  BOOST_TEST(lines[0]["endpoint"] == "lab-7");
  BOOST_TEST(lines[0]["status"] == 404);
  BOOST_TEST(lines[0]["error"] == "unknown_endpoint");
  BOOST_TEST(lines[1]["who"].is_null());
  BOOST_TEST(lines[1]["status"] == 401);
  BOOST_TEST(lines[1]["error"] == "unauthenticated");
  BOOST_TEST(lines[2]["method"] == "DELETE");
  BOOST_TEST(lines[2]["status"] == 403);
  BOOST_TEST(lines[2]["error"] == "forbidden");
}

// A second `verifier serve` on a port in use fails with a clear error (cpp-httplib's SO_REUSEPORT is
// not used: with it both "listened" and split the requests between two databases).
BOOST_AUTO_TEST_CASE(a_second_verifier_on_the_same_port_is_refused) {
  AuthFixture f;
  const std::string hostport = f.v->url.substr(std::string("http://").size());
  auto args = f.w.verifier_args();
  std::vector<std::string> a = {"verifier", "serve", "--listen", hostport, "--db", (f.w.dir / "second.db").string()};
  a.insert(a.end(), args.begin(), args.end());
  CliResult r = run_redoubt(a);
  BOOST_TEST(r.exit_code != 0, r.out + r.err);
  BOOST_TEST(r.out.find("listening on") == std::string::npos, r.out);
  BOOST_TEST(r.err.find("cannot listen on " + hostport + ": the address is already in use") != std::string::npos, r.err);
  // The first one still answers.
  BOOST_TEST(Http(f.v->url, "").get("/healthz").first == 200);
}
