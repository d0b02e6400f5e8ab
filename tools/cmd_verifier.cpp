// `redoubt verifier serve`: the attestation service (HTTP/JSON, docs/api.md).
// `redoubt verifier sign-reference`: sign reference values as the policy authority,
// optionally adding launch-policy digests, guest anchors, guest signers and guest
// rules taken from a run's inputs (docs/attestation.md "Reference values").
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <thread>

#include "arch/intel/acm.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/service/agent_url.hpp"
#include "attestation/service/auth.hpp"
#include "attestation/service/http_api.hpp"
#include "attestation/verifier/reference_values.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/safe_file.hpp"
#include "tools/cli_config.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8440", db = "verifier.db", key, reference, authority, tls_cert, tls_key, endpoint_ca;
  std::string token_issuer, access_log, config;
  std::vector<std::string> webhooks;
  std::string webhook_secret_file;
  int webhook_backoff_ms = 1000, webhook_attempts = 8;
  std::string store, instance_id;  // issue 13: postgresql://... or sqlite:PATH (else --db); this instance's lease name
  int lease_ttl_ms = 10000, lease_renew_ms = 2000;
  bool insecure_no_auth = false;
  bool test_unsafe_enrol = false;
  std::vector<std::string> manufacturer_cas;
  std::vector<std::string> agent_allow;
  int stale_after_s = 0;  // 0 = 600 s, or for pull endpoints 3 poll intervals (at least 2 s)
  int ear_ttl_s = 600;
  int max_parallel_appraisals = 0;  // 0 = the cores online, twice that with PostgreSQL (VerifierConfig)
  int poll_interval_ms = 0, nonce_ttl_s = 120, nonce_history_s = 3600, threads = 8, max_connections = 256, header_timeout_s = 10,
      body_timeout_s = 30;
};

// --listen HOST:PORT. httplib takes the port as an int and the kernel its low 16 bits: 99999 listened
// on 34463 while 99999 was printed (issue 16 item 11). 0 = any free port; the bound one is printed.
std::pair<std::string, int> parse_listen(const std::string& s) {
  const auto bad = [&](const std::string& why) { throw std::invalid_argument("--listen " + s + ": " + why); };
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) bad("expected HOST:PORT, the port 1..65535 (or 0 for any free port)");
  std::string host = s.substr(0, colon);
  const std::string port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) bad("no host before the port");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    bad("port \"" + port + "\" is not a number 1..65535 (or 0 for any free port)");
  const int p = std::stoi(port);
  if (p > 65535) bad("port " + port + " is outside 1..65535 (or 0 for any free port)");
  return {host, p};
}

std::string slurp(const std::string& p) {
  const std::vector<uint8_t> b = read_file(p, input::kVerifierInput);  // bounded: checked before it is read
  return std::string(b.begin(), b.end());
}

int run_serve(const ServeOptions& o) {
  const auto [listen_host, listen_port] = parse_listen(o.listen);  // before anything is created
  // Issue 13: no anonymous API unless asked for by name.
  if (o.token_issuer.empty() && !o.insecure_no_auth)
    throw std::invalid_argument(
        "verifier serve needs --token-issuer PUB.pem: the public key that signs bearer tokens (`redoubt key gen`, then "
        "`redoubt verifier token issue --key ISSUER.key.pem --role admin|relying-party|endpoint`); "
        "or --insecure-no-auth, for local tests only (everyone is admin)");
  if (!o.token_issuer.empty() && o.insecure_no_auth) throw std::invalid_argument("--token-issuer and --insecure-no-auth exclude each other");
  std::vector<attest::Cidr> allow;
  for (const std::string& a : o.agent_allow) allow.push_back(attest::parse_cidr(a));
  attest::VerifierConfig cfg;
  // --store URL (postgresql://..., sqlite:PATH) or --db PATH (SQLite, the default).
  const bool pg = o.store.rfind("postgres", 0) == 0;
  const std::string sqlite_path = o.store.empty() ? o.db : o.store.rfind("sqlite:", 0) == 0 ? o.store.substr(7) : "";
  cfg.db_path = o.store.empty() ? o.db : o.store;
  const std::string cfg_db = cfg.db_path;
  if (pg && o.key.empty())
    throw std::invalid_argument("--store " + attest::redact_store_location(o.store) +
                                " needs --key EAR.key.pem: every instance on one database signs with the same key");
  if (o.lease_renew_ms >= o.lease_ttl_ms) throw std::invalid_argument("--lease-renew-ms must be less than --lease-ttl-ms (a lease would lapse between renewals)");
  cfg.instance_id = o.instance_id;
  cfg.lease_ttl_ms = o.lease_ttl_ms;
  // A directory made by `redoubt manufacturer-ca` (as `endpoint --manufacturer-ca` takes) or the PEM itself.
  for (const std::string& p : o.manufacturer_cas)
    cfg.manufacturers.add_ca_pem(slurp(std::filesystem::is_directory(p) ? (std::filesystem::path(p) / "ca.cert.pem").string() : p));
  // The EAR signing key: --key, else <db>.key.pem generated on first start.
  const std::string key_path = o.key.empty() ? sqlite_path + ".key.pem" : o.key;
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
    cfg.reference_cose = r;
  }
  // Fail closed (issue 13): past this without an appraisal of an authentic quote, an endpoint is stale/unreachable.
  cfg.test_unsafe_enrol_before_activation = o.test_unsafe_enrol;
  if (o.test_unsafe_enrol) std::cerr << "redoubt verifier: WARNING: TEST ONLY --test-unsafe-enrol-before-activation: enrolments take effect unproven\n";
  cfg.stale_after_push_s = o.stale_after_s > 0 ? o.stale_after_s : 600;
  cfg.stale_after_pull_s = o.stale_after_s > 0 ? o.stale_after_s : o.poll_interval_ms > 0 ? std::max(2, (3 * o.poll_interval_ms + 999) / 1000) : 600;
  // Several instances on PostgreSQL: a dead instance's pull endpoints are polled again within lease TTL
  // + renew interval + a poll interval; not "unreachable" for that takeover alone (docs/operations.md).
  if (pg && o.stale_after_s == 0 && o.poll_interval_ms > 0)
    cfg.stale_after_pull_s = std::max(cfg.stale_after_pull_s, (o.lease_ttl_ms + o.lease_renew_ms + 2 * o.poll_interval_ms + 999) / 1000);
  // Signed webhooks (docs/api.md "Webhooks"): the shared secret is read from a file, never a flag (ps shows flags).
  if (!o.webhooks.empty() && o.webhook_secret_file.empty())
    throw std::invalid_argument("--webhook needs --webhook-secret-file FILE: the shared HMAC-SHA256 key receivers check signatures with "
                                "(e.g. `openssl rand -hex 32 > webhook.secret`)");
  if (!o.webhook_secret_file.empty()) {
    std::string secret = slurp(o.webhook_secret_file);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
    if (secret.size() < 16) throw InputError(o.webhook_secret_file + ": the webhook secret must be at least 16 bytes");
    if ((fs::status(o.webhook_secret_file).permissions() & (fs::perms::group_read | fs::perms::others_read)) != fs::perms::none)
      std::cerr << "redoubt verifier: WARNING: " << o.webhook_secret_file << " is readable by others (chmod 600 it)\n";
    cfg.webhook.secret = secret;
  }
  cfg.webhook.urls = o.webhooks;
  cfg.webhook.backoff_ms = o.webhook_backoff_ms;
  cfg.webhook.attempts = o.webhook_attempts;
  cfg.ear_ttl_s = o.ear_ttl_s;
  cfg.max_parallel_appraisals = o.max_parallel_appraisals;
  cfg.nonce_ttl_s = o.nonce_ttl_s;
  cfg.nonce_history_s = o.nonce_history_s;
  cfg.agent_allow = attest::AgentAllowList(std::move(allow));
  attest::VerifierService svc(std::move(cfg));

  attest::HttpOptions h;
  h.host = listen_host;
  h.port = listen_port;
  h.max_connections = o.max_connections;
  h.header_timeout_s = o.header_timeout_s;
  h.body_timeout_s = o.body_timeout_s;
  h.tls_cert = o.tls_cert;
  h.tls_key = o.tls_key;
  h.poll_interval_ms = o.poll_interval_ms;
  h.endpoint_ca = o.endpoint_ca;
  h.threads = o.threads;
  h.token_issuer = o.token_issuer;
  h.insecure_no_auth = o.insecure_no_auth;
  h.access_log = o.access_log;
  h.lease_renew_ms = o.lease_renew_ms;
  if (o.insecure_no_auth)
    std::cerr << "redoubt verifier: WARNING: --insecure-no-auth: every caller is admin (enrol, delete, reference values); local tests only\n";
  if (!svc.reference())
    std::cerr << "redoubt verifier: no reference values: nothing is appraised (503 no_reference_values) until they are given "
                 "(--reference FILE --authority PUB, or PUT /v1/reference-values)\n";

  // Signals are taken by one thread with sigwait, which then stops the server (no work in a handler).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that goes away mid-answer is an error return (TLS writes use write(2)), not the end
  attest::VerifierHttpServer server(svc, h);
  const int port = server.bind();
  std::cout << "listening on " << (h.tls_cert.empty() ? "http" : "https") << "://" << h.host << ":" << port << " db " << attest::redact_store_location(cfg_db)
            << " (schema " << svc.store().schema_version() << ", " << svc.store().verdict_count() << " verdicts) instance " << svc.instance_id() << "\n"
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
  std::vector<std::string> hv_signers, launch_policies, guest_anchors, guest_signers, guest_manifests, sinit_acms;
  bool disallow_unsigned = false;
  bool allow_emulated_drtm = false;
  bool force = false, json = false;
};

std::span<const uint8_t> as_bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

policy::CoseSign1 parse_cose_file(const std::string& path, const std::string& bytes) {
  policy::CoseSign1 msg;
  Status st = policy::cose_sign1_parse(as_bytes(bytes), msg);
  if (!st) throw InputError(path + ": not a COSE_Sign1: " + st.message());
  return msg;
}

void add_hex(nlohmann::json& parent, const char* key, const attest::Bytes& digest) {
  if (!parent.contains(key) || parent[key].is_null()) parent[key] = nlohmann::json::array();
  const std::string h = attest::to_hex(digest);
  for (const auto& v : parent[key])
    if (v == h) return;
  parent[key].push_back(h);
}

nlohmann::json& object_member(nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) j[key] = nlohmann::json::object();
  if (!j[key].is_object()) throw InputError(std::string("\"") + key + "\" must be an object to add to it");
  return j[key];
}

// The additions from a run's inputs, each a rule of docs/attestation.md "Reference values":
//   --launch-policy FILE  SHA-256 of the signed payload (= the PCR17 EV_REDOUBT_LAUNCH_POLICY digest)
//   --guest-anchor CRT    SHA-256 of each certificate's DER (= the PCR18 EV_REDOUBT_GUEST_ANCHOR digest)
//   --guest-signer CRT    SHA-256 of the first certificate's SubjectPublicKeyInfo DER (the leaf key)
//   --guest-manifest FILE rules[name]: min_svn = its SVN unless given, its sha256 kernel digest;
//                         its kid (= SHA-256 of the leaf SPKI, docs/pki.md §4) joins the signers
void add_run_inputs(nlohmann::json& j, const SignRefOptions& o) {
  if (!j.is_object()) throw InputError(o.in + ": not a JSON object");
  //   --hypervisor-signer PUB  its key id (SHA-256 of the SEC1 point, = the PCR18 EV_REDOUBT_HV_SIGNER data digest)
  for (const std::string& p : o.hv_signers) {
    const policy::PublicKey k = policy::cose_public_key(policy::load_public_key(p));
    uint8_t kid[32];
    policy::key_id(k, kid);
    add_hex(object_member(j, "hypervisor"), "signers", attest::Bytes(kid, kid + 32));
  }
  for (const std::string& p : o.launch_policies) {
    const std::string b = slurp(p);
    policy::CoseSign1 msg = parse_cose_file(p, b);
    add_hex(object_member(j, "launch_policy"), "sha256", policy::sha256(msg.payload));
  }
  if (!o.guest_anchors.empty() || !o.guest_signers.empty() || !o.guest_manifests.empty() || o.disallow_unsigned) object_member(j, "guests");
  for (const std::string& p : o.guest_anchors)
    for (const policy::X509Ptr& c : policy::load_certs(p)) add_hex(j["guests"], "anchors", policy::sha256(policy::cert_der(c.get())));
  for (const std::string& p : o.guest_signers) add_hex(j["guests"], "signers", policy::spki_sha256(policy::load_certs(p).front().get()));
  for (const std::string& p : o.guest_manifests) {
    const std::string b = slurp(p);
    policy::CoseSign1 msg = parse_cose_file(p, b);
    policy::GuestManifest m;
    policy::Refusal why{};
    Status st = policy::guest_manifest_decode(msg.payload, m, why);
    if (!st) throw InputError(p + ": not a guest manifest: " + policy::refusal_name(why) + ": " + st.message());
    if (msg.kid.size() != 32) throw InputError(p + ": the manifest's kid is not a 32-byte SPKI digest");
    add_hex(j["guests"], "signers", attest::Bytes(msg.kid.begin(), msg.kid.end()));
    nlohmann::json& rule = object_member(object_member(j["guests"], "rules"), m.name);
    if (!rule.contains("min_svn")) rule["min_svn"] = m.svn;
    if (m.digest_alg == HashAlg::sha256) add_hex(rule, "kernel_sha256", attest::Bytes(m.kernel_digest, m.kernel_digest + 32));
  }
  if (o.disallow_unsigned) j["guests"]["allow_unsigned"] = false;
  //   --allow-emulated-drtm  drtm.allow_emulated = true: a log with the emulated-DRTM marker (a QEMU
  //                          harness measured the SLB, not SKINIT) may be affirming. Test set-ups only.
  if (o.allow_emulated_drtm) object_member(j, "drtm")["allow_emulated"] = true;
  //   --sinit-acm FILE  txt.acm_sha256 += SHA-256 of the module (= EV_TXT_HASH_START's digest), txt.acm_signers +=
  //                     SHA-256 of its header's RSA modulus || exponent (= EV_TXT_SINIT_PUBKEY_HASH, TXT.PUBLIC.KEY)
  for (const std::string& p : o.sinit_acms) {
    const std::string b = slurp(p);
    constexpr size_t kKeyAt = offsetof(arch::txt::AcmHeader, rsa_pub_key), kKeyLen = 256 + 4;
    if (b.size() < sizeof(arch::txt::AcmHeader)) throw InputError(p + ": shorter than an ACM header (" + std::to_string(b.size()) + " bytes)");
    add_hex(object_member(j, "txt"), "acm_sha256", policy::sha256(as_bytes(b)));
    add_hex(j["txt"], "acm_signers", policy::sha256(as_bytes(b).subspan(kKeyAt, kKeyLen)));
  }
}

int run_sign_reference(const SignRefOptions& o) {
  refuse_overwrite({o.out}, o.force, "signed reference values");
  const std::string text = slurp(o.in);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InputError(o.in + ": not JSON");
  add_run_inputs(j, o);
  policy::EvpKey key = policy::load_private_key(o.key);
  write_file(o.out, attest::sign_reference_values(j, key));
  if (o.json) {  // docs/schemas/sign-reference.json
    std::cout << nlohmann::json{{"wrote", o.out}, {"signer", policy::key_id_hex(key)}, {"reference", j}}.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "signed reference values " << j["id"].get<std::string>() << " -> " << o.out << "\n";
  if (!o.launch_policies.empty() || j.contains("guests") || j.contains("drtm") || j.contains("txt")) std::cout << j.dump(2) << "\n";
  return kExitOk;
}

struct TokenOptions {
  std::string key, role, endpoint, subject, out;
  int64_t ttl_s = 24 * 3600;
  bool force = false;
  bool json = false;
};

int run_token_issue(const TokenOptions& o) {
  const auto role = attest::parse_role(o.role);
  if (!role) throw std::invalid_argument("--role must be admin, relying-party or endpoint");
  if (*role == attest::Role::endpoint && o.endpoint.empty()) throw std::invalid_argument("--role endpoint needs --endpoint ID");
  if (*role != attest::Role::endpoint && !o.endpoint.empty()) throw std::invalid_argument("--endpoint is only for --role endpoint");
  const policy::EvpKey key = policy::load_private_key(o.key);
  const std::string subject = !o.subject.empty() ? o.subject : !o.endpoint.empty() ? o.endpoint : o.role;
  const int64_t now = attest::unix_now();
  const std::string token = attest::issue_token(key, *role, subject, o.endpoint, o.ttl_s, now);
  nlohmann::json jd = {{"role", o.role}, {"subject", subject}, {"endpoint", o.endpoint}, {"expires", now + o.ttl_s}};
  if (o.out.empty()) {
    if (o.json) {
      jd["token"] = token;
      std::cout << jd.dump(2) << "\n";
    } else {
      std::cout << token << "\n";
    }
    return kExitOk;
  }
  refuse_overwrite({o.out}, o.force, "token");
  policy::FileError fe;  // created 0600 (never readable by others, not even for a moment)
  if (!policy::write_file_atomic(o.out, std::vector<uint8_t>(token.begin(), token.end()), 0600, fe)) throw OutputError(fe.what);
  if (o.json) {
    jd["wrote"] = o.out;
    std::cout << jd.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "token for " << o.role << (o.endpoint.empty() ? "" : " " + o.endpoint) << " (" << subject << "), valid " << o.ttl_s << " s -> " << o.out << "\n";
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
  c->add_option("--store", o->store,
                "The store instead of --db: postgresql://USER@HOST:PORT/DB?... (libpq URI; several instances may share it) or sqlite:PATH");
  c->add_option("--instance-id", o->instance_id, "This instance's name in the endpoint leases (default HOST-PID-RANDOM; docs/operations.md)");
  c->add_option("--lease-ttl-ms", o->lease_ttl_ms, "An endpoint lease lapses this long after its owner's last renewal; others then take it over")
      ->capture_default_str()
      ->check(CLI::Range(200, 3600 * 1000));
  c->add_option("--lease-renew-ms", o->lease_renew_ms, "How often an instance renews its leases and takes over lapsed ones")
      ->capture_default_str()
      ->check(CLI::Range(50, 3600 * 1000));
  c->add_option("--manufacturer-ca", o->manufacturer_cas,
                 "TPM manufacturer CA certificate(s): a PEM file, or a directory made by `redoubt manufacturer-ca` (its ca.cert.pem); repeatable");
  c->add_option("--key", o->key, "EAR signing key (PKCS#8 PEM, P-256); default <db>.key.pem, generated");
  c->add_option("--reference", o->reference, "Reference values (COSE_Sign1, from `verifier sign-reference`)");
  c->add_option("--authority", o->authority, "Policy authority public key (PEM) that signs reference values");
  c->add_option("--config", o->config,
                 "TOML file of options: `key = value`, a key per long option without the dashes (listen, db, manufacturer-ca = [..], ...); "
                 "options on the command line win; unknown keys are refused (docs/operations.md)");
  c->add_option("--webhook", o->webhooks, "URL POSTed (signed, retried) on every verdict change; repeatable");
  c->add_option("--webhook-secret-file", o->webhook_secret_file, "File holding the shared secret (>= 16 bytes) that signs webhooks (HMAC-SHA256)");
  c->add_option("--webhook-backoff-ms", o->webhook_backoff_ms, "First webhook retry after this, doubling up to 60 s")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000));
  c->add_option("--webhook-attempts", o->webhook_attempts, "Attempts per webhook delivery before it is dropped")->capture_default_str()->check(CLI::Range(1, 100));
  c->add_option("--stale-after", o->stale_after_s,
                 "Seconds without an appraisal of an authentic quote after which an endpoint is stale (push) or unreachable (pull); "
                 "default 600, pull endpoints 3 poll intervals (at least 2)")
      ->check(CLI::Range(1, 30 * 24 * 3600));
  c->add_option("--ear-ttl", o->ear_ttl_s, "Seconds an EAR is valid: its exp = iat + this")->capture_default_str()->check(CLI::Range(1, 30 * 24 * 3600));
  c->add_option("--poll-interval-ms", o->poll_interval_ms, "Pull mode: poll interval (0 = no polling)")->capture_default_str();
  c->add_option("--nonce-ttl", o->nonce_ttl_s, "Nonce lifetime in seconds")->capture_default_str();
  c->add_option("--nonce-history", o->nonce_history_s, "Seconds an expired nonce is remembered (to name a replay) before it is purged")
      ->capture_default_str()
      ->check(CLI::Range(0, 30 * 24 * 3600));
  c->add_option("--agent-allow", o->agent_allow,
                "Pull mode: the only addresses (IP or CIDR) agent URLs may resolve to; repeatable. Default: global unicast only "
                "(no loopback, link-local, private, multicast, reserved)");
  c->add_option("--threads", o->threads, "HTTP workers kept when idle")->capture_default_str()->check(CLI::Range(1, 4096));
  c->add_option("--max-connections", o->max_connections, "Workers at once (beyond one per appraisal slot, only while others wait on slow clients or the database), and idle keep-alive connections kept (past it the longest-idle is closed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_option("--max-parallel-appraisals", o->max_parallel_appraisals,
                "Appraisals computed at once (quote, event log, EAR signature); more requests wait their turn in arrival order. "
                "0 = the cores online, twice that with PostgreSQL (default); a large value turns the gate off (docs/operations.md \"Throughput\")")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  c->add_option("--header-timeout", o->header_timeout_s, "Seconds a request's headers may take to arrive")->capture_default_str()->check(CLI::Range(1, 3600));
  c->add_option("--body-timeout", o->body_timeout_s, "Seconds a request's body may take to arrive")->capture_default_str()->check(CLI::Range(1, 3600));
  c->add_option("--tls-cert", o->tls_cert, "TLS certificate (PEM): serve HTTPS");
  c->add_option("--endpoint-ca", o->endpoint_ca, "Pull mode over https: the only CA (PEM) endpoints' TLS certificates may chain to");
  c->add_option("--tls-key", o->tls_key, "TLS private key (PEM)");
  c->add_option("--token-issuer", o->token_issuer,
                 "Public key (PEM, P-256) that signs the bearer tokens callers must present (docs/verifier-auth.md)");
  c->add_flag("--insecure-no-auth", o->insecure_no_auth, "No authentication: every caller is admin. Local tests only; prints a warning");
  c->add_flag("--test-unsafe-enrol-before-activation", o->test_unsafe_enrol,
              "TEST ONLY: an enrolment takes effect before credential activation (the takeover protection off)");
  c->add_option("--access-log", o->access_log, "Append a JSON line per request (who, role, route, status, endpoint) to this file");
  c->callback([o, c, &exit_code] {
    if (!o->config.empty()) apply_config_file(*c, o->config);
    exit_code = run_serve(*o);
  });

  auto t = std::make_shared<TokenOptions>();
  CLI::App* tok = v->add_subcommand("token", "Bearer tokens for the verifier API");
  tok->require_subcommand(1);
  CLI::App* ti = tok->add_subcommand("issue", "Issue a bearer token (JWS ES256) signed with the token-issuer key; printed, or written to --out");
  ti->add_option("--key", t->key, "Token-issuer private key (PEM, P-256); the verifier is started with its public key (--token-issuer)")->required();
  ti->add_option("--role", t->role, "admin | relying-party | endpoint")->required()->check(CLI::IsMember({"admin", "relying-party", "endpoint"}));
  ti->add_option("--endpoint", t->endpoint, "endpoint role: the one endpoint id the token acts for");
  ti->add_option("--subject", t->subject, "Who holds it (sub; shown in the access log); default: the role, or the endpoint id");
  ti->add_option("--ttl", t->ttl_s, "Lifetime in seconds (at most 400 days)")->capture_default_str()->check(CLI::Range(int64_t{1}, attest::kMaxTokenLifetime));
  ti->add_option("--out", t->out, "Write the token to this file (0600) instead of stdout");
  ti->add_flag("--force", t->force, "Replace an existing --out");
  ti->add_flag("--json", t->json, "JSON on stdout: role, subject, endpoint, expires (Unix time), and wrote (--out) or token");
  ti->callback([t, &exit_code] { exit_code = run_token_issue(*t); });

  auto r = std::make_shared<SignRefOptions>();
  CLI::App* s = v->add_subcommand("sign-reference", "Sign reference values (JSON) as a COSE_Sign1 with the policy authority key");
  s->add_option("--in", r->in, "Reference values JSON")->required();
  s->add_option("--key", r->key, "Policy authority private key (PEM)")->required();
  s->add_option("--out", r->out, "Output COSE_Sign1 file")->required();
  s->add_flag("--force", r->force, "Replace an existing --out");
  s->add_flag("--json", r->json, "JSON on stdout: {wrote, signer, reference} (the reference values as signed)");
  s->add_option("--hypervisor-signer", r->hv_signers, "Allow this hypervisor-signing public key (PEM; its key id); repeatable");
  s->add_option("--launch-policy", r->launch_policies, "Allow this signed launch policy (adds SHA-256 of its payload); repeatable");
  s->add_option("--guest-anchor", r->guest_anchors, "Allow these guest trust anchors (PEM/DER certificates; SHA-256 of the DER); repeatable");
  s->add_option("--guest-signer", r->guest_signers, "Allow this guest signer (leaf certificate; SHA-256 of its SubjectPublicKeyInfo); repeatable");
  s->add_option("--guest-manifest", r->guest_manifests,
                "Allow this signed guest: a rule for its name (min SVN = its SVN, its kernel digest) and its signer; repeatable");
  s->add_option("--sinit-acm", r->sinit_acms,
                "Allow this Intel TXT SINIT ACM (redoubt sign acm): adds its SHA-256 to txt.acm_sha256 and its signing key's to "
                "txt.acm_signers; repeatable");
  s->add_flag("--disallow-unsigned-guests", r->disallow_unsigned, "An unsigned guest (EV_REDOUBT_GUEST_UNSIGNED) is contraindicated, not a warning");
  s->add_flag("--allow-emulated-drtm", r->allow_emulated_drtm,
              "Accept a launch whose log carries the emulated-DRTM marker (QEMU harness, not SKINIT): drtm.allow_emulated = true. "
              "Test set-ups only (default: refused, drtm_emulated)");
  s->callback([r, &exit_code] { exit_code = run_sign_reference(*r); });
}

}  // namespace redoubt::tools
