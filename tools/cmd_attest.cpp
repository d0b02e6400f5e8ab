// `redoubt attest --verifier URL --verifier-key PEM NAME [--max-age S] [--json]`:
// ask the verifier whether an endpoint is trusted. Only the signed verdict
// counts: the EAR JWS (ES256, RFC 7515) must verify with the verifier's pinned
// public key and be about NAME; its claims are what is printed and decide the
// exit code (0 affirming, 4 warning, 1 contraindicated, 5 stale or unreachable). docs/attestation.md "Relying parties".
#include <openssl/evp.h>

#include <chrono>
#include <iostream>
#include <memory>

#include "attestation/agent/verifier_client.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/verifier/ear_result.hpp"
#include "policy/host/keys.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace {

struct AttestOptions {
  std::string verifier, name, ca_file, verifier_key, token;
  int64_t max_age = 0;
  bool json_out = false;
};

// The verdict the verifier signed for `name`, or AttestError naming why there is none to trust.
nlohmann::json signed_verdict(const nlohmann::json& answer, const std::string& name, const policy::EvpKey& key, const std::string& kid) {
  if (!answer.is_object() || !answer.contains("ear_jws") || !answer["ear_jws"].is_string())
    throw attest::AttestError("no_signed_verdict", "the verifier's answer carries no ear_jws: there is no signed verdict to trust");
  nlohmann::json claims;
  try {
    claims = attest::jws_verify_es256(answer["ear_jws"].get<std::string>(), key);
  } catch (const attest::AttestError& e) {
    throw attest::AttestError("bad_ear_signature", e.reason() + " " + kid.substr(0, 16) + "… (--verifier-key)");
  }
  if (!claims.is_object() || !claims.contains("endpoint") || !claims["endpoint"].is_string() || !claims.contains("status") ||
      !claims["status"].is_string() || !claims.contains("iat") || !claims["iat"].is_number_integer())
    throw attest::AttestError("bad_ear", "the signed verdict lacks a string \"endpoint\", a string \"status\" or an integer \"iat\"");
  // A genuine verdict about another endpoint must not stand in for this one's.
  if (claims["endpoint"] != name)
    throw attest::AttestError("ear_wrong_endpoint", "the signed verdict is about endpoint \"" + claims["endpoint"].get<std::string>() + "\", not \"" + name + "\"");
  return claims;
}

// The error document every --json command prints (docs/schemas/error.json), with the cause's code.
std::string attest_error_json(const std::string& name, const attest::AttestError& e, int rc) {
  const char* kind = rc == kExitRefused ? "refused" : rc == kExitStale ? "stale" : "environment";
  return nlohmann::json{{"error", {{"kind", kind}, {"exit_code", rc}, {"code", e.code()}, {"message", e.code() + ": " + e.reason()},
                                   {"command", "attest"}}},
                        {"endpoint", name}}
      .dump(2);
}

int run_attest(const AttestOptions& o) {
  const policy::EvpKey key = policy::load_public_key(o.verifier_key);
  if (EVP_PKEY_get_bits(key.get()) != 256 || !EVP_PKEY_is_a(key.get(), "EC"))
    throw InputError("--verifier-key " + o.verifier_key + ": not a P-256 public key (the verifier signs verdicts with ES256)");
  const std::string kid = policy::key_id_hex(key);
  attest::VerifierClient c(o.verifier, o.ca_file);
  if (!o.token.empty()) c.set_token(attest::VerifierClient::read_token_file(o.token));
  nlohmann::json j, claims;
  try {
    j = c.get("/v1/endpoints/" + o.name + "?history=10");
  } catch (const attest::AttestError& e) {
    const int rc = e.code() == "unknown_endpoint" ? kExitRefused : e.code() == "verifier_unreachable" ? kExitStale : kExitEnv;
    if (o.json_out) std::cout << attest_error_json(o.name, e, rc) << "\n";
    else std::cout << o.name << ": unknown (" << e.code() << ": " << e.reason() << ")\n";
    return rc;
  }
  if (j.is_object() && j.value("history", nlohmann::json::array()).empty() && !j.contains("ear_jws")) {
    if (o.json_out) std::cout << nlohmann::json{{"endpoint", o.name}, {"status", "none"}}.dump() << "\n";
    else std::cout << o.name << ": none (no verdict yet)\n";
    return kExitRefused;
  }
  try {
    claims = signed_verdict(j, o.name, key, kid);
  } catch (const attest::AttestError& e) {
    if (o.json_out) std::cout << attest_error_json(o.name, e, kExitEnv) << "\n";
    else std::cout << o.name << ": no trustworthy verdict (" << e.code() << ": " << e.reason() << ")\n";
    return kExitEnv;
  }
  const std::string status = claims["status"];
  const int64_t iat = claims["iat"];
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Fail closed (issue 13): the verifier says the endpoint has not been appraised within its interval.
  // Only a worse answer is taken unsigned: it can turn a signed verdict into "stale", never into "affirming".
  const std::string live = j.is_object() && j.contains("status") && j["status"].is_string() ? j["status"].get<std::string>() : "";
  if (live == "stale" || live == "unreachable") {
    const int64_t seen = j.contains("last_seen") && j["last_seen"].is_number_integer() ? j["last_seen"].get<int64_t>() : 0;
    if (o.json_out)
      std::cout << nlohmann::json{{"endpoint", o.name}, {"status", live}, {"signed_status", status}, {"iat", iat}, {"last_seen", seen}, {"ear", claims}}.dump(2)
                << "\n";
    else
      std::cout << o.name << ": " << live << " (no appraisal since " << (seen ? std::to_string(seen) + ", " + std::to_string(now - seen) + " s ago" : "enrolment")
                << (j.contains("last_error") && j["last_error"].is_string() ? "; " + j["last_error"].get<std::string>() : std::string()) << "; the last signed verdict said "
                << status << ")\n";
    return kExitStale;
  }
  const bool stale = o.max_age > 0 && now - iat > o.max_age;
  const nlohmann::json sub = claims["submods"].is_object() && claims["submods"].contains("redoubt-drtm") ? claims["submods"]["redoubt-drtm"]
                                                                                                        : nlohmann::json::object();
  if (o.json_out) {
    nlohmann::json unsigned_part = j;
    unsigned_part.erase("ear_jws");
    std::cout << nlohmann::json{{"endpoint", o.name},
                                {"status", stale ? "stale" : status},
                                {"signed_status", status},
                                {"iat", iat},
                                {"verifier_kid", kid},
                                {"ear", claims},
                                {"unsigned", unsigned_part}}
                     .dump(2)
              << "\n";
  } else if (stale) {
    std::cout << o.name << ": stale verdict (signed at " << iat << ", " << now - iat << " s ago, over --max-age " << o.max_age << "; it said "
              << status << ")\n";
  } else {
    std::cout << o.name << ": " << status << " (signed verdict, iat " << iat << ")";
    auto list = [&](const char* key_name, const char* prefix, bool message) {
      if (!sub.contains(key_name) || !sub[key_name].is_array()) return;
      for (const auto& f : sub[key_name]) {
        std::cout << "; " << prefix << f.value("code", "?");
        if (message) std::cout << ": " << f.value("message", "");
      }
    };
    list("redoubt.failures", "", true);
    list("redoubt.warnings", "warning ", false);
    list("redoubt.notes", "note ", false);
    std::cout << "\n";
  }
  // docs/running.md "Exit codes": 0 affirming, 4 warning, 1 contraindicated (or anything else), 5 stale.
  if (stale) return kExitStale;
  if (status == "affirming") return kExitOk;
  return status == "warning" ? kExitWarning : kExitRefused;
}

}  // namespace

void register_attest(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AttestOptions>();
  CLI::App* c = app.add_subcommand("attest", "Ask a verifier for an endpoint's current verdict (only its signed EAR counts)");
  c->add_option("--verifier", o->verifier, "Verifier base URL")->required();
  c->add_option("--verifier-key", o->verifier_key,
                "The verifier's EAR public key (PEM, P-256), pinned: <db>.pub.pem next to the verifier's database, got out of band")
      ->required();
  c->add_option("name", o->name, "Endpoint name")->required();
  c->add_option("--max-age", o->max_age, "Refuse a signed verdict older than this many seconds (0 = any age)")->capture_default_str();
  c->add_flag("--json", o->json_out, "Print the signed claims (\"ear\") and, apart, the verifier's unsigned answer (\"unsigned\")");
  c->add_option("--ca,--ca-file", o->ca_file, "https verifier: the only CA (PEM) its TLS certificate may chain to");
  c->add_option("--token", o->token, "File holding a relying-party (or admin) bearer token (docs/verifier-auth.md)");
  c->callback([o, &exit_code] { exit_code = run_attest(*o); });
}

}  // namespace redoubt::tools
