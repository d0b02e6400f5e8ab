// PCR_Extend / PCR_Read latency and the 64 KiB DRTM hash sequence, inproc vs spawned swtpm.
// Usage: bench_tpm [--json] [--reps N]   (N: iterations, default 2000 for PCR ops, N/20 for DRTM)
#include "bench/bench_cli.hpp"
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


template <class F>
std::vector<double> measure(int n, F f) {
  std::vector<double> t;
  t.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  return t;
}

void bench_backend(bench::Report& rep, const char* spec, int iters) {
  auto tpm = open_tpm(TpmSpec::parse(spec));
  const BankList banks = tpm->active_banks();
  std::string bl;
  for (uint32_t i = 0; i < banks.count; ++i) bl += std::string(i ? "," : "") + hash_alg_name(banks.alg[i]);
  rep.note(std::string("# ") + spec + ": " + tpm->describe() + ", banks " + bl);
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
  rep.add(std::string(spec) + " " + "PCR_Extend(23, all banks)", "us", measure(iters, [&] { tpm->pcr_extend(23, d); }));
  rep.add(std::string(spec) + " " + "PCR_Extend(17, sha256) loc2", "us", measure(iters, [&] { tpm->pcr_extend(17, d256); }));
  rep.add(std::string(spec) + " " + "PCR_Read(17) all banks", "us", measure(iters, [&] { tpm->pcr_read({17}); }));
  tpm->set_locality(0);
  std::vector<uint8_t> slb(64 * 1024);
  for (size_t i = 0; i < slb.size(); ++i) slb[i] = static_cast<uint8_t>(i * 7);
  const int n = std::max(10, iters / 20);
  rep.add(std::string(spec) + " " + "DRTM hash 64 KiB", "us", measure(n, [&] { tpm->drtm_hash(slb.data(), slb.size()); }));
  rep.add(std::string(spec) + " " + "power_on (reset+Startup)", "us", measure(n, [&] { tpm->power_on(); }));
}

}  // namespace

int main(int argc, char** argv) {
  const bench::BenchArgs args = bench::parse_bench_args(
      argc, argv,
      "\nPCR_Extend / PCR_Read latency and the 64 KiB DRTM hash sequence, in-process libtpms vs a spawned swtpm;\n"
      "--reps is the number of PCR operations timed (default 2000; DRTM and power-on: reps/20, at least 10).",
      0, 2000);
  const int iters = std::max(20, args.reps);
  bench::Report rep("bench_tpm", args);
  try {
    bench_backend(rep, "inproc", iters);
    bench_backend(rep, "swtpm", iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tpm: %s\n", e.what());
    return 1;
  }
  rep.finish();
  return 0;
}
