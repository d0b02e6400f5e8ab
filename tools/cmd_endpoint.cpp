// `redoubt endpoint`: a simulated endpoint. Performs the measured launch and
// boots its guests (tools/cmd_run_job: launch policy in PCR17/18, each guest in
// PCR19/20) on its own TPM (inproc libtpms by default: one per process), gets its EK certificate
// from the simulator's manufacturer CA, enrols with the verifier and then
// pushes evidence (--mode push) or serves quotes for a polling verifier
// (--mode pull). --tamper makes it a bad endpoint, for demonstrations and tests.
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "attestation/agent/ek_nv.hpp"
#include "attestation/agent/endpoint_agent.hpp"
#include "attestation/agent/sim_manufacturer_ca.hpp"
#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/demo_keys.hpp"
#include "tools/cmd_run_job.hpp"
#include "tools/launch_job.hpp"
#include "tools/tpm_session.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct EndpointOptions {
  std::string verifier, id, mode = "push", listen = "127.0.0.1:0", tamper, tpm = "inproc", state, manufacturer_ca, ca_file, signing_key;
  uint64_t svn = 2;
  // Guests, as `redoubt run` takes them (docs/running.md): default hello sha256 mmu probe, signed with
  // the demo PKI of --state under a demo launch policy dated now.
  std::vector<std::string> guests;
  std::string pki, policy, owner;
  std::string pull_tls_cert, pull_tls_key;  // pull mode over HTTPS
  std::string token, enrol_token;           // bearer tokens (docs/verifier-auth.md)
  std::string inject_log;                   // attack demonstration (issue 16 item 1)
  std::string platform = "amd";             // amd (simulator) | intel (SENTER on the simulator) | qemu (docs/qemu.md)
  std::string acm, chipset_key;             // --platform intel: the SINIT ACM and the fused chipset key (empty: demo)
  uint64_t guest_svn = 1;
  bool unsigned_guests = false;
  bool new_tpm = false;
  bool json_out = false;  // push mode: one document with every verdict on stdout (docs/schemas/endpoint.json)
  int count = 1, interval_ms = 1000, serve_seconds = 0;
};

// The launch inputs for the requested (possibly tampered) endpoint.
LaunchOptions launch_options(const EndpointOptions& o, const fs::path& state, const Say& say) {
  LaunchOptions lo;
  lo.tpm = o.tpm;
  lo.platform = o.platform;
  lo.acm = o.acm;
  lo.chipset_key = o.chipset_key;
  lo.state = state.string();
  lo.out = (state / "endpoint-launch").string();
  const fs::path work = state / "endpoint-inputs";
  fs::create_directories(work);
  std::vector<uint8_t> hv = read_file(build_dir() / "hv.bin", input::kHvImage);
  policy::EvpKey key;
  if (!o.signing_key.empty()) {  // the owner's hypervisor-signing key, sealed into the SLB
    key = policy::load_private_key(fs::absolute(o.signing_key).string());
    write_text(work / "owner.pub.pem", attest::public_key_pem(attest::public_key_from_pem(attest::public_key_pem(key))));
    lo.hv_key = (work / "owner.pub.pem").string();
  } else {
    DemoKey demo = ensure_demo_key(state, say);
    key = policy::load_private_key(demo.private_pem.string());
  }
  policy::HvManifestInput mi;
  mi.version = "0.1." + std::to_string(o.svn);
  mi.svn = o.svn;
  if (o.tamper == "svn-low") mi.svn = 1, mi.version = "0.1.1-old";
  if (o.tamper == "foreign-signer") {
    const fs::path k = work / "attacker";
    if (!fs::exists(k.string() + ".key.pem")) policy::generate_key_files("P-256", k.string());
    key = policy::load_private_key(k.string() + ".key.pem");
    lo.hv_key = k.string() + ".pub.pem";  // sealed into the SLB: the SL trusts the attacker's key
  }
  write_file(work / "hv.manifest", policy::sign_hv_manifest(hv, mi, key));
  lo.manifest = (work / "hv.manifest").string();
  if (o.tamper == "hv-image") {
    hv[hv.size() / 2] ^= 0x5a;  // the image no longer matches its signed digest
    write_file(work / "hv-tampered.bin", hv);
    lo.hypervisor = (work / "hv-tampered.bin").string();
  }
  return lo;
}

// --inject-log FILE, an attack on the verifier (issue 16 item 1): another boot's launch events
// (EV_REDOUBT_SKINIT_SLB .. EV_REDOUBT_HV_SIGNER) appended to this boot's log, moved to PCR 23,
// which no quote covers: the TPM never measured them, only the log claims them.
std::vector<uint8_t> inject_launch_events(std::vector<uint8_t> log, const fs::path& from) {
  const std::vector<uint8_t> other = read_file(from, input::kEventLog);
  const policy::EventLog parsed = policy::parse_event_log(other);
  for (size_t i = 0; i < parsed.events.size(); ++i) {
    const policy::LogEvent& e = parsed.events[i];
    if (e.type < policy::kEvSkinitSlb || e.type > policy::kEvHvSigner) continue;
    const size_t end = i + 1 < parsed.events.size() ? parsed.events[i + 1].offset : other.size();
    std::vector<uint8_t> record(other.begin() + static_cast<long>(e.offset), other.begin() + static_cast<long>(end));
    record[0] = 23, record[1] = record[2] = record[3] = 0;  // pcrIndex, little-endian (PFP §10.2.2)
    log.insert(log.end(), record.begin(), record.end());
  }
  return log;
}

std::atomic<bool> g_stop{false};

int run_endpoint(const EndpointOptions& o) {
  if (o.mode != "push" && o.mode != "pull") throw std::invalid_argument("--mode must be push or pull");
  if (!o.tamper.empty() && o.tamper != "hv-image" && o.tamper != "foreign-signer" && o.tamper != "svn-low" && o.tamper != "guest-svn-low" &&
      o.tamper != "guest-unsigned")
    throw std::invalid_argument("--tamper must be hv-image, foreign-signer, svn-low, guest-svn-low or guest-unsigned");
  // The pull listener's port, checked before anything runs (strict: 0..65535, 0 = any free port).
  const size_t listen_colon = o.listen.rfind(':');
  if (listen_colon == std::string::npos) throw std::invalid_argument("--listen HOST:PORT");
  const int listen_port = static_cast<int>(parse_uint(o.listen.substr(listen_colon + 1), "--listen port", 0, 65535));
  const fs::path state = state_dir(o.state);
  auto say = [](const std::string& l) { std::cerr << l << "\n"; };
  TpmStateCheck tpm_state;
  auto tpm = open_tpm_session(tpm_spec_for(o.platform, o.tpm), state, o.new_tpm, &tpm_state, say);
  // The EK certificate comes from the TPM's NV (EK Credential Profile §2.2.1.5). Only the TPMs this
  // tool makes are "manufactured" here: the inproc simulator and --platform qemu's private swtpm
  // (its NV in <state>/tpm-qemu, made by swtpm without swtpm_setup's certificates); the simulated
  // manufacturer CA issues the certificate into NV on first use.
  const std::string spec = tpm_spec_for(o.platform, o.tpm);
  std::optional<attest::ManufacturerCa> sim_ca;
  if (spec == kQemuTpmSpec || tpm::TpmSpec::parse(spec).kind == tpm::TpmSpec::Kind::inproc) {
    fs::path ca_dir = o.manufacturer_ca.empty() ? state / "manufacturer-ca" : fs::absolute(o.manufacturer_ca);
    // The same spelling as `verifier serve --manufacturer-ca`: the directory, or its ca.cert.pem.
    if (fs::is_regular_file(ca_dir)) {
      if (ca_dir.filename() != "ca.cert.pem" || !fs::exists(ca_dir.parent_path() / "ca.key.pem"))
        throw std::invalid_argument("--manufacturer-ca " + o.manufacturer_ca +
                                    ": the simulated endpoint issues its EK certificate, so it needs the CA's directory "
                                    "(ca.key.pem + ca.cert.pem, made by `redoubt manufacturer-ca DIR`), not a lone certificate");
      ca_dir = ca_dir.parent_path();
    }
    sim_ca = attest::ensure_sim_manufacturer_ca(ca_dir);
  }
  if (sim_ca && o.platform == "qemu") {
    // Manufactured before QEMU boots: SeaBIOS sets a random platformAuth (TPM2_HierarchyChangeAuth,
    // valid until the next TPM2_Startup(CLEAR)), so after the run nobody can define the
    // platform-written EK certificate index any more. Reading it needs only owner read.
    attest::TpmIdentity factory(*tpm);
    tpm->set_locality(0);
    attest::ek_certificate_from_nv(*tpm, factory, &*sim_ca);
  }
  RunOptions ro;
  ro.launch = launch_options(o, state, say);
  ro.launch.tpm_state = tpm_state.to_json();
  if (!o.policy.empty()) ro.launch.policy = fs::absolute(o.policy).string();
  if (!o.owner.empty()) ro.launch.owner = fs::absolute(o.owner).string();
  else if (!o.policy.empty() && !o.pki.empty()) ro.launch.owner = (fs::absolute(o.pki) / "owner.pub.pem").string();
  ro.guests = o.guests;
  ro.pki = o.pki;
  ro.guest_svn = o.tamper == "guest-svn-low" ? 0 : o.guest_svn;            // below any reference min_svn >= 1
  ro.unsigned_guests = o.unsigned_guests || o.tamper == "guest-unsigned";  // refused, or unmeasured if the policy allows it
  const RunResult run = run_guests_job(ro, *tpm, say);
  const LaunchJobResult& j = run.launch;
  std::cerr << "[endpoint] launch " << (j.report.launched ? "succeeded" : "REFUSED: " + j.report.reason) << "\n";
  for (const GuestResult& g : run.guests)
    std::cerr << "[endpoint] guest " << g.name << ": " << g.admission
              << (g.admission == "refused" ? " (" + g.refusal + ": " + g.reason + ")"
                  : g.admission == "signed" ? " " + g.signed_name + " " + g.version + " SVN " + std::to_string(g.svn) + ", " + g.status
                                            : ", " + g.status)
              << "\n";

  attest::TpmIdentity ident(*tpm);
  tpm->set_locality(0);
  // Power down in order on every way out (also a refused enrolment), so the next run's quotes
  // keep clockInfo.safe = 1 (TPM 2.0 Part 3 §9.4) instead of a clock_not_safe warning.
  struct OrderlyShutdown {
    attest::TpmIdentity& id;
    tpm::TpmDevice& tpm;
    ~OrderlyShutdown() {
      id.release();
      attest::orderly_shutdown(tpm);
    }
  } shutdown_on_exit{ident, *tpm};
  const attest::Bytes ek_cert = attest::ek_certificate_from_nv(*tpm, ident, sim_ca ? &*sim_ca : nullptr);
  std::cerr << "[endpoint] EK certificate from NV 0x" << std::hex << ident.ek_cert_index() << std::dec << " (" << ek_cert.size()
            << " bytes)\n";
  attest::VerifierClient client(o.verifier, o.ca_file);
  if (!o.token.empty()) client.set_token(attest::VerifierClient::read_token_file(o.token));
  attest::EndpointAgent agent(*tpm, ident, ek_cert, client, o.id);
  if (!o.enrol_token.empty()) agent.set_enrol_token(attest::VerifierClient::read_token_file(o.enrol_token));
  agent.set_event_log(o.inject_log.empty() ? j.report.event_log : inject_launch_events(j.report.event_log, fs::absolute(o.inject_log)));

  int rc = kExitOk;
  if (o.mode == "pull") {
    const std::string host = o.listen.substr(0, listen_colon);
    const int port = agent.bind_pull(host, listen_port, o.pull_tls_cert, o.pull_tls_key);
    const std::string url = (o.pull_tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port);
    std::thread server([&] { agent.serve_pull(); });
    json a = agent.enrol("pull", url);
    std::cout << "enrolled " << o.id << " (pull) serving " << url << "\n" << std::flush;
    for (int waited = 0; !g_stop && (o.serve_seconds == 0 || waited < o.serve_seconds * 1000); waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    agent.stop_pull();
    server.join();
  } else {
    agent.enrol("push");
    // With --json the lines for people go to stderr and stdout carries one document at the end.
    std::ostream& out = o.json_out ? std::cerr : std::cout;
    out << "enrolled " << o.id << " (push)\n" << std::flush;
    json verdicts = json::array();
    for (int i = 0; i < o.count && !g_stop; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));
      json r = agent.push_once();
      const auto& sub = r["ear"]["submods"]["redoubt-drtm"];
      out << o.id << ": " << r["status"].get<std::string>() << " (verdict " << r["seq"] << ")";
      json v = {{"status", r["status"]}, {"seq", r["seq"]}, {"failures", json::array()}, {"warnings", json::array()},
                {"notes", json::array()}};
      for (const auto& f : sub["redoubt.failures"]) {
        out << "; " << f["code"].get<std::string>() << ": " << f["message"].get<std::string>();
        v["failures"].push_back({{"code", f["code"]}, {"message", f["message"]}});
      }
      for (const auto& f : sub["redoubt.warnings"]) {
        out << "; warning " << f["code"].get<std::string>() << ": " << f["message"].get<std::string>();
        v["warnings"].push_back({{"code", f["code"]}, {"message", f["message"]}});
      }
      for (const auto& f : sub["redoubt.notes"]) {
        out << "; note " << f["code"].get<std::string>();
        v["notes"].push_back(f["code"]);
      }
      out << "\n" << std::flush;
      verdicts.push_back(v);
      // The worst verdict of the run decides (docs/running.md "Exit codes"): 1 contraindicated, 4 warning.
      if (r["status"] == "warning" && rc == kExitOk) rc = kExitWarning;
      else if (r["status"] != "affirming" && r["status"] != "warning") rc = kExitRefused;
    }
    if (o.json_out)
      std::cout << json{{"id", o.id}, {"mode", "push"}, {"verifier", o.verifier}, {"launched", j.report.launched},
                        {"verdicts", verdicts}, {"exit_code", rc}}
                       .dump(2)
                << "\n";
  }
  return rc;
}

}  // namespace

void register_endpoint(CLI::App& app, int& exit_code) {
  auto ca_dir = std::make_shared<std::string>();
  auto ca_json = std::make_shared<bool>(false);
  CLI::App* m = app.add_subcommand("manufacturer-ca", "Create (once) the simulated TPM manufacturer CA that issues inproc EK certificates");
  m->add_option("dir", *ca_dir, "Directory for ca.key.pem / ca.cert.pem")->required();
  m->add_flag("--json", *ca_json, "JSON on stdout: {certificate, key} (their paths)");
  m->callback([ca_dir, ca_json, &exit_code] {
    const attest::ManufacturerCa ca = attest::ensure_sim_manufacturer_ca(fs::absolute(*ca_dir));
    if (*ca_json)
      std::cout << nlohmann::json{{"certificate", ca.cert_pem.string()}, {"key", ca.key_pem.string()}}.dump(2) << "\n";
    else
      std::cout << ca.cert_pem.string() << "\n";
    exit_code = kExitOk;
  });

  auto o = std::make_shared<EndpointOptions>();
  CLI::App* c = app.add_subcommand("endpoint", "Simulated endpoint: measured launch and guests, enrol with a verifier, push or serve quotes");
  c->add_option("--verifier", o->verifier, "Verifier base URL (http://127.0.0.1:PORT)")->required();
  c->add_option("--id", o->id, "Endpoint name")->required();
  c->add_option("--mode", o->mode, "push | pull")->capture_default_str();
  c->add_option("--listen", o->listen, "pull mode: HOST:PORT to serve GET /v1/quote on (port 0 = any)")->capture_default_str();
  c->add_option("--tamper", o->tamper, "hv-image | foreign-signer | svn-low | guest-svn-low (guest SVN 0) | guest-unsigned (= --unsigned-guests)");
  c->add_option("--inject-log", o->inject_log,
                 "Attack demonstration: append FILE's launch events (another boot's eventlog.bin) moved to PCR 23, outside the quote");
  add_uint_option(c, "--svn", o->svn, "SVN of the (good) hypervisor manifest");
  c->add_option("--guest", o->guests, "Guest to boot: NAME, FILE or KERNEL:MANIFEST[:INITRD] (repeatable; default hello sha256 mmu probe)");
  add_uint_option(c, "--guest-svn", o->guest_svn, "SVN of the guest manifests signed on the fly (lower it to play an old guest)");
  c->add_flag("--unsigned-guests", o->unsigned_guests, "NAME/FILE guests carry no manifest (refused unless the launch policy allows unsigned guests)");
  c->add_option("--pki", o->pki, "PKI directory (redoubt pki init) that signs NAME/FILE guests; default: the demo PKI of --state");
  c->add_option("--policy", o->policy, "Launch policy (redoubt sign policy); default: a demo policy trusting the PKI's root, dated now");
  c->add_option("--owner", o->owner, "Platform owner's public key (PEM) sealed into the SLB; verifies --policy (default with --pki: PKI/owner.pub.pem)");
  add_uint_option(c, "--count", o->count, "push mode: number of attestations", 1);
  add_uint_option(c, "--interval-ms", o->interval_ms, "push mode: pause between attestations", 0, 3600000);
  add_uint_option(c, "--serve-seconds", o->serve_seconds, "pull mode: stop after this long (0 = until SIGTERM)", 0, 31536000);
  c->add_option("--signing-key", o->signing_key, "Hypervisor-signing private key (PEM); default: the demo key of --state");
  c->add_option("--tpm", o->tpm, "inproc | swtpm[:state=DIR][,setup=SWTPM_SETUP_CONF] | swtpm:host=H,port=P | device")->capture_default_str();
  c->add_option("--platform", o->platform,
                "amd: the simulated AMD platform; intel: GETSEC[SENTER] with the demo SINIT ACM on the simulator (docs/intel.md); "
                "qemu: the same images under QEMU TCG + swtpm (docs/qemu.md)")
      ->check(CLI::IsMember({"amd", "intel", "qemu"}))
      ->capture_default_str();
  c->add_option("--acm", o->acm, "--platform intel: the SINIT ACM (redoubt sign acm); default: the demo ACM of --state");
  c->add_option("--chipset-key", o->chipset_key, "--platform intel: the chipset key (PEM) whose hash the simulated chipset has fused");
  c->add_option("--state", o->state, "State directory (TPM NV, EK certificate, keys)");
  c->add_flag("--new-tpm", o->new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
  c->add_option("--manufacturer-ca", o->manufacturer_ca,
                 "inproc: the simulated TPM manufacturer CA, its directory or DIR/ca.cert.pem (default <state>/manufacturer-ca)");
  c->add_option("--tls-cert", o->pull_tls_cert, "pull mode: serve GET /v1/quote over HTTPS with this certificate (PEM)");
  c->add_option("--tls-key", o->pull_tls_key, "pull mode: the key of --tls-cert (PEM)");
  c->add_option("--ca,--ca-file", o->ca_file, "https verifier: the only CA (PEM) its TLS certificate may chain to");
  c->add_option("--token", o->token, "File holding this endpoint's bearer token (role endpoint for --id, or admin)");
  c->add_option("--enrol-token", o->enrol_token, "File holding the admin token that enrols it (default: --token)");
  c->add_flag("--json", o->json_out,
              "push mode: one JSON document on stdout with every verdict (status, failures, warnings, notes); the "
              "progress lines go to stderr");
  c->callback([o, &exit_code] {
    if (o->json_out && o->mode == "pull")
      throw CLI::ValidationError("--json", "pull mode serves quotes until stopped and reports no verdicts: use push mode");
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGINT, [](int) { g_stop = true; });
    try {
      exit_code = run_endpoint(*o);
    } catch (const attest::AttestError& e) {
      if (o->json_out) throw InputError(std::string("redoubt endpoint: ") + e.what());  // main: the JSON error document
      std::cerr << "redoubt endpoint: " << e.what() << "\n";
      exit_code = kExitEnv;
    }
  });
}

}  // namespace redoubt::tools
