// Time from SKINIT to hypervisor entry for a 64 KiB SLB and a 4 MiB hypervisor,
// on the in-process TPM and on a spawned swtpm. Prints median / min / max.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "bench/machine_info.hpp"
#include "platform/fake/launch.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "abi/slb_layout.hpp"
#include "tools/common.hpp"
#include "tools/slb_image.hpp"

using namespace redoubt;
namespace fs = std::filesystem;

namespace {

struct Inputs {
  sim::LaunchInputs in;
};

Inputs make_inputs(const fs::path& build) {
  policy::EvpKey key = policy::generate_key("P-256");
  Inputs r;
  // SLB: sl.bin padded so the measured length is the maximum (0xFFF8 = 64 KiB - 8).
  std::vector<uint8_t> sl = tools::read_file(build / "sl.bin", tools::input::kSlImage);
  tools::seal_slb(sl, policy::cose_public_key(key));
  sl.resize(sl::kMaxMeasuredLength, 0);
  uint16_t len = static_cast<uint16_t>(sl::kMaxMeasuredLength);
  std::memcpy(sl.data() + 2, &len, 2);
  r.in.sl_image = sl;
  // Hypervisor: hv.bin padded to 4 MiB (the digest covers every byte).
  std::vector<uint8_t> hv = tools::read_file(build / "hv.bin", tools::input::kHvImage);
  hv.resize(4u << 20, 0);
  r.in.hv_image = hv;
  policy::HvManifestInput mi;
  mi.version = "bench";
  mi.svn = 1;
  r.in.manifest = policy::sign_hv_manifest(hv, mi, key);
  return r;
}

void run(const char* label, const std::string& spec_text, const Inputs& inputs, int iterations) {
  tpm::TpmSpec spec = tpm::TpmSpec::parse(spec_text);
  auto tpm = tpm::open_tpm(spec);
  tpm->set_locality(0);
  if (!tpm->nv_read_counter(policy::kNvHvSvnCounter)) tpm->nv_define_counter(policy::kNvHvSvnCounter);
  std::vector<double> us;
  for (int i = 0; i < iterations; ++i) {
    sim::Machine m;
    sim::LaunchReport r = sim::measured_launch(m, *tpm, inputs.in, [](std::string_view) {});
    if (!r.launched) {
      std::printf("%s: launch refused: %s\n", label, r.reason.c_str());
      return;
    }
    us.push_back(r.skinit_to_hv_us);
  }
  std::sort(us.begin(), us.end());
  std::printf("%-8s SKINIT -> hypervisor entry (SLB %zu B measured, hypervisor %zu B): median %.2f ms, min %.2f ms, max %.2f ms (n=%d)\n",
              label, inputs.in.sl_image.size(), inputs.in.hv_image.size(), us[us.size() / 2] / 1000, us.front() / 1000,
              us.back() / 1000, iterations);
}

}  // namespace

int main(int argc, char** argv) {
  setenv("TSS2_LOG", "all+NONE", 0);
  int n = argc > 1 ? std::atoi(argv[1]) : 20;
  if (n < 1 || n > 100000) {  // atoi("[N]") was 0: an empty sample, then a crash
    std::fprintf(stderr, "usage: bench_launch [N]   (N: launches per backend, 1..100000; default 20)\n");
    return 2;
  }
  fs::path build = tools::build_dir();
  bench::print_machine();
  Inputs inputs = make_inputs(build);
  run("inproc", "inproc", inputs, n);
  run("swtpm", "swtpm", inputs, n);
  return 0;
}
