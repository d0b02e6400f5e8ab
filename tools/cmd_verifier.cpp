// `redoubt verifier serve`: the attestation service (HTTP/JSON, docs/api.md).
// `redoubt verifier sign-reference`: sign reference values as the policy authority.
#include <pthread.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <thread>

#include "attestation/common/attest_error.hpp"
#include "attestation/service/http_api.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/host/keys.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8440", db = "verifier.db", key, reference, authority, webhook, tls_cert, tls_key;
  std::vector<std::string> manufacturer_cas;
  int poll_interval_ms = 0, nonce_ttl_s = 120, threads = 8;
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw InputError("cannot read " + p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int run_serve(const ServeOptions& o) {
  attest::VerifierConfig cfg;
  cfg.db_path = o.db;
  for (const std::string& p : o.manufacturer_cas) cfg.manufacturers.add_ca_pem(slurp(p));
  // The EAR signing key: --key, else <db>.key.pem generated on first start.
  const std::string key_path = o.key.empty() ? o.db + ".key.pem" : o.key;
  if (!fs::exists(key_path)) {
    const std::string prefix = key_path.substr(0, key_path.size() - std::string(".key.pem").size());
    if (key_path.size() <= 8 || key_path.substr(key_path.size() - 8) != ".key.pem") throw InputError("--key must end in .key.pem");
    policy::generate_key_files("P-256", prefix);
  }
  cfg.signing_key = policy::load_private_key(key_path);
  if (!o.authority.empty()) cfg.authority = policy::load_public_key(o.authority);
  if (!o.reference.empty()) {
    if (!cfg.authority) throw std::invalid_argument("--reference needs --authority (the policy authority's public key)");
    const std::string r = slurp(o.reference);
    cfg.reference = attest::verify_reference_values({reinterpret_cast<const uint8_t*>(r.data()), r.size()}, *cfg.authority);
  }
  cfg.webhook_url = o.webhook;
  cfg.nonce_ttl_s = o.nonce_ttl_s;
  attest::VerifierService svc(std::move(cfg));

  attest::HttpOptions h;
  const size_t colon = o.listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen HOST:PORT");
  h.host = o.listen.substr(0, colon);
  h.port = std::stoi(o.listen.substr(colon + 1));
  h.tls_cert = o.tls_cert;
  h.tls_key = o.tls_key;
  h.poll_interval_ms = o.poll_interval_ms;
  h.threads = o.threads;

  // Signals are taken by one thread with sigwait, which then stops the server (no work in a handler).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  attest::VerifierHttpServer server(svc, h);
  const int port = server.bind();
  std::cout << "listening on " << (h.tls_cert.empty() ? "http" : "https") << "://" << h.host << ":" << port << " db " << o.db
            << " (schema " << svc.store().schema_version() << ", " << svc.store().verdict_count() << " verdicts)\n"
            << std::flush;
  std::thread sig([&] {
    int s = 0;
    sigwait(&set, &s);
    server.stop();
  });
  server.serve();
  pthread_kill(sig.native_handle(), SIGTERM);  // wake the waiter if the server stopped on its own
  sig.join();
  return kExitOk;
}

struct SignRefOptions {
  std::string in, key, out;
};

int run_sign_reference(const SignRefOptions& o) {
  const std::string text = slurp(o.in);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InputError(o.in + ": not JSON");
  policy::EvpKey key = policy::load_private_key(o.key);
  write_file(o.out, attest::sign_reference_values(j, key));
  std::cout << "signed reference values " << j["id"].get<std::string>() << " -> " << o.out << "\n";
  return kExitOk;
}

}  // namespace

void register_verifier(CLI::App& app, int& exit_code) {
  CLI::App* v = app.add_subcommand("verifier", "Remote attestation verifier");
  v->require_subcommand(1);
  auto o = std::make_shared<ServeOptions>();
  CLI::App* c = v->add_subcommand("serve", "Run the attestation service (HTTP/JSON API /v1, docs/api.md)");
  c->add_option("--listen", o->listen, "HOST:PORT (port 0 = any free port, printed on stdout)")->capture_default_str();
  c->add_option("--db", o->db, "SQLite database (created if missing)")->capture_default_str();
  c->add_option("--manufacturer-ca", o->manufacturer_cas, "TPM manufacturer CA certificate(s) (PEM); repeatable");
  c->add_option("--key", o->key, "EAR signing key (PKCS#8 PEM, P-256); default <db>.key.pem, generated");
  c->add_option("--reference", o->reference, "Reference values (COSE_Sign1, from `verifier sign-reference`)");
  c->add_option("--authority", o->authority, "Policy authority public key (PEM) that signs reference values");
  c->add_option("--webhook", o->webhook, "URL POSTed on every verdict change");
  c->add_option("--poll-interval-ms", o->poll_interval_ms, "Pull mode: poll interval (0 = no polling)")->capture_default_str();
  c->add_option("--nonce-ttl", o->nonce_ttl_s, "Nonce lifetime in seconds")->capture_default_str();
  c->add_option("--threads", o->threads, "HTTP worker threads")->capture_default_str();
  c->add_option("--tls-cert", o->tls_cert, "TLS certificate (PEM): serve HTTPS");
  c->add_option("--tls-key", o->tls_key, "TLS private key (PEM)");
  c->callback([o, &exit_code] { exit_code = run_serve(*o); });

  auto r = std::make_shared<SignRefOptions>();
  CLI::App* s = v->add_subcommand("sign-reference", "Sign reference values (JSON) as a COSE_Sign1 with the policy authority key");
  s->add_option("--in", r->in, "Reference values JSON")->required();
  s->add_option("--key", r->key, "Policy authority private key (PEM)")->required();
  s->add_option("--out", r->out, "Output COSE_Sign1 file")->required();
  s->callback([r, &exit_code] { exit_code = run_sign_reference(*r); });
}

}  // namespace redoubt::tools
