// A measured launch as a reusable job: resolve the inputs (with the demo
// defaults), run SKINIT -> SL -> hypervisor on a TPM the caller owns, and write
// the artefacts. `redoubt launch` and the simulated endpoint both use it, so the
// endpoint can quote from the very TPM it launched on.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "platform/fake/launch.hpp"
#include "tpm/tpm_device.hpp"
#include "tools/pcr_table.hpp"

namespace redoubt::tools {

struct LaunchOptions {
  std::string platform = "amd";
  std::string tpm = "inproc";
  std::string state;              // empty: default state dir
  std::string out = "out/launch";
  std::string sl, hypervisor, manifest, hv_key;  // empty: built-in defaults
  std::string slb_base = "0x01000000";
  // Launch policy (issue 4): a file, or bytes (policy_bytes, e.g. the demo policy
  // `redoubt run` signs); `owner` is the public key sealed into the SLB's owner slot.
  std::string policy, owner;
  std::vector<uint8_t> policy_bytes;
  bool sim_svm_off = false;
  bool sim_aps_running = false;
  bool json_out = false;
  // Optional (redoubt run): attach the CPU model and guests to the machine before
  // the launch, and look at the machine afterwards (before it is destroyed).
  std::function<void(sim::Machine&, sim::LaunchInputs&)> before_launch;
  std::function<void(sim::Machine&, const sim::LaunchReport&)> after_launch;
};

struct LaunchJobResult {
  sim::LaunchReport report;
  PcrValues pcrs;               // PCR16-23, every bank, read back after the launch
  nlohmann::json launch_json;   // what launch.json holds
  std::filesystem::path out_dir;
};

using Say = std::function<void(const std::string&)>;

// Throws InputError / std::invalid_argument / TpmError on environment or usage problems;
// a refused launch is a normal result (report.launched == false).
LaunchJobResult run_launch_job(const LaunchOptions& o, tpm::TpmDevice& tpm, const Say& say);

}  // namespace redoubt::tools
