#include "tests/attestation/service_world.hpp"

#include <stdexcept>

#include "attestation/common/encoding.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"

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
}

std::vector<std::string> ServiceWorld::verifier_args() const {
  return {"--manufacturer-ca", ca_cert, "--reference", reference, "--authority", authority_pub};
}

std::vector<std::string> ServiceWorld::endpoint_argv(const std::string& url, const std::string& id, const std::vector<std::string>& extra) const {
  std::vector<std::string> a = {(build_dir() / "redoubt").string(), "endpoint", "--verifier", url, "--id", id, "--state", (dir / ("ep-" + id)).string(),
                                "--manufacturer-ca", (dir / "ca").string(), "--signing-key", owner_key};
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

}  // namespace redoubt::test
