// PCR_Extend / PCR_Read latency and the 64 KiB DRTM hash sequence, inproc vs spawned swtpm.
// Usage: bench_tpm [iterations]   (default 2000 for PCR ops, iterations/20 for DRTM)
#include "bench/machine_info.hpp"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tpm/tpm_device.hpp"

using namespace redoubt;
using namespace redoubt::tpm;
using Clock = std::chrono::steady_clock;

namespace {


struct Stats {
  double median_us, p90_us, mean_us;
};

template <class F>
Stats measure(int n, F f) {
  std::vector<double> t;
  t.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  double sum = 0;
  for (double x : t) sum += x;
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t[t.size() * 9 / 10], sum / t.size()};
}

void row(const char* backend, const char* op, int n, Stats s) {
  std::printf("%-8s %-28s n=%-6d median %9.2f us   p90 %9.2f us   mean %9.2f us\n", backend, op, n, s.median_us,
              s.p90_us, s.mean_us);
}

void bench_backend(const char* spec, int iters) {
  auto tpm = open_tpm(TpmSpec::parse(spec));
  const BankList banks = tpm->active_banks();
  std::string bl;
  for (uint32_t i = 0; i < banks.count; ++i) bl += std::string(i ? "," : "") + hash_alg_name(banks.alg[i]);
  std::printf("# %s: %s, banks %s\n", spec, tpm->describe().c_str(), bl.c_str());
  DigestList d;
  d.count = banks.count;
  for (uint32_t i = 0; i < banks.count; ++i) {
    d.d[i].alg = banks.alg[i];
    d.d[i].bytes[0] = 0x42;
  }
  DigestList d256;
  d256.count = 1;
  d256.d[0].alg = HashAlg::sha256;
  tpm->set_locality(2);
  row(spec, "PCR_Extend(23, all banks)", iters, measure(iters, [&] { tpm->pcr_extend(23, d); }));
  row(spec, "PCR_Extend(17, sha256) loc2", iters, measure(iters, [&] { tpm->pcr_extend(17, d256); }));
  row(spec, "PCR_Read(17) all banks", iters, measure(iters, [&] { tpm->pcr_read({17}); }));
  tpm->set_locality(0);
  std::vector<uint8_t> slb(64 * 1024);
  for (size_t i = 0; i < slb.size(); ++i) slb[i] = static_cast<uint8_t>(i * 7);
  const int n = std::max(10, iters / 20);
  row(spec, "DRTM hash 64 KiB", n, measure(n, [&] { tpm->drtm_hash(slb.data(), slb.size()); }));
  row(spec, "power_on (reset+Startup)", n, measure(n, [&] { tpm->power_on(); }));
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::max(20, std::atoi(argv[1])) : 2000;
  std::printf("# machine: %s, nproc %u\n", redoubt::bench::cpu_model().c_str(), std::thread::hardware_concurrency());
  try {
    bench_backend("inproc", iters);
    bench_backend("swtpm", iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tpm: %s\n", e.what());
    return 1;
  }
  return 0;
}
