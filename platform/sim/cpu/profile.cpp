// REDOUBT_SIM_PROFILE=FILE: where the host's CPU time goes, by simulated RIP (docs/research.md,
// "Where interpreted SL and hypervisor instructions go"). A POSIX timer (timer_create on
// CLOCK_MONOTONIC, every 100 µs; CPU-time timers tick only at the kernel's HZ, 4 ms here; a
// signal due while the process waits for a core lands when it runs again, at a RIP unrelated
// to the wait, so the shares stay unbiased and the script scales them to the CPU time) samples the running CPU's (ASID, RIP); nothing is added per instruction, only a
// pointer store per Cpu::run call. At exit FILE gets one "asid rip samples" line per RIP
// (asid 0: host mode, i.e. the SL and the hypervisor; "- - n": samples outside any Cpu::run).
// REDOUBT_SIM_ICOUNT_PROFILE=FILE: retired instructions per block start (asid rip count), one
// predictable branch per block when unset; the two are separate runs (counting slows the run).
// scripts/sim_profile.py maps the RIPs to the images' ELF symbols.
#include "platform/sim/cpu/profile.hpp"

#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

namespace redoubt::sim::cpu::profile {
namespace {

struct Slot {
  uint64_t rip;
  uint64_t asid_plus1;  // 0: empty
  uint64_t n;
};
constexpr size_t kSlots = size_t(1) << 17;
Slot* g_table = nullptr;
const char* g_path = nullptr;
volatile uint64_t g_outside = 0, g_dropped = 0;

void on_sigprof(int) {
  const Cpu* c = g_running;
  if (!c) {
    g_outside = g_outside + 1;
    return;
  }
  const uint64_t rip = c->cur_rip, tag = uint64_t(c->guest ? c->asid : 0) + 1;
  size_t h = size_t((rip * 0x9E3779B97F4A7C15ull + tag) >> 47) & (kSlots - 1);
  for (size_t probe = 0; probe < 64; ++probe, h = (h + 1) & (kSlots - 1)) {
    Slot& s = g_table[h];
    if (s.asid_plus1 == 0) {
      s.rip = rip;
      s.asid_plus1 = tag;
    }
    if (s.rip == rip && s.asid_plus1 == tag) {
      ++s.n;
      return;
    }
  }
  g_dropped = g_dropped + 1;
}

timer_t g_timer;

void dump() {
  timer_delete(g_timer);
  struct timespec cpu {};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  FILE* f = std::fopen(g_path, "w");
  if (!f) return;
  std::fprintf(f, "# redoubt sim profile: asid rip samples (one per 100 us while running)\n");
  std::fprintf(f, "# cpu_ms %.1f\n", cpu.tv_sec * 1e3 + cpu.tv_nsec / 1e6);
  for (size_t i = 0; i < kSlots; ++i)
    if (g_table[i].asid_plus1)
      std::fprintf(f, "%llu %#llx %llu\n", (unsigned long long)(g_table[i].asid_plus1 - 1),
                   (unsigned long long)g_table[i].rip, (unsigned long long)g_table[i].n);
  std::fprintf(f, "- - %llu\n", (unsigned long long)g_outside);
  std::fprintf(f, "# dropped %llu\n", (unsigned long long)g_dropped);
  std::fclose(f);
}

bool start() {
  const char* p = std::getenv("REDOUBT_SIM_PROFILE");
  if (!p || !*p) return false;
  g_path = p;
  g_table = static_cast<Slot*>(std::calloc(kSlots, sizeof(Slot)));
  if (!g_table) return false;
  struct sigaction sa {};
  sa.sa_handler = on_sigprof;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, nullptr);
  struct sigevent ev {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGPROF;
  if (timer_create(CLOCK_MONOTONIC, &ev, &g_timer) != 0) return false;
  struct itimerspec t {};
  t.it_interval.tv_nsec = 100000;
  t.it_value.tv_nsec = 100000;
  timer_settime(g_timer, 0, &t, nullptr);
  std::atexit(dump);
  return true;
}

std::map<std::pair<uint64_t, uint64_t>, uint64_t>* g_counts = nullptr;
const char* g_count_path = nullptr;

void dump_counts() {
  FILE* f = std::fopen(g_count_path, "w");
  if (!f) return;
  for (const auto& [k, n] : *g_counts)
    std::fprintf(f, "%llu %#llx %llu\n", (unsigned long long)k.first, (unsigned long long)k.second,
                 (unsigned long long)n);
  std::fclose(f);
}

bool start_counting() {
  const char* p = std::getenv("REDOUBT_SIM_ICOUNT_PROFILE");
  if (!p || !*p) return false;
  g_count_path = p;
  g_counts = new std::map<std::pair<uint64_t, uint64_t>, uint64_t>();
  std::atexit(dump_counts);
  return true;
}

}  // namespace

const Cpu* volatile g_running = nullptr;
const bool g_enabled = start();
const bool g_counting = start_counting();

void count_block(const Cpu& c, uint64_t rip, uint64_t n) {
  (*g_counts)[{uint64_t(c.guest ? c.asid : 0), rip}] += n;
}

}  // namespace redoubt::sim::cpu::profile
