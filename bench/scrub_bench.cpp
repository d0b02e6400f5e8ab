// Scrub bandwidth (issue 11), side by side in one run:
//   - the platform's answer to a warm reset with the SECRETS flag set (platform/sim/reset.hpp):
//     all RAM zeroed by the host, for 256 MiB and 1 GiB machines;
//   - the hypervisor's own scrub at its stop (hypervisor/core/fail_closed.cpp: guest RAM, its
//     pages, the SLB), on each engine: native (the hypervisor compiled into the tool), native-sl
//     and full-system (hv.bin executed by the simulated CPU). Its time is the host time between
//     the hypervisor's last guest summary line and its "[hv] scrubbed:" line.
// Usage: bench_scrub [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/bench_cli.hpp"
#include "platform/sim/machine.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tools/cmd_run_job.hpp"

using namespace redoubt;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

json platform_reset(uint64_t ram) {
  sim::MachineConfig cfg;
  cfg.ram_bytes = ram;
  sim::Machine m(cfg);
  std::memset(m.mem().map(0, ram), 0x5A, ram);  // touched, as after a run
  m.secrets().mmio_write(0x8E0, 8, 1, true);
  const sim::WarmResetReport r = m.warm_reset();
  return {{"ram_bytes", ram}, {"seconds", r.seconds}, {"gib_per_s", double(r.scrubbed_bytes) / r.seconds / (1ull << 30)}};
}

json hv_stop(const fs::path& tmp, const std::string& engine) {
  static int k = 0;
  const fs::path dir = tmp / ("r" + std::to_string(k++));
  tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
  spec.state_dir = (tmp / "state").string();
  fs::create_directories(spec.state_dir);
  auto tpm = tpm::open_tpm(spec);
  tpm->set_locality(0);
  if (!tpm->nv_read_counter(policy::kNvHvSvnCounter)) tpm->nv_define_counter(policy::kNvHvSvnCounter);
  tools::RunOptions o;
  o.launch.out = dir.string();
  o.launch.state = (tmp / "state").string();
  o.launch.engine = engine;
  o.guests = {"sha256", "hello", "mmu"};
  Clock::time_point last_summary{}, scrubbed{};
  const tools::RunResult r = tools::run_guests_job(o, *tpm, [&](const std::string& l) {
    if (l.find("[hv] guest ") != std::string::npos && l.find(" exits, ") != std::string::npos) last_summary = Clock::now();
    if (l.find("[hv] scrubbed:") != std::string::npos) scrubbed = Clock::now();
  });
  const uint64_t bytes = r.scrubbed_guest_bytes + r.scrubbed_hv_bytes + r.scrubbed_slb_bytes;
  const double s = std::chrono::duration<double>(scrubbed - last_summary).count();
  return {{"engine", engine},     {"bytes", bytes},       {"guest_bytes", r.scrubbed_guest_bytes},
          {"hv_bytes", r.scrubbed_hv_bytes}, {"slb_bytes", r.scrubbed_slb_bytes}, {"seconds", s},
          {"mib_per_s", s > 0 ? double(bytes) / s / (1 << 20) : 0.0}, {"scrub_done", r.scrub_done}};
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "\nScrub bandwidth: the platform's warm-reset scrub (256 MiB and 1 GiB of touched RAM) and the\n"
      "hypervisor's stop scrub (guest RAM, its own pages, the SLB) on each engine.",
      0);
  bench::Report rep("bench_scrub", args);
  const fs::path tmp = fs::temp_directory_path() / ("redoubt-bench-scrub-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  for (uint64_t ram : {256ull << 20, 1ull << 30}) {
    std::vector<double> gibs;
    for (int i = 0; i < args.reps; ++i) gibs.push_back(platform_reset(ram)["gib_per_s"].get<double>());
    rep.add("platform warm-reset scrub, " + std::to_string(ram >> 20) + " MiB RAM", "GiB/s", gibs);
  }
  hv_stop(tmp, "native");  // warm-up: the demo signing key
  for (const char* e : {"native", "native-sl", "full-system"}) {
    std::vector<double> mibs;
    json last;
    for (int i = 0; i < args.reps; ++i) {
      last = hv_stop(tmp, e);
      if (!last["scrub_done"].get<bool>()) {
        std::fprintf(stderr, "bench_scrub: %s: the hypervisor did not report its scrub\n", e);
        return 1;
      }
      mibs.push_back(last["mib_per_s"].get<double>());
    }
    rep.add(std::string("hypervisor stop scrub, ") + e, "MiB/s", mibs,
            {{"bytes", last["bytes"]}, {"guest_bytes", last["guest_bytes"]}, {"hv_bytes", last["hv_bytes"]},
             {"slb_bytes", last["slb_bytes"]}});
  }
  fs::remove_all(tmp);
  rep.finish();
  return 0;
}
