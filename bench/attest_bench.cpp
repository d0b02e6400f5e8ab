// bench_attest: one-shot verifications (POST /v1/verify) over HTTP on loopback.
//  1. the appraisal alone (quote checks + log replay + reference values + EAR signing), in-process;
//  2. one server worker thread, one keep-alive client: verifications/s "on one core";
//  3. 32 concurrent keep-alive clients: throughput and p50/p99 latency.
// Every verification also stores its verdict in SQLite (WAL), as in production, or (third argument
// "postgresql") in PostgreSQL on a server of its own.
// Prints the machine; numbers only, no asserts.
#include "bench/machine_info.hpp"
#include <httplib.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "attestation/agent/endpoint_state.hpp"
#include "attestation/service/http_api.hpp"
#include "policy/host/keys.hpp"
#include "tools/cmd_run_job.hpp"
#include "tools/launch_job.hpp"
#include "tools/tpm_session.hpp"
#include "tests/attestation/pg_server.hpp"

using namespace redoubt;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {


// Why a request failed: the transport error (httplib::Error) or the HTTP status + error code.
std::string failure_reason(const httplib::Result& r) {
  if (!r) return "transport: " + httplib::to_string(r.error());
  json j = json::parse(r->body, nullptr, false);
  return "HTTP " + std::to_string(r->status) + (j.is_object() && j.contains("error") ? " " + j["error"].get<std::string>() + ": " + j.value("reason", "") : "");
}

void print_failures(const std::map<std::string, int>& f) {
  for (const auto& [why, n] : f) std::cout << "  failed " << n << "x: " << why << "\n";
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Server {
  attest::VerifierService svc;
  attest::VerifierHttpServer http;
  std::thread t;
  int port;
  Server(attest::VerifierConfig cfg, int threads)
      : svc(std::move(cfg)), http(svc, [&] {
          attest::HttpOptions o;
          o.threads = threads;
          o.max_connections = threads;  // a fixed pool of `threads` workers, as measured before
          o.insecure_no_auth = true;    // as measured before issue 13 (no bearer token verified per request)
          return o;
        }()) {
    port = http.bind();
    t = std::thread([this] { http.serve(); });
  }
  ~Server() {
    http.stop();
    t.join();
  }
};

// The store every verdict goes to: SQLite in `dir`, or (third argument "postgresql") a database on a
// PostgreSQL server of the benchmark's own (tests/attestation/pg_server.hpp, synchronous_commit=off).
std::unique_ptr<test::PgServer> g_pg;

attest::VerifierConfig config(const std::filesystem::path& dir, const std::string& name) {
  attest::VerifierConfig c;
  c.db_path = g_pg ? g_pg->create_database(name) : (dir / (name + ".db")).string();
  c.signing_key = policy::generate_key("P-256");
  c.reference = attest::ReferenceValues{};  // fail closed since issue 13: some reference values (these allow any signer)
  c.reference->id = "bench";
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  const int n_single = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int per_client = argc > 2 ? std::atoi(argv[2]) : 100;
  const std::string store = argc > 3 ? argv[3] : "sqlite";
  if (store != "sqlite" && store != "postgresql") {
    std::cerr << "usage: bench_attest [N_SINGLE] [PER_CLIENT] [sqlite|postgresql]\n";
    return 2;
  }
  if (store == "postgresql") g_pg = std::make_unique<test::PgServer>(/*durable=*/true);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("redoubt-attest-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::cout << "machine: " << redoubt::bench::cpu_model() << "\nstore: " << store << "\n";

  // For comparison: evidence of a launch without policy or guests (libtpms: one TPM per process at a time).
  attest::EndpointQuote q_launch_only;
  {
    tools::LaunchOptions lo;
    lo.state = (dir / "state-launch-only").string();
    lo.out = (dir / "launch-only").string();
    auto tpm = tools::open_tpm_session("inproc", lo.state);
    const tools::LaunchJobResult j = tools::run_launch_job(lo, *tpm, [](const std::string&) {});
    attest::TpmIdentity id(*tpm);
    q_launch_only = attest::make_evidence(*tpm, id, attest::Bytes(32, 0x5a), j.report.event_log);
    id.release();
  }
  // Evidence from a real measured launch on an inproc TPM, with the four demo guests measured into
  // PCR19/20 under the demo launch policy (what `redoubt endpoint` quotes).
  tools::RunOptions ro;
  ro.launch.state = (dir / "state").string();
  ro.launch.out = (dir / "launch").string();
  auto tpm = tools::open_tpm_session("inproc", ro.launch.state);
  const tools::RunResult run = tools::run_guests_job(ro, *tpm, [](const std::string&) {});
  const tools::LaunchJobResult& j = run.launch;
  attest::TpmIdentity id(*tpm);
  const attest::Bytes nonce(32, 0x5a);
  const attest::EndpointQuote q = attest::make_evidence(*tpm, id, nonce, j.report.event_log);
  const std::string body = json{{"evidence", attest::evidence_to_json(q.evidence)}, {"nonce", attest::to_hex(nonce)}}.dump();
  std::cout << "evidence: quote " << q.evidence.quote.size() << " B, event log " << q.evidence.eventlog.size() << " B, request " << body.size() << " B\n";

  {  // 1. appraisal alone: this evidence, and a launch-only one (no policy, no guests) for comparison
    for (const attest::EndpointQuote* e : {&q, static_cast<const attest::EndpointQuote*>(&q_launch_only)}) {
      attest::AppraisalInput in;
      in.ak_public = e->evidence.ak_public;
      in.nonce = nonce;
      in.selection = attest::default_quote_selection();
      const auto t0 = Clock::now();
      const int n = 2000;
      for (int i = 0; i < n; ++i) attest::appraise(e->evidence, in, 0);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::cout << "appraisal only (in-process, 1 thread, " << (e == &q ? "launch + 4 guests" : "launch only") << ", log " << e->evidence.eventlog.size()
                << " B): " << static_cast<int>(n / s) << " /s (" << s / n * 1e6 << " us each)\n";
    }
  }
  {  // 2. one worker thread, one client
    Server srv(config(dir, "single"), 1);
    httplib::Client c("127.0.0.1", srv.port);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    int ok = 0;
    std::map<std::string, int> failures;
    const auto t0 = Clock::now();
    for (int i = 0; i < n_single; ++i) {
      auto r = c.Post("/v1/verify", body, "application/json");
      if (r && r->status == 200) ++ok;
      else ++failures[failure_reason(r)];
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "HTTP one-shot, 1 server thread, 1 keep-alive client: " << static_cast<int>(ok / s) << " verifications/s (" << ok << "/" << n_single
              << " ok, stored in " << store << ")\n";
    print_failures(failures);
  }
  {  // 3. 32 concurrent clients
    const int clients = 32;
    Server srv(config(dir, "concurrent"), clients);
    std::vector<std::vector<double>> lat(clients);
    std::vector<int> oks(clients, 0);
    std::mutex fmu;
    std::map<std::string, int> failures;
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c)
      ts.emplace_back([&, c] {
        httplib::Client cl("127.0.0.1", srv.port);
        cl.set_keep_alive(true);
        cl.set_tcp_nodelay(true);
        cl.set_read_timeout(30, 0);
        for (int i = 0; i < per_client; ++i) {
          const auto a = Clock::now();
          auto r = cl.Post("/v1/verify", body, "application/json");
          lat[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
          if (r && r->status == 200) {
            ++oks[c];
          } else {
            std::lock_guard<std::mutex> l(fmu);
            ++failures[failure_reason(r) + " (request " + std::to_string(i) + " of its client)"];
          }
        }
      });
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    int ok = 0;
    for (int c = 0; c < clients; ++c) {
      all.insert(all.end(), lat[c].begin(), lat[c].end());
      ok += oks[c];
    }
    std::cout << "HTTP one-shot, 32 concurrent keep-alive clients (all cores): " << static_cast<int>(ok / s) << " verifications/s, p50 "
              << pct(all, 0.50) << " ms, p99 " << pct(all, 0.99) << " ms, max " << pct(all, 1.0) << " ms (" << ok << "/" << all.size() << " ok)\n";
    print_failures(failures);
  }
  std::filesystem::remove_all(dir);
  g_pg.reset();
  return 0;
}
