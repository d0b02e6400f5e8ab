// `redoubt attest --verifier URL NAME [--json]`: ask the verifier whether an
// endpoint is trusted. One line (or the JSON); exit 0 only when affirming.
#include <iostream>
#include <memory>

#include "attestation/agent/verifier_client.hpp"
#include "attestation/common/attest_error.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

struct AttestOptions {
  std::string verifier, name, ca_file;
  bool json_out = false;
};

int run_attest(const AttestOptions& o) {
  attest::VerifierClient c(o.verifier, o.ca_file);
  nlohmann::json j;
  try {
    j = c.get("/v1/endpoints/" + o.name + "?history=10");
  } catch (const attest::AttestError& e) {
    if (o.json_out) std::cout << nlohmann::json{{"error", e.code()}, {"reason", e.reason()}}.dump() << "\n";
    else std::cout << o.name << ": unknown (" << e.code() << ": " << e.reason() << ")\n";
    return e.code() == "unknown_endpoint" ? kExitRefused : kExitEnv;
  }
  const std::string status = j.value("status", "none");
  if (o.json_out) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << o.name << ": " << status;
    if (!j["history"].empty()) {
      const auto& last = j["history"][0];
      std::cout << " (verdict " << last["seq"] << ")";
      for (const auto& f : last["reasons"]["failures"]) std::cout << "; " << f["code"].get<std::string>() << ": " << f["message"].get<std::string>();
      for (const auto& f : last["reasons"]["warnings"]) std::cout << "; warning " << f["code"].get<std::string>();
      for (const auto& f : last["reasons"]["notes"]) std::cout << "; note " << f["message"].get<std::string>();
    } else {
      std::cout << " (no verdict yet)";
    }
    std::cout << "\n";
  }
  return status == "affirming" ? kExitOk : kExitRefused;
}

}  // namespace

void register_attest(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AttestOptions>();
  CLI::App* c = app.add_subcommand("attest", "Ask a verifier for an endpoint's current verdict");
  c->add_option("--verifier", o->verifier, "Verifier base URL")->required();
  c->add_option("name", o->name, "Endpoint name")->required();
  c->add_flag("--json", o->json_out, "Print the verifier's JSON (verdict + history with reasons)");
  c->add_option("--ca,--ca-file", o->ca_file, "https verifier: the only CA (PEM) its TLS certificate may chain to");
  c->callback([o, &exit_code] { exit_code = run_attest(*o); });
}

}  // namespace redoubt::tools
