// `redoubt launch`: a measured launch (SKINIT -> SL -> signed hypervisor) on the
// simulated AMD platform with a real TPM, and the artefacts a verifier needs.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "platform/fake/launch.hpp"
#include "platform/sim/machine.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "attestation/agent/tpm_identity.hpp"
#include "tools/commands.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/common.hpp"
#include "tools/demo_keys.hpp"
#include "tools/launch_job.hpp"
#include "tools/pcr_table.hpp"
#include "tools/slb_image.hpp"
#include "tools/tpm_session.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int run_launch(const LaunchOptions& o) {
  std::ostream& human = o.json_out ? std::cerr : std::cout;
  auto say = [&](const std::string& line) { human << line << "\n" << std::flush; };
  if (o.platform != "amd" && o.platform != "intel")
    throw std::invalid_argument("--platform " + o.platform +
                                ": `launch` runs on the simulated AMD or Intel platform; under QEMU use `redoubt run --platform qemu` "
                                "(docs/qemu.md)");
  TpmStateCheck tpm_state;
  auto tpm = open_tpm_session(tpm_spec_for(o.platform, o.tpm), state_dir(o.state), o.new_tpm, &tpm_state, say);
  say("[tpm] " + tpm->describe());
  LaunchOptions lo = o;
  lo.tpm_state = tpm_state.to_json();
  LaunchJobResult j = run_launch_job(lo, *tpm, say);
  attest::orderly_shutdown(*tpm);  // the machine powers off in order: clockInfo.safe stays 1 at the next boot
  const sim::LaunchReport& r = j.report;
  if (o.json_out) {
    std::cout << j.launch_json.dump(2) << "\n";
  } else {
    human << "\n" << format_pcr_table(j.pcrs) << "\n";
    if (r.launched)
      human << "LAUNCHED: the signed hypervisor was measured and entered.\n";
    else
      human << "REFUSED at " << r.stage << ": " << r.reason << "\n";
    human << "Wrote " << j.out_dir.string() << "/{launch.json,pcrs.json,eventlog.bin" << (r.slb_region.empty() ? "" : ",slb.bin")
          << (j.launch_json["outputs"].contains("sinit_eventlog") ? ",sinit-eventlog.bin" : "") << "}\n";
  }
  return r.launched ? kExitOk : kExitRefused;
}

}  // namespace
void register_launch(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<LaunchOptions>();
  CLI::App* c = app.add_subcommand("launch", "Measured launch: SKINIT -> secure loader -> signed hypervisor");
  c->add_option("--platform", o->platform, "amd: the simulated AMD platform (SKINIT); intel: the simulated TXT launch "
                "(GETSEC[SENTER], docs/intel.md); under QEMU use `run --platform qemu`")
      ->check(CLI::IsMember({"amd", "intel", "qemu"}))
      ->capture_default_str();
  CLI::Option* engine_opt = c->add_option("--engine", o->engine,
      "full-system: the simulated CPU executes sl.bin and hv.bin (what is measured runs); native: the same sources "
      "compiled into redoubt (refused unless the images are the ones built from them); native-sl: the native SL, then "
      "the measured hv.bin executed by the simulated CPU")->capture_default_str();
  engine_opt->check(CLI::IsMember({"full-system", "native-sl", "native"}));
  c->parse_complete_callback([o, engine_opt] { if (engine_opt->count()) o->engine_checked = true; });
  c->add_option("--tpm", o->tpm, "inproc | swtpm | swtpm:host=H,port=P[,ctrl=C] | device:/dev/tpmrm0")->capture_default_str();
  c->add_option("--state", o->state, "State directory (TPM NV, demo keys); default ~/.local/state/redoubt");
  c->add_flag("--new-tpm", o->new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
  c->add_option("--out", o->out, "Output directory")->capture_default_str();
  c->add_option("--sl", o->sl, "Secure loader image (default: build/sl.bin sealed with the demo key)");
  c->add_option("--sl-stage2", o->sl_stage2, "The SL's stage 2, pinned by the SLB (default: build/sl2.bin)");
  c->add_option("--hypervisor", o->hypervisor, "Hypervisor image (default: build/hv.bin)");
  c->add_option("--manifest", o->manifest, "Signed hypervisor manifest (default: sign with the demo key)");
  c->add_option("--hv-key", o->hv_key, "Hypervisor-signing public key to seal into the SLB before SKINIT");
  c->add_option("--slb-base", o->slb_base, "Physical address of the SLB (64 KiB aligned)")
      ->capture_default_str()
      ->check([](const std::string& s) {  // strict, before anything runs
        try {
          parse_uint(s, "--slb-base");
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  c->add_option("--policy", o->policy, "Launch policy (COSE_Sign1, redoubt sign policy) for the SL to verify and measure");
  c->add_option("--owner", o->owner, "Platform owner's public key PEM to seal into the SLB (verifies --policy)");
  c->add_flag("--sim-svm-off", o->sim_svm_off, "Simulate: leave EFER.SVME clear (SKINIT raises #UD)");
  c->add_flag("--sim-aps-running", o->sim_aps_running, "Simulate: do not put the APs in INIT (SKINIT raises #GP)");
  c->add_option("--acm", o->acm, "--platform intel: the SINIT ACM (redoubt sign acm); default: a demo ACM signed with the "
                "demo chipset key in the state directory");
  c->add_option("--chipset-key", o->chipset_key, "--platform intel: the chipset key (PEM) whose hash the simulated chipset has fused");
  c->add_option("--sinit-svn-floor", o->sinit_svn_floor, "--platform intel: the chipset's SINIT revocation floor (an ACM "
                "with a lower TXT SVN is refused)")->capture_default_str();
  c->add_flag("--json", o->json_out, "Print launch.json on stdout (steps go to stderr)");
  c->callback([o, &exit_code] { exit_code = run_launch(*o); });
}

}  // namespace redoubt::tools
