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

}  // namespace redoubt::test
