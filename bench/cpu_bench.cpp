// Simulated CPU benchmark: guest MIPS (tight loop; gcc -O2 SHA-256 code),
// references per 2-D walk (4K vs 2M pages), TLB hit rate with and without
// ASID tagging. Deterministic counters, wall-clock MIPS.
#include "bench/machine_info.hpp"
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

int main() {
  std::printf("machine: %s, %ld CPUs online\n", redoubt::bench::cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN));

  {  // Tight loop: add/xor/dec/jnz.
    GuestEnv g("loop");
    g.svm.set_run_limit(0);
    g.svm.gprs(GuestEnv::kVmcb).r[1] = 50'000'000;
    uint64_t n;
    const double mips = run_mips(g, n);
    std::printf("tight loop:          %8.1f M guest instructions/s (%llu instructions, exit 0x%llx)\n", mips,
                (unsigned long long)n, (unsigned long long)g.exitcode());
  }
  {  // gcc -O2 SHA-256 compression.
    GuestEnv g("callc");
    g.svm.set_run_limit(0);
    const uint64_t entry = bench::load_elf(g, RD_CPU_WORK_ELF);
    const uint64_t blocks = 20'000;
    g.wr64(0x5100, entry);
    g.wr64(0x5108, blocks);
    uint64_t n;
    const double mips = run_mips(g, n);
    const uint64_t want = cpu_work(blocks);
    const auto t0 = Clock::now();
    volatile uint64_t sink = cpu_work(blocks);
    (void)sink;
    const double native = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("gcc -O2 SHA-256:     %8.1f M guest instructions/s (%llu instructions, result %s native, "
                "native run %.2f ms)\n",
                mips, (unsigned long long)n, g.vmcb().save.rax == want ? "==" : "!=", native * 1e3);
    std::printf("decoded blocks: %llu\n", (unsigned long long)g.svm.counters().blocks_decoded);
  }
  for (unsigned shift : {12u, 21u}) {  // 2-D walk cost.
    GuestEnv g("tlb", {shift, shift});
    g.run();
    auto& c = g.svm.counters();
    std::printf("2-D walk, guest %s + nested %s pages: %.1f references per walk (%llu walks)\n",
                shift == 12 ? "4K" : "2M", shift == 12 ? "4K" : "2M", double(c.walk_refs) / c.walks,
                (unsigned long long)c.walks);
  }
  for (uint8_t ctl : {uint8_t(0), uint8_t(1)}) {  // ASID tagging.
    GuestEnv g("tlb");
    g.vmcb().control.tlb_control = ctl;
    for (int i = 0; i < 100; ++i) {
      g.run();
      g.resume_at_nrip();
    }
    auto& a = g.svm.counters().per_asid[1];
    std::printf("TLB_CONTROL=%u over 100 VMRUNs touching 64 pages: hit rate %.1f%% (%llu hits, %llu misses)\n",
                unsigned(ctl), 100.0 * a.tlb_hits / (a.tlb_hits + a.tlb_misses), (unsigned long long)a.tlb_hits,
                (unsigned long long)a.tlb_misses);
  }
  return 0;
}
