// Simulated CPU benchmark: guest MIPS (tight loop; gcc -O2 SHA-256 code),
// references per 2-D walk (4K vs 2M pages), TLB hit rate with and without
// ASID tagging. Deterministic counters, wall-clock MIPS.
#include "bench/bench_cli.hpp"
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/cpu_elf.hpp"
#include "tests/platform/sim/svm/guest_env.hpp"

extern "C" uint64_t cpu_work(uint64_t blocks);

using namespace redoubt;
using test::GuestEnv;
using Clock = std::chrono::steady_clock;

namespace {

double run_mips(GuestEnv& g, uint64_t& retired) {
  auto& a = g.svm.counters().per_asid[1];
  const uint64_t i0 = a.instructions;
  const auto t0 = Clock::now();
  g.run();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  retired = a.instructions - i0;
  return retired / s / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "\nThe simulated CPU: guest MIPS on a tight loop and on gcc -O2 SHA-256 code (beside the same code run\n"
      "natively), references per 2-D walk (4K vs 2M pages), TLB hit rate with and without ASID tagging.",
      0);
  bench::Report rep("bench_cpu", args);
  {  // Tight loop: add/xor/dec/jnz.
    std::vector<double> mips;
    uint64_t n = 0;
    for (int r = 0; r < args.reps; ++r) {
      GuestEnv g("loop");
      g.svm.set_run_limit(0);
      g.svm.gprs(GuestEnv::kVmcb).r[1] = 50'000'000;
      mips.push_back(run_mips(g, n));
    }
    rep.add("tight loop", "M guest instr/s", mips, {{"instructions", n}});
  }
  {  // gcc -O2 SHA-256 compression, simulated and native.
    std::vector<double> mips, sim_s, native_s;
    uint64_t n = 0;
    bool same = true;
    const uint64_t blocks = 20'000;
    for (int r = 0; r < args.reps; ++r) {
      GuestEnv g("callc");
      g.svm.set_run_limit(0);
      const uint64_t entry = bench::load_elf(g, RD_CPU_WORK_ELF);
      g.wr64(0x5100, entry);
      g.wr64(0x5108, blocks);
      const auto t0 = Clock::now();
      mips.push_back(run_mips(g, n));
      sim_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      const uint64_t want = cpu_work(blocks);
      const auto t1 = Clock::now();
      volatile uint64_t sink = cpu_work(blocks);
      (void)sink;
      native_s.push_back(std::chrono::duration<double>(Clock::now() - t1).count());
      same = same && g.vmcb().save.rax == want;
    }
    if (!same) {
      std::fprintf(stderr, "bench_cpu: the simulated SHA-256 differs from the native result\n");
      return 1;
    }
    rep.add("gcc -O2 SHA-256 (cpu_work.c), simulated", "M guest instr/s", mips, {{"instructions", n}});
    rep.add("gcc -O2 SHA-256 (cpu_work.c), native on the host", "ms", [&] {
      std::vector<double> v;
      for (double x : native_s) v.push_back(x * 1e3);
      return v;
    }());
    rep.ratio("cpu_work: simulated / native time", bench::summarize(sim_s).median / bench::summarize(native_s).median,
              "median times in this run; the result is the same");
  }
  for (unsigned shift : {12u, 21u}) {  // 2-D walk cost (deterministic: one run).
    GuestEnv g("tlb", {shift, shift});
    g.run();
    auto& c = g.svm.counters();
    rep.add(std::string("2-D walk, guest + nested ") + (shift == 12 ? "4K" : "2M") + " pages", "refs/walk",
            {double(c.walk_refs) / double(c.walks)}, {{"walks", c.walks}});
  }
  for (uint8_t ctl : {uint8_t(0), uint8_t(1)}) {  // ASID tagging (deterministic: one run).
    GuestEnv g("tlb");
    g.vmcb().control.tlb_control = ctl;
    for (int i = 0; i < 100; ++i) {
      g.run();
      g.resume_at_nrip();
    }
    auto& a = g.svm.counters().per_asid[1];
    rep.add("TLB hit rate, TLB_CONTROL=" + std::to_string(ctl) + ", 100 VMRUNs x 64 pages", "%",
            {100.0 * double(a.tlb_hits) / double(a.tlb_hits + a.tlb_misses)},
            {{"hits", a.tlb_hits}, {"misses", a.tlb_misses}});
  }
  rep.finish();
  return 0;
}
