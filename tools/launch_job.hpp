// A measured launch as a reusable job: resolve the inputs (with the demo
// defaults), run SKINIT -> SL -> hypervisor on a TPM the caller owns, and write
// the artefacts. `redoubt launch` and the simulated endpoint both use it, so the
// endpoint can quote from the very TPM it launched on.
#pragma once
#include "platform/sim/full_system.hpp"
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "platform/sim/cpu/counters.hpp"
#include "platform/sim/loader.hpp"
#include "tpm/tpm_device.hpp"
#include "tools/pcr_table.hpp"

namespace redoubt::tools {

class WorldSwitchObserver;

// What the simulated CPU counted during a launch, whichever engine ran it.
struct EngineView {
  struct PerVmcb {
    double seconds = 0;
    uint64_t walks = 0, walk_refs = 0, nested_refs = 0;
  };
  const sim::cpu::Counters* counters = nullptr;  // null when no CPU model ran (native launch without guests)
  std::map<uint64_t, PerVmcb> per_vmcb;           // by VMCB address
};

struct LaunchOptions {
  std::string platform = "amd";  // "amd": the simulated AMD platform; "qemu": QEMU TCG + swtpm (docs/qemu.md);
                                 // "intel": GETSEC[SENTER] with a SINIT ACM on the simulator (docs/intel.md)
  std::string acm, chipset_key;  // --platform intel: a SINIT ACM and the chipset key whose hash is fused (empty: demo)
  uint16_t sinit_svn_floor = 1;  // --platform intel: the chipset's SINIT revocation floor
  std::vector<std::string> qemu_args;  // --platform qemu: more QEMU arguments (tests: -device edu)
  std::string qemu_stub_args;          // --platform qemu: more of the boot stub's command line (tests: attack=0x...)
  // "full-system": the simulated CPU executes sl.bin and hv.bin (what is measured runs).
  // "native": the native build of the same sources (platform/fake), for unit tests and
  // comparisons; it refuses unless sl.bin/hv.bin are the ones built from the sources it runs.
  // "native-sl": the native SL (checked against sl.bin and sl2.bin), then the measured hv.bin
  // executed by the simulated CPU (a comparison point for benchmarks).
  std::string engine = "full-system";
  bool engine_checked = false;  // --engine native given explicitly: also check hv.bin (tests pass tampered ones)
  std::string tpm = "inproc";
  bool new_tpm = false;           // --new-tpm: accept a new TPM where one's state was lost (docs/tpm-state.md)
  nlohmann::json tpm_state;       // what open_tpm_session found (TpmStateCheck::to_json), copied into launch.json
  std::string state;              // empty: default state dir
  std::string out = "out/launch";
  std::string sl, hypervisor, manifest, hv_key;  // empty: built-in defaults
  std::string sl_stage2;          // sl2.bin (the SL's stage 2, pinned by sl.bin); empty: the build's
  std::string slb_base = "0x01000000";
  // Launch policy (issue 4): a file, or bytes (policy_bytes, e.g. the demo policy
  // `redoubt run` signs); `owner` is the public key sealed into the SLB's owner slot.
  std::string policy, owner;
  std::vector<uint8_t> policy_bytes;
  bool sim_svm_off = false;
  // Tests only (redoubt run --test-sim-intel, hidden): on --engine native-sl the CPU that executes
  // hv.bin is an Intel part (VMX + EPT, no SVM), so hv.bin runs its guests with its VMX backend.
  // Not an Intel launch: the native SL before it is the AMD-style one (no SENTER yet).
  bool sim_intel_cpu = false;
  // Tests only: abi::kBareFlag* test switches for the hypervisor: native and native-sl write them into
  // the boot area; full-system and QEMU build them into a copy of hv.bin (make_hv_test_image).
  uint64_t hv_test_flags = 0;
  // full-system and native-sl: the run is a hang after this many retired instructions
  // (0: the simulator's default, sim::FullSystemOptions). `redoubt attack` bounds each scenario.
  uint64_t max_instructions = 0;
  bool sim_aps_running = false;
  bool json_out = false;
  // Optional (redoubt run): attach the CPU model and guests to the machine before
  // the launch, and look at the machine afterwards (before it is destroyed).
  std::function<void(sim::Machine&, sim::LaunchInputs&)> before_launch;
  std::function<void(sim::Machine&, const sim::LaunchReport&, const EngineView&)> after_launch;
  // Called around every VMRUN: after=false just before the guest runs, after=true right after
  // its #VMEXIT stored it back (before the host runs again).
  std::function<void(sim::Machine&, uint64_t vmcb_pa, bool after)> on_vmrun;
  // Engines full-system and native-sl: the machine hv.bin runs on, before the launch (tests:
  // the untrusted side's DMA engines and the IOMMU's register hook, docs/dma.md).
  std::function<void(sim::FullSystem&)> on_system;
  // Engine native-sl (tests: the Bochs check, docs/intel.md "Bochs"): the machine and the SL's
  // hand-off at the moment the SL enters hv.bin, before hv.bin runs (RAM as the SL left it).
  std::function<void(sim::Machine&, const hal::HypervisorHandoff&)> on_hv_entry;
  // Watches every world switch from outside (`redoubt run --trace`, the progress line;
  // tools/research/); the simulator's engines only, not QEMU.
  WorldSwitchObserver* observer = nullptr;
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

// A test image (abi::HvTestImage, docs/qemu.md "Test images"): `hv` with `flags` written into
// its test-switch block, which must occur exactly once and hold 0. Throws std::invalid_argument.
std::vector<uint8_t> make_hv_test_image(std::vector<uint8_t> hv, uint64_t flags);

}  // namespace redoubt::tools
