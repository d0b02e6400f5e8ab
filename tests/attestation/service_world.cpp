#include "tests/attestation/service_world.hpp"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "attestation/common/encoding.hpp"
#include "attestation/service/auth.hpp"
#include "attestation/service/verifier_service.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"
#include "tests/attestation/pg_server.hpp"

namespace redoubt::test {
using nlohmann::json;

ServiceWorld::ServiceWorld(bool allow_emulated_drtm) {
  CliResult r = run_redoubt({"manufacturer-ca", (dir / "ca").string()});
  if (r.exit_code != 0) throw std::runtime_error("manufacturer-ca: " + r.err);
  ca_cert = (dir / "ca" / "ca.cert.pem").string();
  policy::generate_key_files("P-256", (dir / "owner").string());
  policy::generate_key_files("P-256", (dir / "authority").string());
  owner_key = (dir / "owner.key.pem").string();
  authority_pub = (dir / "authority.pub.pem").string();
  policy::EvpKey owner = policy::load_public_key((dir / "owner.pub.pem").string());
  json ref = {{"type", "redoubt.reference-values/1"},
              {"id", "test-reference-1"},
              {"hypervisor", {{"signers", {policy::key_id_hex(owner)}}, {"min_svn", 2}}},
              {"launch_policy", nullptr}};
  if (allow_emulated_drtm) ref["drtm"] = {{"allow_emulated", true}};
  policy::EvpKey auth = policy::load_private_key((dir / "authority.key.pem").string());
  write_file(dir / "reference.cose", attest::sign_reference_values(ref, auth));
  reference = (dir / "reference.cose").string();
  policy::generate_key_files("P-256", (dir / "issuer").string());
  issuer_key = (dir / "issuer.key.pem").string();
  issuer_pub = (dir / "issuer.pub.pem").string();
  admin_token = token_file("admin");
  rp_token = token_file("relying-party");
  auto slurp = [](const std::string& p) {
    const std::vector<uint8_t> b = read_file(p);
    return std::string(b.begin(), b.end());
  };
  admin_bearer = slurp(admin_token);
  rp_bearer = slurp(rp_token);
  Http::default_bearer = admin_bearer;
}

std::string ServiceWorld::token_file(const std::string& role, const std::string& endpoint, int64_t ttl) const {
  const std::string name = "token-" + role + (endpoint.empty() ? "" : "-" + endpoint) + "-" + std::to_string(ttl);
  const std::filesystem::path p = dir / name;
  if (std::filesystem::exists(p)) return p.string();
  const policy::EvpKey k = policy::load_private_key(issuer_key);
  const auto r = attest::parse_role(role);
  if (!r) throw std::runtime_error("no role " + role);
  const std::string t = attest::issue_token(k, *r, endpoint.empty() ? role : endpoint, endpoint, ttl, attest::unix_now());
  write_file(p, std::vector<uint8_t>(t.begin(), t.end()));
  return p.string();
}

std::vector<std::string> ServiceWorld::verifier_args() const {
  return {"--manufacturer-ca", ca_cert, "--reference", reference, "--authority", authority_pub, "--token-issuer", issuer_pub};
}

std::vector<std::string> ServiceWorld::store_args(const std::string& name) const {
  const char* backend = std::getenv("REDOUBT_TEST_STORE");
  if (!backend || std::string(backend) != "postgresql") return {"--db", (dir / (name + ".db")).string()};
  static int n = 0;
  const std::string url = PgServer::shared().create_database("svc_" + std::to_string(getpid()) + "_" + std::to_string(++n));
  if (!std::filesystem::exists(dir / (name + ".db.key.pem"))) policy::generate_key_files("P-256", (dir / (name + ".db")).string());
  return {"--store", url, "--key", (dir / (name + ".db.key.pem")).string()};
}

std::vector<std::string> ServiceWorld::endpoint_argv(const std::string& url, const std::string& id, const std::vector<std::string>& extra) const {
  std::vector<std::string> a = {(build_dir() / "redoubt").string(), "endpoint", "--verifier", url, "--id", id, "--state", (dir / ("ep-" + id)).string(),
                                "--manufacturer-ca", (dir / "ca").string(), "--signing-key", owner_key,
                                "--token", token_file("endpoint", id), "--enrol-token", admin_token};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

CliResult ServiceWorld::endpoint(const std::string& url, const std::string& id, const std::vector<std::string>& extra) const {
  return run_program(endpoint_argv(url, id, extra));
}

json ServiceWorld::quote(const std::string& nonce_hex, const std::string& state, const std::string& out) const {
  CliResult r = run_redoubt({"quote", "--nonce", nonce_hex, "--state", (dir / state).string(), "--out", (dir / out).string()});
  if (r.exit_code != 0) throw std::runtime_error("redoubt quote: " + r.err);
  auto b64 = [&](const char* f) { return attest::to_base64(read_file(dir / out / f)); };
  return {{"quote", b64("quote.msg")}, {"signature", b64("quote.sig")}, {"pcrs", b64("quote.pcrs")}, {"eventlog", b64("eventlog.bin")}, {"ak_public", b64("ak.pub")}};
}

static std::pair<int, json> answer(const httplib::Result& r) {
  if (!r) return {0, json{{"raw", httplib::to_string(r.error())}}};
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) j = json{{"raw", r->body}};
  return {r->status, j};
}

std::pair<int, json> Http::post(const std::string& path, const std::string& body) { return answer(c.Post(path.c_str(), body, "application/json")); }
std::pair<int, json> Http::get(const std::string& path) { return answer(c.Get(path.c_str())); }
std::pair<int, json> Http::put(const std::string& path, const json& body) { return answer(c.Put(path.c_str(), body.dump(), "application/json")); }
std::pair<int, json> Http::del(const std::string& path) { return answer(c.Delete(path.c_str())); }

}  // namespace redoubt::test
