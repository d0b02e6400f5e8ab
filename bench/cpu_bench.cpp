// Simulated CPU benchmark: guest MIPS (tight loop; gcc -O2 SHA-256 code, the same ELF also
// run natively and under QEMU TCG: bench/qemu_tcg.hpp),
// references per 2-D walk (4K vs 2M pages), TLB hit rate with and without
// ASID tagging. Deterministic counters, wall-clock MIPS.
#include "bench/bench_cli.hpp"
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/cpu_elf.hpp"
#include "bench/qemu_tcg.hpp"
#include "tests/platform/sim/svm/guest_env.hpp"

extern "C" uint64_t cpu_work(uint64_t blocks);

using namespace redoubt;
using test::GuestEnv;
using Clock = std::chrono::steady_clock;

namespace {

// Guest instructions per wall second of the run alone (the machine's set-up excluded); the CPU
// seconds of the run alone in *cpu_s.
double run_mips(GuestEnv& g, uint64_t& retired, double* cpu_s = nullptr) {
  auto& a = g.svm.counters().per_asid[1];
  const uint64_t i0 = a.instructions;
  const double c0 = bench::process_cpu_seconds();
  const auto t0 = Clock::now();
  g.run();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (cpu_s) *cpu_s = bench::process_cpu_seconds() - c0;
  retired = a.instructions - i0;
  return retired / s / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "[QEMU_BLOCKS]\nThe simulated CPU: guest MIPS on a tight loop and on gcc -O2 SHA-256 code (cpu_work.elf), beside the\n"
      "same ELF run natively and under qemu-system-x86_64 -accel tcg (when installed; QEMU_BLOCKS blocks and a\n"
      "tenth of that, default 400000), references per 2-D walk (4K vs 2M pages), TLB hit rate with and without\n"
      "ASID tagging.",
      1);
  const uint64_t qemu_blocks = bench::positional_u64(args, 0, 400'000, 10, "QEMU_BLOCKS");
  bench::Report rep("bench_cpu", args);
  {  // Tight loop: add/xor/dec/jnz.
    std::vector<double> mips, interp_mips;
    uint64_t n = 0;
    for (int r = 0; r < args.reps; ++r) {
      for (const bool translate : {true, false}) {  // interleaved: the two columns share the machine's noise
        GuestEnv g("loop");
        g.svm.set_run_limit(0);
        if (!translate) g.svm.cpu().jit_threshold = 0;
        g.svm.gprs(GuestEnv::kVmcb).r[1] = 50'000'000;
        (translate ? mips : interp_mips).push_back(run_mips(g, n));
      }
    }
    rep.add("tight loop", "M guest instr/s", mips, {{"instructions", n}});
    rep.add("tight loop, interpreter only (translator off)", "M guest instr/s", interp_mips);
    rep.ratio("tight loop: translator / interpreter (instr/s)",
              bench::summarize(mips).median / bench::summarize(interp_mips).median, "medians in this run");
  }
  {  // gcc -O2 SHA-256 compression (cpu_work.elf): simulated, native on the same ELF, QEMU TCG on the same ELF.
    const bench::StaticElf elf = bench::parse_static_elf(bench::read_file(RD_CPU_WORK_ELF));
    const bench::NativeElf native(elf);
    std::vector<double> mips, sim_s, native_s, native_mips, host_s, sim_cpu_mips, native_cpu_mips;
    uint64_t n = 0, n_half = 0;
    bool same = true;
    const uint64_t blocks = 20'000;
    std::vector<double> interp_mips, interp_cpu_mips;
    double run_cpu_s = 0;  // CPU seconds of the last simulate()'s run alone
    auto simulate = [&](uint64_t b, uint64_t& retired, uint64_t& result, bool translate = true) {
      GuestEnv g("callc");
      g.svm.set_run_limit(0);
      if (!translate) g.svm.cpu().jit_threshold = 0;
      const uint64_t entry = bench::load_elf(g, RD_CPU_WORK_ELF);
      g.wr64(0x5100, entry);
      g.wr64(0x5108, b);
      const double m = run_mips(g, retired, &run_cpu_s);
      result = g.vmcb().save.rax;
      return m;
    };
    for (int r = 0; r < args.reps; ++r) {
      uint64_t result = 0;
      const auto t0 = Clock::now();
      mips.push_back(simulate(blocks, n, result));
      sim_cpu_mips.push_back(double(n) / run_cpu_s / 1e6);
      sim_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      {  // the same run with the translator off
        uint64_t interp_result = 0, interp_n = 0;
        interp_mips.push_back(simulate(blocks, interp_n, interp_result, false));
        interp_cpu_mips.push_back(double(interp_n) / run_cpu_s / 1e6);
        same = same && interp_result == result && interp_n == n;
      }
      const auto t1 = Clock::now();
      const double c1 = bench::process_cpu_seconds();
      const uint64_t want = native(blocks);  // the same ELF, mapped at 0x180000 in this process
      native_cpu_mips.push_back(double(n) / (bench::process_cpu_seconds() - c1) / 1e6);
      native_s.push_back(std::chrono::duration<double>(Clock::now() - t1).count());
      native_mips.push_back(double(n) / native_s.back() / 1e6);
      const auto t2 = Clock::now();
      volatile uint64_t host = cpu_work(blocks);  // cpu_work.c compiled into bench_cpu
      host_s.push_back(std::chrono::duration<double>(Clock::now() - t2).count());
      same = same && result == want && host == want;
    }
    if (!same) {
      std::fprintf(stderr, "bench_cpu: the simulated SHA-256 (translated or interpreted) differs from the native result\n");
      return 1;
    }
    uint64_t half_result = 0;
    simulate(blocks / 2, n_half, half_result);
    const double per_block = double(n - n_half) / double(blocks - blocks / 2);  // guest instructions per block
    rep.add("cpu_work.elf (gcc -O2 SHA-256), simulator", "M guest instr/s", mips, {{"instructions", n}});
    rep.add("cpu_work.elf, native (the same ELF mapped into this process)", "M instr/s", native_mips,
            {{"instructions", n}});
    rep.add("cpu_work.elf, simulator, per CPU second of the run", "M guest instr/s", sim_cpu_mips);
    rep.add("cpu_work.elf, simulator, interpreter only (translator off)", "M guest instr/s", interp_mips);
    rep.add("cpu_work.elf, interpreter only, per CPU second of the run", "M guest instr/s", interp_cpu_mips);
    rep.ratio("cpu_work: translator / interpreter (per CPU second)",
              bench::summarize(sim_cpu_mips).median / bench::summarize(interp_cpu_mips).median, "medians in this run, same ELF");
    rep.add("cpu_work.elf, native, per CPU second", "M instr/s", native_cpu_mips);
    rep.add("cpu_work.c compiled into bench_cpu, native", "ms", [&] {
      std::vector<double> v;
      for (double x : host_s) v.push_back(x * 1e3);
      return v;
    }());
    rep.ratio("cpu_work: simulated / native time (same ELF)",
              bench::summarize(sim_s).median / bench::summarize(native_s).median, "median times in this run; the result is the same");
    rep.ratio("cpu_work: native / simulator (instr/s)", bench::summarize(native_mips).median / bench::summarize(mips).median,
              "medians in this run, same ELF");
    rep.ratio("cpu_work: native / simulator (per CPU second)",
              bench::summarize(native_cpu_mips).median / bench::summarize(sim_cpu_mips).median, "medians in this run, same ELF");
    // QEMU TCG: two runs per repetition (large and large/10 blocks); the difference takes out QEMU's start-up.
    if (!bench::qemu_available()) {
      rep.note("QEMU TCG: qemu-system-x86_64 is not installed (scripts/setup.sh installs it): column skipped");
    } else {
      const uint64_t large = qemu_blocks, small = qemu_blocks / 10;
      const std::vector<uint8_t> stub = bench::read_file(RD_QEMU_TCG_BOOT_BIN);
      const std::string dir = "/tmp/redoubt-bench-cpu-" + std::to_string(getpid());
      std::string cmd = "mkdir -p " + dir;
      if (std::system(cmd.c_str()) != 0) return 1;
      auto image = [&](uint64_t b) {
        const std::string path = dir + "/cpu_work-" + std::to_string(b) + ".mb";
        const std::vector<uint8_t> img = bench::multiboot_image(stub, elf, b);
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), long(img.size()));
        return path;
      };
      const std::string img_s = image(small), img_l = image(large);
      char want_s[32], want_l[32];
      std::snprintf(want_s, sizeof want_s, "%016llx\n", (unsigned long long)native(small));
      std::snprintf(want_l, sizeof want_l, "%016llx\n", (unsigned long long)native(large));
      std::vector<double> qemu_mips, qemu_cpu_mips, qemu_small_s;
      for (int r = 0; r < args.reps; ++r) {
        const bench::QemuRun a = bench::run_qemu_tcg(img_s), b = bench::run_qemu_tcg(img_l);
        if (a.serial != want_s || b.serial != want_l) {
          std::fprintf(stderr, "bench_cpu: QEMU TCG printed '%s' / '%s', want %s / %s\n", a.serial.c_str(),
                       b.serial.c_str(), want_s, want_l);
          return 1;
        }
        qemu_small_s.push_back(a.seconds);
        qemu_mips.push_back(per_block * double(large - small) / (b.seconds - a.seconds) / 1e6);
        qemu_cpu_mips.push_back(per_block * double(large - small) / (b.cpu_seconds - a.cpu_seconds) / 1e6);
      }
      cmd = "rm -rf " + dir;
      (void)!std::system(cmd.c_str());
      rep.add("cpu_work.elf, QEMU TCG (qemu-system-x86_64 -accel tcg, Multiboot)", "M guest instr/s", qemu_mips,
              {{"blocks", {small, large}}, {"instructions_per_block", per_block}});
      rep.add("cpu_work.elf, QEMU TCG, per CPU second (all QEMU threads)", "M guest instr/s", qemu_cpu_mips);
      rep.add("QEMU TCG whole run with " + std::to_string(small) + " blocks (start-up included)", "s", qemu_small_s);
      rep.ratio("cpu_work: QEMU TCG / simulator (instr/s)", bench::summarize(qemu_mips).median / bench::summarize(mips).median,
                "medians in this run, same ELF");
      rep.ratio("cpu_work: QEMU TCG / simulator (per CPU second)",
                bench::summarize(qemu_cpu_mips).median / bench::summarize(sim_cpu_mips).median, "medians in this run, same ELF");
    }
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
    // The rate's denominator is lookups, and a VMRUN that keeps the jump cache makes none for
    // code it already found: the misses (page walks) are what ASID tagging saves.
    rep.add("TLB misses, TLB_CONTROL=" + std::to_string(ctl) + ", 100 VMRUNs x 64 pages", "misses",
            {double(a.tlb_misses)});
  }
  rep.finish();
  return 0;
}
