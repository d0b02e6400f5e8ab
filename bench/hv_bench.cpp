// Hypervisor benchmarks on the simulated CPU, end to end through a measured
// launch and `redoubt run`'s job (tools/cmd_run_job):
//   - VMMCALL round trip (hvbench guest, mode 0), CPUID exit (mode 2)
//   - #NPF exit cost: load from an unmapped guest-physical address, #PF
//     injected, skipped by the guest's handler (mode 1)
//   - guest MIPS on the sha256 guest
// Per-exit costs are differences between two runs (N2 - N1 iterations), so the
// launch and guest start-up cancel out; they are host (wall-clock) time spent
// simulating, inside VMRUN plus the hypervisor's handling.
// Each measurement runs with both engines side by side (one process, same machine
// state): "native" (the hypervisor compiled into the tool) and "native-sl" (hv.bin,
// the measured image, executed by the simulated CPU).
// Usage: bench_hv [N]   (default 20000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench/machine_info.hpp"
#include "policy/fs/pcr_map.hpp"
#include "abi/boot_params.hpp"
#include "tools/cmd_run_job.hpp"

using namespace redoubt;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string g_engine = "native";

struct One {
  double seconds;       // whole job
  double vmrun_seconds; // inside VMRUN (guest)
  uint64_t exits, instructions, ticks;
  std::string serial;
};

One run(const fs::path& tmp, const std::vector<std::string>& guests, std::array<uint64_t, 4> args, uint32_t flags,
        uint64_t sha_bytes = 0) {
  static int k = 0;
  fs::path dir = tmp / ("r" + std::to_string(k++));
  tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
  spec.state_dir = (tmp / "state").string();
  fs::create_directories(spec.state_dir);
  auto tpm = tpm::open_tpm(spec);
  tpm->set_locality(0);
  if (!tpm->nv_read_counter(policy::kNvHvSvnCounter)) tpm->nv_define_counter(policy::kNvHvSvnCounter);
  tools::RunOptions o;
  o.launch.out = dir.string();
  o.launch.state = (tmp / "state").string();
  o.launch.engine = g_engine;
  o.guests = guests;
  o.hvbench_args = args;
  o.extra_flags = flags;
  o.sha_bytes = sha_bytes;
  if (flags) o.npf = "inject";
  auto t0 = Clock::now();
  tools::RunResult r = tools::run_guests_job(o, *tpm, [](const std::string&) {});
  One x{std::chrono::duration<double>(Clock::now() - t0).count(), 0, 0, 0, 0, ""};
  if (r.guests.empty()) {
    std::fprintf(stderr, "bench_hv: run failed: %s\n", r.launch.report.reason.c_str());
    std::exit(1);
  }
  const auto& g = r.guests[0];
  x.vmrun_seconds = g.host_seconds;
  x.exits = g.exits_total;
  x.instructions = g.instructions;
  x.ticks = g.run_ticks;
  x.serial = g.serial;
  if (g.status != "exited") {
    std::fprintf(stderr, "bench_hv: guest %s %s: %s\n", g.name.c_str(), g.status.c_str(), g.reason.c_str());
    std::exit(1);
  }
  return x;
}

// The fastest of three runs (the launch itself is noisy: TPM, signing).
One best(const fs::path& tmp, const std::vector<std::string>& guests, std::array<uint64_t, 4> args, uint32_t flags) {
  One b = run(tmp, guests, args, flags);
  for (int i = 0; i < 2; ++i) {
    One x = run(tmp, guests, args, flags);
    if (x.seconds < b.seconds) b.seconds = x.seconds;
    if (x.vmrun_seconds < b.vmrun_seconds) b.vmrun_seconds = x.vmrun_seconds;
  }
  return b;
}

void per_exit(const fs::path& tmp, const char* label, uint64_t mode, uint64_t n, uint32_t flags) {
  One a = best(tmp, {"hvbench"}, {mode, n / 10, 0, 0}, flags);
  One b = best(tmp, {"hvbench"}, {mode, n, 0, 0}, flags);
  const double dn = double(n - n / 10);
  std::printf("%-10s %-28s %8.3f us/iteration (whole run) %8.3f us/iteration (in VMRUN) %6.2f exits/iteration\n", g_engine.c_str(), label,
              (b.seconds - a.seconds) / dn * 1e6, (b.vmrun_seconds - a.vmrun_seconds) / dn * 1e6,
              double(b.exits - a.exits) / dn);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20000;
  bench::print_machine();
  fs::path tmp = fs::temp_directory_path() / ("redoubt-bench-hv-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  std::printf("hypervisor on the simulated CPU (AMD-V, nested paging); N = %llu\n", (unsigned long long)n);
  run(tmp, {"hello"}, {}, 0);  // warm-up: creates the demo signing key
  const char* engines[] = {"native", "native-sl", "full-system"};
  for (const char* e : engines) {
    g_engine = e;
    per_exit(tmp, "VMMCALL round trip", 0, n, 0);
    per_exit(tmp, "CPUID exit", 2, n, 0);
    per_exit(tmp, "#NPF exit (+#PF inject)", 1, n, sl::kGuestNpfInject | sl::kGuestNpfUnlimited);
  }
  for (uint64_t bytes : {1ull << 20, 4ull << 20})
    for (const char* e : engines) {
      g_engine = e;
      One s = run(tmp, {"sha256"}, {}, 0, bytes);
      std::printf("%-10s sha256 guest, %4llu KiB: %llu instructions, %.3f s in VMRUN, %.1f guest MIPS (%.3f s whole run)\n",
                  e, (unsigned long long)(bytes >> 10), (unsigned long long)s.instructions, s.vmrun_seconds,
                  double(s.instructions) / s.vmrun_seconds / 1e6, s.seconds);
    }
  for (const char* e : engines) {  // the demo: the four default guests, whole `redoubt run`
    g_engine = e;
    double best_s = 1e9;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = Clock::now();
      tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
      spec.state_dir = (tmp / "state").string();
      auto tpm = tpm::open_tpm(spec);
      tools::RunOptions o;
      o.launch.out = (tmp / ("demo-" + std::string(e))).string();
      o.launch.state = spec.state_dir;
      o.launch.engine = e;
      tools::RunResult r = tools::run_guests_job(o, *tpm, [](const std::string&) {});
      best_s = std::min(best_s, std::chrono::duration<double>(Clock::now() - t0).count());
      if (r.guests.size() != 4) std::fprintf(stderr, "bench_hv: demo run with %s: %s\n", e, r.launch.report.reason.c_str());
    }
    std::printf("%-10s demo run (hello sha256 mmu probe): %.3f s wall (best of 3)\n", e, best_s);
  }
  for (const char* e : engines) {  // SKINIT -> hypervisor entry (no guests)
    g_engine = e;
    double best_us = 1e18;
    uint64_t instr = 0;
    for (int i = 0; i < 3; ++i) {
      tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
      spec.state_dir = (tmp / "state").string();
      auto tpm = tpm::open_tpm(spec);
      tools::LaunchOptions o;
      o.out = (tmp / ("launch-" + std::string(e))).string();
      o.state = spec.state_dir;
      o.engine = e;
      tools::LaunchJobResult r = tools::run_launch_job(o, *tpm, [](const std::string&) {});
      if (!r.report.hypervisor_entered) std::fprintf(stderr, "bench_hv: launch with %s: %s\n", e, r.report.reason.c_str());
      best_us = std::min(best_us, r.report.skinit_to_hv_us);
      instr = r.report.skinit_to_hv_instructions;
    }
    std::printf("%-10s SKINIT -> hypervisor entry: %.0f us (best of 3)%s\n", e, best_us,
                instr ? (", " + std::to_string(instr) + " SL instructions interpreted").c_str() : "");
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
