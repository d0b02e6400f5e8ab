// Hypervisor benchmarks on the simulated CPU, end to end through a measured
// launch and `redoubt run`'s job (tools/cmd_run_job):
//   - VMMCALL round trip (hvbench guest, mode 0), CPUID exit (mode 2)
//   - #NPF exit cost: load from an unmapped guest-physical address, #PF
//     injected, skipped by the guest's handler (mode 1)
//   - guest MIPS on the sha256 guest
// Per-exit costs are differences between two runs (N and N/10 iterations) of the
// time from the guest's first VMRUN to its last #VMEXIT, so the launch and guest
// start-up cancel out; they are host (wall-clock) time spent simulating, inside
// VMRUN plus the hypervisor's handling. Each figure is min/median/max over R
// repetitions (bench/bench_cli.hpp).
// Each measurement runs with both engines side by side (one process, same machine
// state): "native" (the hypervisor compiled into the tool) and "native-sl" (hv.bin,
// the measured image, executed by the simulated CPU).
// With --cpu-time every time except "in VMRUN only" and SKINIT -> hypervisor is the process's
// CPU time (CLOCK_PROCESS_CPUTIME_ID) instead of wall-clock time: on a shared, loaded machine
// wall time measures the other jobs as much as the simulator.
// Usage: bench_hv [--json] [--reps R] [--cpu-time] [N]   (default N = 20000, R = 3)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ctime>
#include <map>
#include <string>

#include "bench/bench_cli.hpp"
#include "policy/fs/pcr_map.hpp"
#include "abi/boot_params.hpp"
#include "tools/cmd_run_job.hpp"

using namespace redoubt;
namespace fs = std::filesystem;
bool g_cpu_time = false;

// Seconds on the clock the run measures with: wall (steady) or this process's CPU time.
double now_s() {
  if (g_cpu_time) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {

std::string g_engine = "native";

struct One {
  double seconds;        // whole job
  double vmrun_seconds;  // inside VMRUN (guest)
  double loop_seconds;   // the guest's first VMRUN to its last #VMEXIT (guest + hypervisor, no launch)
  uint64_t exits, instructions, ticks;
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
  bool started = false;
  double first = 0, last = 0;
  o.on_vmrun = [&](sim::Machine&, uint64_t, bool after) {
    const double now = now_s();
    if (!after && !started) {
      first = now;
      started = true;
    }
    if (after) last = now;
  };
  const double t0 = now_s();
  tools::RunResult r = tools::run_guests_job(o, *tpm, [](const std::string&) {});
  One x{now_s() - t0, 0, last - first,
        0, 0, 0};
  if (r.guests.empty()) {
    std::fprintf(stderr, "bench_hv: run failed: %s\n", r.launch.report.reason.c_str());
    std::exit(1);
  }
  const auto& g = r.guests[0];
  x.vmrun_seconds = g.host_seconds;
  x.exits = g.exits_total;
  x.instructions = g.instructions;
  x.ticks = g.run_ticks;
  if (g.status != "exited") {
    std::fprintf(stderr, "bench_hv: guest %s %s: %s\n", g.name.c_str(), g.status.c_str(), g.reason.c_str());
    std::exit(1);
  }
  return x;
}

// us per iteration over R paired runs (N/10 and N iterations); returns the median.
double per_exit(bench::Report& rep, const fs::path& tmp, const char* label, uint64_t mode, uint64_t n, uint32_t flags) {
  std::vector<double> loop, vmrun;
  double exits_per = 0;
  const double dn = double(n - n / 10);
  for (int i = 0; i < rep.args().reps; ++i) {
    One a = run(tmp, {"hvbench"}, {mode, n / 10, 0, 0}, flags);
    One b = run(tmp, {"hvbench"}, {mode, n, 0, 0}, flags);
    loop.push_back((b.loop_seconds - a.loop_seconds) / dn * 1e6);
    vmrun.push_back((b.vmrun_seconds - a.vmrun_seconds) / dn * 1e6);
    exits_per = double(b.exits - a.exits) / dn;
  }
  rep.add(g_engine + " " + label, "us/iteration", loop, {{"exits_per_iteration", exits_per}, {"n", n}});
  rep.add(g_engine + " " + label + " (in VMRUN only)", "us/iteration", vmrun);
  const double m = bench::summarize(loop).median;
  if (m <= 0) rep.note("  (below this machine's noise at N = " + std::to_string(n) + ": use a larger N or more --reps)");
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  std::vector<char*> av;  // --cpu-time is bench_hv's own; the rest is the shared command line
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::string(argv[i]) == "--cpu-time") g_cpu_time = true;
    else av.push_back(argv[i]);
  }
  argc = int(av.size());
  argv = av.data();
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "[--cpu-time] [N]\n  N          iterations of the per-exit guests (default 20000, at least 1000)\n"
      "  --cpu-time process CPU time instead of wall time (a loaded machine); \"in VMRUN only\" and SKINIT stay wall\n"
      "Hypervisor costs on the simulated CPU, engines native, native-sl and full-system side by side:\n"
      "VMMCALL round trip, CPUID exit, #NPF exit, guest MIPS (sha256), the demo run, SKINIT -> hypervisor.",
      1);
  const uint64_t n = bench::positional_u64(args, 0, 20000, 1000, "N");
  bench::Report rep("bench_hv", args);
  fs::path tmp = fs::temp_directory_path() / ("redoubt-bench-hv-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  rep.note("hypervisor on the simulated CPU (AMD-V, nested paging); N = " + std::to_string(n) + "; median of " +
           std::to_string(args.reps) + (g_cpu_time ? "; times are process CPU time" : "; times are wall time"));
  run(tmp, {"hello"}, {}, 0);  // warm-up: creates the demo signing key
  const char* engines[] = {"native", "native-sl", "full-system"};
  std::map<std::string, double> vmmcall, demo;
  for (const char* e : engines) {
    g_engine = e;
    vmmcall[e] = per_exit(rep, tmp, "VMMCALL round trip", 0, n, 0);
    per_exit(rep, tmp, "CPUID exit", 2, n, 0);
    per_exit(rep, tmp, "#NPF exit (+#PF inject)", 1, n, sl::kGuestNpfInject | sl::kGuestNpfUnlimited);
  }
  for (uint64_t bytes : {1ull << 20, 4ull << 20})
    for (const char* e : engines) {
      g_engine = e;
      std::vector<double> mips;
      uint64_t instr = 0;
      for (int i = 0; i < args.reps; ++i) {
        One s = run(tmp, {"sha256"}, {}, 0, bytes);
        // CPU time: the first VMRUN to the last #VMEXIT (the guest's few exits included).
        mips.push_back(double(s.instructions) / (g_cpu_time ? s.loop_seconds : s.vmrun_seconds) / 1e6);
        instr = s.instructions;
      }
      rep.add(std::string(e) + " sha256 guest " + std::to_string(bytes >> 10) + " KiB", "M guest instr/s", mips,
              {{"instructions", instr}});
    }
  for (const char* e : engines) {  // the demo: the four default guests, whole `redoubt run`
    g_engine = e;
    std::vector<double> wall;
    for (int i = 0; i < args.reps; ++i) {
      const double t0 = now_s();
      tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
      spec.state_dir = (tmp / "state").string();
      auto tpm = tpm::open_tpm(spec);
      tools::RunOptions o;
      o.launch.out = (tmp / ("demo-" + std::string(e))).string();
      o.launch.state = spec.state_dir;
      o.launch.engine = e;
      tools::RunResult r = tools::run_guests_job(o, *tpm, [](const std::string&) {});
      wall.push_back(now_s() - t0);
      if (r.guests.size() != 4) {
        std::fprintf(stderr, "bench_hv: demo run with %s: %s\n", e, r.launch.report.reason.c_str());
        return 1;
      }
    }
    rep.add(std::string(e) + " demo run (hello sha256 mmu probe)", g_cpu_time ? "s CPU" : "s wall", wall);
    demo[e] = bench::summarize(wall).median;
  }
  for (const char* e : engines) {  // SKINIT -> hypervisor entry (no guests)
    g_engine = e;
    std::vector<double> us;
    uint64_t instr = 0;
    for (int i = 0; i < args.reps; ++i) {
      tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
      spec.state_dir = (tmp / "state").string();
      auto tpm = tpm::open_tpm(spec);
      tools::LaunchOptions o;
      o.out = (tmp / ("launch-" + std::string(e))).string();
      o.state = spec.state_dir;
      o.engine = e;
      tools::LaunchJobResult r = tools::run_launch_job(o, *tpm, [](const std::string&) {});
      if (!r.report.hypervisor_entered) {
        std::fprintf(stderr, "bench_hv: launch with %s: %s\n", e, r.report.reason.c_str());
        return 1;
      }
      us.push_back(r.report.skinit_to_hv_us);
      instr = r.report.skinit_to_hv_instructions;
    }
    rep.add(std::string(e) + " SKINIT -> hypervisor entry", "us", us, {{"sl_instructions_interpreted", instr}});
  }
  rep.ratio("demo run: full-system / native", demo["full-system"] / demo["native"], g_cpu_time ? "median CPU times in this run" : "median wall times in this run");
  rep.ratio("VMMCALL round trip: full-system / native", vmmcall["full-system"] / vmmcall["native"],
            "median us/iteration in this run");
  rep.finish();
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
