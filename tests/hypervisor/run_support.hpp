// Runs `redoubt run` in-process (tools::run_guests_job) with the build's
// images and a fresh in-process TPM; shared by the hypervisor and attack tests.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tests/support/launch_fixture.hpp"
#include "tools/cmd_run_job.hpp"

namespace redoubt::test {

struct GuestRun {
  TempDir dir;
  std::unique_ptr<tpm::TpmDevice> tpm;
  tools::RunResult result;
  std::vector<std::string> console;

  const tools::GuestResult& guest(const std::string& name) const {
    for (const auto& g : result.guests)
      if (g.name == name) return g;
    throw std::runtime_error("no guest " + name + " in the run");
  }
};

inline tools::RunOptions default_run_options(const fs::path& out, const fs::path& state) {
  tools::RunOptions o;
  o.launch.out = out.string();
  o.launch.state = state.string();
  o.launch.sl = (build_dir() / "sl.bin").string();
  o.launch.sl_stage2 = (build_dir() / "sl2.bin").string();
  o.launch.hypervisor = (build_dir() / "hv.bin").string();
  o.guest_dir = (build_dir() / "guests").string();
  return o;
}

// Runs with o's guest selection and policy knobs; paths (out, state, images)
// are always this run's temp dir and the build's images.
inline std::unique_ptr<GuestRun> run_guests(tools::RunOptions o) {
  auto r = std::make_unique<GuestRun>();
  tools::RunOptions d = default_run_options(r->dir / "out", r->dir / "state");
  o.launch.out = d.launch.out;
  o.launch.state = d.launch.state;
  o.launch.sl = d.launch.sl;
  o.launch.hypervisor = d.launch.hypervisor;
  o.guest_dir = d.guest_dir;
  r->tpm = fresh_inproc_tpm(r->dir / "state");
  r->result = tools::run_guests_job(o, *r->tpm, [&](const std::string& l) { r->console.push_back(l); });
  r->tpm.reset();  // libtpms: one TPM per process
  return r;
}

// Runs with o's engine, platform and knobs in `state` (keys, PKI and TPM state shared between
// runs when the caller passes the same directory); images and out dir are the build's and this
// run's. `policy`: a launch policy to reuse (the demo policy is dated now, so two runs measure the
// same PCR17 only with the same file), with the demo owner key of `state`.
inline std::unique_ptr<GuestRun> run_in_state(tools::RunOptions o, const fs::path* state = nullptr,
                                              const fs::path* policy = nullptr) {
  auto r = std::make_unique<GuestRun>();
  const fs::path st = state ? *state : r->dir / "state";
  tools::RunOptions d = default_run_options(r->dir / "out", st);
  o.launch.out = d.launch.out;
  o.launch.state = d.launch.state;
  o.launch.sl = d.launch.sl;
  o.launch.sl_stage2 = d.launch.sl_stage2;
  if (o.launch.hypervisor.empty()) o.launch.hypervisor = d.launch.hypervisor;
  o.guest_dir = d.guest_dir;
  if (policy) {
    o.launch.policy = policy->string();
    o.launch.owner = (st / "demo/pki/owner.pub.pem").string();
  }
  r->tpm = fresh_inproc_tpm(st);
  r->result = tools::run_guests_job(o, *r->tpm, [&](const std::string& l) { r->console.push_back(l); });
  r->tpm.reset();  // libtpms: one TPM per process
  return r;
}

inline bool console_has(const GuestRun& r, const std::string& s) {
  for (const auto& l : r.console)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

// The sha256 guest prints its TSC ticks (instructions retired, the hypervisor's included): that
// line depends on the backend's and engine's own instruction count, not on what the guest computed.
inline std::string without_tsc_line(const std::string& s) {
  std::string out;
  size_t at = 0;
  while (at < s.size()) {
    size_t e = s.find('\n', at);
    std::string line = s.substr(at, e == std::string::npos ? std::string::npos : e - at + 1);
    if (line.find("TSC ticks") == std::string::npos) out += line;
    if (e == std::string::npos) break;
    at = e + 1;
  }
  return out;
}

}  // namespace redoubt::test
