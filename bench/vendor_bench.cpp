// SVM + NPT vs VMX + EPT on the same guests in one run, side by side (issue 12):
// the same hv.bin, launched by SKINIT on the simulated AMD platform and by
// GETSEC[SENTER] on the simulated Intel one (engine full-system), running the
// same guest images. Per guest and vendor:
//   - exits by reason (the hypervisor's run record, vendor-neutral names),
//   - 2-D walks: page walks, memory references (guest-table reads and nested
//     EPT/NPT reads) and references per walk,
//   - TLB lookups behind the simulator's per-page fast path: hits, misses, hit
//     rate (VPID- / ASID-tagged; tests/platform/sim/{vmx,svm}/*tlb_test pin the
//     counting),
//   - host wall time in guest mode, and outside it per exit (the hypervisor's
//     handling plus the two world switches);
// and per vendor, from the hvbench guest: the VMMCALL/VMCALL round trip and the
// CPUID exit, as differences of runs with N and N/10 iterations (launch and
// guest start-up cancel out). Counts are exact and the same every repetition;
// times are min/median/max over --reps (bench/bench_cli.hpp).
// Usage: bench_vendor [--json] [--reps R] [N]   (default N = 5000, R = 3)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_cli.hpp"
#include "hypervisor/arch/vmx/vmx_vcpu.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/vmx/vmx_cpu.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tools/cmd_run_job.hpp"

using namespace redoubt;
namespace fs = std::filesystem;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Run {
  tools::RunResult r;
  double loop_seconds = 0;  // first VM entry to last VM exit (guests + hypervisor, no launch)
  // VMX: each VMCS's exits by basic reason, from the CPU model (the hypervisor's run record
  // counts SVM EXITCODEs only; its VMX exits are all "OTHER").
  std::map<uint64_t, std::map<uint32_t, uint64_t>> vmx_reasons;
  uint64_t icount = 0;  // instructions the simulated CPU retired over the whole run (launch included; HLT idle aside)
};

Run run(const fs::path& tmp, const std::string& platform, const std::vector<std::string>& guests,
        std::array<uint64_t, 4> args = {}) {
  static int k = 0;
  tpm::TpmSpec spec = tpm::TpmSpec::parse("inproc");
  spec.state_dir = (tmp / ("state-" + platform)).string();
  fs::create_directories(spec.state_dir);
  auto tpm = tpm::open_tpm(spec);
  tpm->set_locality(0);
  if (!tpm->nv_read_counter(policy::kNvHvSvnCounter)) tpm->nv_define_counter(policy::kNvHvSvnCounter);
  tools::RunOptions o;
  o.launch.out = (tmp / ("r" + std::to_string(k++))).string();
  o.launch.state = spec.state_dir;
  o.launch.engine = "full-system";
  o.launch.platform = platform;
  o.guests = guests;
  o.hvbench_args = args;
  bool started = false;
  double first = 0, last = 0;
  o.on_vmrun = [&](sim::Machine&, uint64_t, bool after) {
    const double t = now_s();
    if (!after && !started) {
      first = t;
      started = true;
    }
    if (after) last = t;
  };
  Run x;
  sim::FullSystem* sys = nullptr;
  o.launch.on_system = [&](sim::FullSystem& s) { sys = &s; };
  o.after_run = [&](sim::Machine&) {
    if (sys) x.icount = sys->cpu().icount - sys->cpu().idle_ticks;
    if (sys && sys->vmx())
      for (const auto& [pa, p] : sys->vmx()->per_vmcs()) x.vmx_reasons[pa] = p.reasons;
  };
  x.r = tools::run_guests_job(o, *tpm, [](const std::string&) {});
  x.loop_seconds = last - first;
  if (x.r.guests.size() != guests.size()) {
    std::fprintf(stderr, "bench_vendor: %s run failed: %s\n", platform.c_str(), x.r.launch.report.reason.c_str());
    std::exit(1);
  }
  for (const auto& g : x.r.guests)
    if (g.status != "exited") {
      std::fprintf(stderr, "bench_vendor: %s guest %s %s: %s\n", platform.c_str(), g.name.c_str(), g.status.c_str(),
                   g.reason.c_str());
      std::exit(1);
    }
  return x;
}

const char* kVendors[] = {"amd", "intel"};
const char* kLabel[] = {"SVM+NPT", "VMX+EPT"};

void row(const bench::Report& rep, const std::string& what, const std::string& a, const std::string& b) {
  char line[200];
  std::snprintf(line, sizeof line, "  %-34s %18s %18s", what.c_str(), a.c_str(), b.c_str());
  rep.note(line);
}
std::string u(uint64_t v) { return std::to_string(v); }
// The sha256 guest prints its TSC ticks (instructions retired, the hypervisor's included): that line
// depends on the backend (as in full_system_intel_run_test), not on what the guest computed.
std::string without_tsc_line(const std::string& s) {
  std::string out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t e = s.find('\n', at);
    const std::string line = s.substr(at, e == std::string::npos ? std::string::npos : e - at + 1);
    if (line.find("TSC ticks") == std::string::npos) out += line;
    if (e == std::string::npos) break;
    at = e + 1;
  }
  return out;
}
std::string f(double v, int prec = 1) {
  char b[40];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "[N]\n  N          iterations of the hvbench round-trip guests (default 5000, at least 1000)\n"
      "SVM+NPT (AMD platform, SKINIT) vs VMX+EPT (Intel platform, SENTER), engine full-system, side by side:\n"
      "the demo guests' exits by reason, 2-D walk references, TLB hits and misses, host time per exit; the\n"
      "hvbench VMMCALL/VMCALL round trip and CPUID exit per vendor.",
      1);
  const uint64_t n = bench::positional_u64(args, 0, 5000, 1000, "N");
  bench::Report rep("bench_vendor", args);
  rep.meta("load_before", loadavg());
  rep.note("load average before: " + loadavg() + "; N = " + std::to_string(n) + "; median of " +
           std::to_string(args.reps) + "; times are wall time");
  const fs::path tmp = fs::temp_directory_path() / ("redoubt-bench-vendor-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  run(tmp, "amd", {"hello"});  // warm-up: the demo signing key, each platform's TPM state
  run(tmp, "intel", {"hello"});

  // ---- the demo guests, one run of all four per vendor and repetition ----
  const std::vector<std::string> demo = {"hello", "sha256", "mmu", "probe"};
  std::map<std::string, std::vector<double>> t_guest, t_outside, t_loop;  // key: vendor/guest
  Run last[2];
  for (int i = 0; i < args.reps; ++i)
    for (int v = 0; v < 2; ++v) {
      Run x = run(tmp, kVendors[v], demo);
      t_loop[kVendors[v]].push_back(x.loop_seconds);
      for (const auto& g : x.r.guests) {
        const std::string key = std::string(kVendors[v]) + "/" + g.name;
        t_guest[key].push_back(g.host_seconds);
        // Not in guest mode, per exit: this guest's share of the loop is not separable, so the
        // whole loop minus every guest's time in guest mode, over every exit.
        double in = 0;
        uint64_t exits = 0;
        for (const auto& h : x.r.guests) in += h.host_seconds, exits += h.exits_total;
        if (g.name == demo[0]) t_outside[kVendors[v]].push_back((x.loop_seconds - in) / double(exits) * 1e9);
      }
      last[v] = std::move(x);
    }
  for (size_t gi = 0; gi < demo.size(); ++gi) {
    const tools::GuestResult& a = last[0].r.guests[gi];
    const tools::GuestResult& b = last[1].r.guests[gi];
    rep.note("");
    rep.note("guest " + a.name + (without_tsc_line(a.serial) == without_tsc_line(b.serial) ? " (same serial output on both, TSC line aside)"
                                                                                : " (SERIAL OUTPUT DIFFERS)"));
    row(rep, "", kLabel[0], kLabel[1]);
    row(rep, "exits (all)", u(a.exits_total), u(b.exits_total));
    // SVM EXITCODE names (the hypervisor's record) beside the VMX basic reasons (the CPU model's).
    const std::map<uint32_t, uint64_t>& vr = last[1].vmx_reasons[b.vmcb_pa];
    for (const auto& [k, c] : a.exits) row(rep, "  SVM " + k, u(c), "");
    nlohmann::json vmx_exits = nlohmann::json::object();
    for (const auto& [r, c] : vr) {
      const std::string name = std::string(vmx::exit_reason_name(r)) + " (" + std::to_string(r) + ")";
      row(rep, "  VMX " + name, "", u(c));
      vmx_exits[name] = c;
    }
    row(rep, "guest instructions", u(a.instructions), u(b.instructions));
    row(rep, "page walks (TLB misses)", u(a.walks), u(b.walks));
    row(rep, "walk refs: guest tables", u(a.walk_refs - a.npt_walk_refs), u(b.walk_refs - b.npt_walk_refs));
    row(rep, "walk refs: nested (NPT / EPT)", u(a.npt_walk_refs), u(b.npt_walk_refs));
    auto per = [](const tools::GuestResult& g) { return g.walks ? f(double(g.walk_refs) / double(g.walks), 2) : "-"; };
    row(rep, "refs per walk", per(a), per(b));
    row(rep, "TLB hits / misses", u(a.tlb_hits) + " / " + u(a.tlb_misses), u(b.tlb_hits) + " / " + u(b.tlb_misses));
    auto rate = [](const tools::GuestResult& g) {
      const uint64_t t = g.tlb_hits + g.tlb_misses;
      return t ? f(100.0 * double(g.tlb_hits) / double(t), 2) + " %" : std::string("-");
    };
    row(rep, "TLB hit rate", rate(a), rate(b));
    row(rep, "exit digest (non-timer exits)", a.exit_digest.substr(0, 12), b.exit_digest.substr(0, 12));
    for (int v = 0; v < 2; ++v) {
      const tools::GuestResult& g = v ? b : a;
      nlohmann::json counts = {{"exits", v ? vmx_exits : nlohmann::json(g.exits)}, {"exits_total", g.exits_total},
                               {"instructions", g.instructions}, {"walks", g.walks},
                               {"walk_refs", g.walk_refs},  {"nested_walk_refs", g.npt_walk_refs},
                               {"tlb_hits", g.tlb_hits},    {"tlb_misses", g.tlb_misses}};
      const std::string key = std::string(kVendors[v]) + "/" + g.name;
      std::vector<double> ns_per_exit;
      for (double s : t_guest[key]) ns_per_exit.push_back(g.exits_total ? s / double(g.exits_total) * 1e9 : 0);
      rep.add(std::string(kLabel[v]) + " " + g.name + ": in guest mode per exit", "ns", ns_per_exit, counts);
    }
  }
  rep.note("");
  for (int v = 0; v < 2; ++v) {
    rep.add(std::string(kLabel[v]) + " demo: outside guest mode per exit", "ns", t_outside[kVendors[v]]);
    rep.add(std::string(kLabel[v]) + " demo: first entry to last exit", "s", t_loop[kVendors[v]]);
  }

  // ---- round trips (hvbench): N vs N/10 iterations ----
  const double dn = double(n - n / 10);
  std::map<std::string, double> med;
  for (uint64_t mode : {0ull, 2ull}) {
    const char* what = mode == 0 ? "hypercall round trip" : "CPUID exit";
    for (int v = 0; v < 2; ++v) {
      std::vector<double> loop, outside;
      double exits_per = 0, instr_per = 0;
      for (int i = 0; i < args.reps; ++i) {
        Run a = run(tmp, kVendors[v], {"hvbench"}, {mode, n / 10, 0, 0});
        Run b = run(tmp, kVendors[v], {"hvbench"}, {mode, n, 0, 0});
        const auto& ga = a.r.guests[0];
        const auto& gb = b.r.guests[0];
        loop.push_back((b.loop_seconds - a.loop_seconds) / dn * 1e9);
        outside.push_back(((b.loop_seconds - gb.host_seconds) - (a.loop_seconds - ga.host_seconds)) / dn * 1e9);
        exits_per = double(gb.exits_total - ga.exits_total) / dn;
        // Instructions the CPU retired per iteration, guest and hypervisor (exact, the same each rep).
        instr_per = double(b.icount - a.icount) / dn;
      }
      rep.add(std::string(kLabel[v]) + " " + what, "ns/iteration", loop,
              {{"exits_per_iteration", exits_per}, {"instructions_per_iteration", instr_per}, {"n", n}});
      rep.add(std::string(kLabel[v]) + " " + what + ": outside guest mode", "ns/iteration", outside);
      med[std::string(kVendors[v]) + what] = bench::summarize(loop).median;
    }
    rep.ratio(std::string(what) + ": VMX+EPT / SVM+NPT", med[std::string("intel") + what] / med[std::string("amd") + what],
              "median ns/iteration in this run");
  }
  rep.meta("load_after", loadavg());
  rep.note("load average after: " + loadavg());
  rep.finish();
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
