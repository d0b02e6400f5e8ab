// `redoubt run`: the measured launch, then the hypervisor runs guests on the
// simulated CPU (AMD-V with nested paging) until they all stop.
#include <unistd.h>
#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>

#include "abi/bare_hv_entry.hpp"
#include "attestation/agent/tpm_identity.hpp"
#include "tools/cmd_run_job.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/pcr_table.hpp"
#include "tools/tpm_session.hpp"
#include "tpm/swtpm_bridge_tcp.hpp"
#include "tpm/swtpm_bridge_tpm.hpp"

namespace redoubt::tools {

namespace {

// --serve-tpm: the run's swtpm stays reachable for tpm2-tools (tcti-swtpm) through the bridge's
// loopback server (docs/qemu-tpm-bridge.md "Outside tools on the bridge's TPM") until SIGINT /
// SIGTERM or --serve-tpm-seconds; only then is the TPM shut down in order. The server refuses
// CMD_INIT and the other control commands that would reset the run's PCRs.
void serve_tpm(tpm::TpmDevice& t, const RunOptions& o, const Say& say) {
  auto* bt = dynamic_cast<tpm::SwtpmBridgeTpm*>(&t);
  if (!bt) throw std::invalid_argument("--serve-tpm needs --platform qemu (the run's own swtpm)");
  // The signals are waited for here, not delivered: blocked before the server's thread starts
  // (it inherits the mask). QEMU has exited and swtpm was started before, so neither inherits it.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  {
    tpm::SwtpmBridgeTcpServer server(bt->shared_bridge(), static_cast<uint16_t>(o.serve_tpm_port));
    say("[tpm] serving the run's TPM for tpm2-tools: -T " + server.tcti() + " (control port " +
        std::to_string(server.port() + 1) + "); " +
        (o.serve_tpm_seconds ? "for " + std::to_string(o.serve_tpm_seconds) + " s" : std::string("until Ctrl-C / SIGTERM")));
    timespec ts{static_cast<time_t>(o.serve_tpm_seconds), 0};
    int sig = 0;
    if (o.serve_tpm_seconds)
      sig = sigtimedwait(&stop, nullptr, &ts);  // -1 (EAGAIN) when the time is up
    else
      sigwait(&stop, &sig);
    if (sig > 0) say(std::string("[tpm] ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    say("[tpm] served " + std::to_string(server.tpm_commands()) + " TPM command(s), " +
        std::to_string(server.ctrl_commands()) + " control command(s); stopped serving");
  }
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  bt->set_locality(0);  // a tool may have left another locality (tpm/swtpm_bridge_tcp.hpp)
}

int run_run(const RunOptions& o, bool json_out) {
  // With --json stdout carries run.json only; the progress lines go to stderr.
  auto say = [json_out](const std::string& line) { (json_out ? std::cerr : std::cout) << line << "\n" << std::flush; };
  TpmStateCheck tpm_state;
  auto tpm = open_tpm_session(tpm_spec_for(o.launch.platform, o.launch.tpm), state_dir(o.launch.state), o.launch.new_tpm, &tpm_state, say);
  say("[tpm] " + tpm->describe());
  RunOptions ro = o;
  ro.launch.tpm_state = tpm_state.to_json();
  // Progress on long runs (issue 14): on a terminal, or asked for; never on QEMU (no observer there).
  if (ro.launch.platform != "qemu" && isatty(STDERR_FILENO)) ro.progress = true;
  if (ro.launch.platform == "qemu") ro.progress = false;
  RunResult r = run_guests_job(ro, *tpm, say);
  if (o.serve_tpm_port >= 0) serve_tpm(*tpm, o, say);
  attest::orderly_shutdown(*tpm);  // the machine powers off in order: clockInfo.safe stays 1 at the next boot
  const sim::LaunchReport& lr = r.launch.report;
  if (json_out) {
    std::ifstream doc(r.launch.out_dir / "run.json");  // as written, so stdout and the file agree
    std::cout << doc.rdbuf() << std::flush;
    return !lr.launched ? kExitRefused : r.ran ? kExitOk : kExitRefused;
  }
  std::cout << "\n" << format_pcr_table(r.launch.pcrs) << "\n";
  if (!lr.launched) {
    std::cout << "REFUSED at " << lr.stage << ": " << lr.reason << "\n";
    return kExitRefused;
  }
  for (const GuestResult& g : r.guests) {
    std::cout << "guest " << g.name << ": " << g.status;
    if (g.status == "exited") std::cout << " (exit code " << g.exit_code << ")";
    if (g.admission == "signed") std::cout << " [signed " << g.signed_name << " " << g.version << " SVN " << g.svn << "]";
    if (g.admission == "unsigned") std::cout << " [UNSIGNED, allowed by policy]";
    std::cout << " - " << g.reason << "\n";
  }
  if (o.stats) std::cout << "\n" << format_stats_table(r);
  std::cout << "Wrote " << r.launch.out_dir.string() << "/{run.json,stats.json,serial-*.txt,launch.json,pcrs.json,eventlog.bin,slb.bin}\n";
  return r.ran ? kExitOk : kExitRefused;
}

}  // namespace

void register_run(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  o->launch.out = "out/run";
  CLI::App* c = app.add_subcommand("run", "Measured launch, then run guests under the hypervisor on the simulated CPU");
  c->add_option("--platform", o->launch.platform, "amd: the simulated AMD platform; intel: the simulated Intel TXT platform "
                "(GETSEC[SENTER], VT-x, VT-d; --engine full-system only; docs/intel.md); qemu: the same images under QEMU "
                "TCG + swtpm (docs/qemu.md)")
      ->check(CLI::IsMember({"amd", "intel", "qemu"}))
      ->capture_default_str();
  c->add_option("--acm", o->launch.acm, "--platform intel: the SINIT ACM (redoubt sign acm); default: a demo ACM signed with "
                "the demo chipset key in the state directory");
  c->add_option("--chipset-key", o->launch.chipset_key, "--platform intel: the chipset key (PEM) whose hash the simulated chipset has fused");
  c->add_option("--sinit-svn-floor", o->launch.sinit_svn_floor, "--platform intel: the chipset's SINIT revocation floor")
      ->capture_default_str();
  CLI::Option* engine_opt = c->add_option("--engine", o->launch.engine,
      "full-system: the simulated CPU executes sl.bin and hv.bin (what is measured runs); native: the same sources "
      "compiled into redoubt (refused unless the images are the ones built from them); native-sl: the native SL, then "
      "the measured hv.bin executed by the simulated CPU")->capture_default_str();
  engine_opt->check(CLI::IsMember({"full-system", "native-sl", "native"}));
  c->parse_complete_callback([o, engine_opt] { if (engine_opt->count()) o->launch.engine_checked = true; });
  c->add_option("--qemu-arg", o->launch.qemu_args,
                "--platform qemu: one more QEMU argument (repeatable; e.g. --qemu-arg=-device --qemu-arg=edu)");
  c->add_option("--qemu-stub-args", o->launch.qemu_stub_args,
                "--platform qemu: more of the untrusted boot stub's command line (attack=0xPA: a DMA attack by "
                "QEMU's edu device, docs/qemu.md)");
  // Test only (hidden): the hypervisor fails on purpose after N scheduler slices, to show the
  // fail-closed path (PCR17-20 capped, everything scrubbed; docs/isolation.md). hv.bin reads the
  // switch from its boot area, which only the native SL's harness can write: --engine native-sl.
  c->add_option_function<uint64_t>(
       "--test-hv-fail-after",
       [o](uint64_t n) {
         if (n > 0xFFFF) throw CLI::ValidationError("--test-hv-fail-after", "at most 65535 slices");
         o->launch.hv_test_flags |= abi::kBareFlagInjectFailure | (n << abi::kBareFlagInjectSliceShift);
       },
       "TEST ONLY: inject a hypervisor failure after N slices (native-sl/native: the boot area; full-system/QEMU: a test image)")
      ->group("");
  // Test only (hidden): hv.bin runs on a simulated Intel CPU (VMX, EPT) after the native SL
  // (tools/launch_job.hpp sim_intel_cpu; docs/intel.md "The hypervisor on VMX").
  c->add_flag("--test-sim-intel", o->launch.sim_intel_cpu,
              "TEST ONLY (--engine native-sl): hv.bin runs its guests on a simulated Intel CPU with VT-x; not an Intel launch")
      ->group("");
  // Test only (hidden): an assigned device's I/O domain also maps IOVA = host-physical above its
  // guest's RAM (hypervisor/core/entry.hpp kHvTestDmaMapsHost), to show the DMA attacks succeed
  // without the confinement. On full-system and QEMU it becomes a test image (docs/qemu.md).
  c->add_flag_callback(
       "--test-dma-maps-host", [o] { o->launch.hv_test_flags |= abi::kBareFlagDmaMapsHost; },
       "TEST ONLY: assigned devices are not confined to their guest's RAM (a test image on full-system/QEMU)")
      ->group("");
  c->add_option("--tpm", o->launch.tpm, "inproc | swtpm | swtpm:host=H,port=P[,ctrl=C] | device:/dev/tpmrm0")
      ->capture_default_str();
  c->add_option("--state", o->launch.state, "State directory (TPM NV, demo keys)");
  c->add_flag("--new-tpm", o->launch.new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
  c->add_option("--out", o->launch.out, "Output directory")->capture_default_str();
  c->add_option("--sl", o->launch.sl, "Secure loader image (default: build/sl.bin)");
  c->add_option("--sl-stage2", o->launch.sl_stage2, "The SL's stage 2, pinned by the SLB (default: build/sl2.bin)");
  c->add_option("--hypervisor", o->launch.hypervisor, "Hypervisor image (default: build/hv.bin)");
  c->add_option("--manifest", o->launch.manifest, "Signed hypervisor manifest (default: sign with the demo key)");
  c->add_option("--hv-key", o->launch.hv_key, "Hypervisor-signing public key to seal into the SLB");
  c->add_option("--guest", o->guests,
                "Guest: a name (hello, sha256, mmu, probe from build/guests), an image file, or KERNEL:MANIFEST[:INITRD] "
                "for a guest signed with `redoubt sign guest`; repeatable (default: hello sha256 mmu probe)");
  c->add_option("--assign-device", o->assign_devices,
                "GUEST=BB:DD.F: give the guest (its name or position) the simulated DMA engine at that PCI address "
                "(00:04.0, 00:05.0, 01:00.0) in an AMD-Vi domain of its own: its DMA reaches that guest's RAM only "
                "(docs/dma.md); repeatable, at most 3 per guest");
  c->add_option("--guest-args", o->guest_arg_specs,
                "GUEST=V0[,V1[,V2[,V3]]]: the loader's args[] for a guest (its name or position); V is a number or "
                "hv-image, hv-memory, slb or ram:GUEST with an optional +OFFSET, resolved to host-physical addresses "
                "once the loader placed everything (e.g. dmacopy=2,hv-image+0x2000,ram:attack+0x300000,slb)");
  c->add_option("--policy", o->launch.policy, "Launch policy (redoubt sign policy); default: a demo policy trusting the demo PKI");
  c->add_option("--owner", o->launch.owner, "Platform owner's public key PEM sealed into the SLB (verifies --policy)");
  c->add_flag("--no-policy", o->no_policy, "Launch without a launch policy (the hypervisor then refuses every guest)");
  c->add_option("--pki", o->pki, "PKI directory (redoubt pki init) that signs NAME/FILE guests; default: the demo PKI");
  c->add_flag("--unsigned-guests,--unsigned", o->unsigned_guests,
              "NAME/FILE guests carry no manifest (refused unless the policy allows unsigned guests); the name `endpoint` uses");
  add_uint_option(c, "--guest-svn", o->guest_svn, "SVN of the manifests signed on the fly");
  c->add_option("--cmdline", o->cmdline, "Command line of the manifests signed on the fly");
  c->add_option("--guest-dir", o->guest_dir, "Where guest names are looked up (default: build/guests)");
  c->add_option("--npf", o->npf, "#NPF policy for every guest: kill | inject (default: inject for the probe, kill otherwise)");
  add_uint_option(c, "--sha-bytes", o->sha_bytes, "Bytes the sha256 guest hashes (default 1 MiB)");
  add_uint_option(c, "--ram-mib", o->ram_mib, "RAM per guest in MiB (even, 4..1024)", 4, 1024);
  c->add_option("--paging", o->paging,
                "Memory virtualization for every guest: nested (nested page tables, the default) or shadow (shadow "
                "page tables the hypervisor keeps from the guest's own; docs/hypervisor.md \"Shadow paging\")")
      ->check(CLI::IsMember({"nested", "shadow"}));
  c->add_flag("--cpuid-unmasked", o->cpuid_unmasked, "Policy: let guests see the hypervisor bit and SVM in CPUID");
  c->add_flag("--stats", o->stats, "Print per-guest exit, instruction and TLB statistics");
  c->add_flag("--progress", o->progress,
              "A progress line on stderr every 2 s: time, instructions, exits, guests done (default: on when stderr "
              "is a terminal)");
  c->add_option("--trace", o->trace_path,
                "Write every guest #VMEXIT to FILE as it happens: CSV if FILE ends in .csv, else JSON lines "
                "(sequence, ASID, exit code and info, guest instructions, host ns; docs/research.md); "
                "`redoubt report` turns runs into plots");
  c->add_option("--serve-tpm", o->serve_tpm_port,
                "--platform qemu: after the run, serve its swtpm on 127.0.0.1:PORT (control PORT+1; 0 = free ports) "
                "for tpm2-tools (-T swtpm:host=127.0.0.1,port=PORT) until Ctrl-C / SIGTERM or --serve-tpm-seconds; "
                "TPM reset commands are refused (docs/qemu-tpm-bridge.md)")
      ->check(CLI::Range(0, 65534));
  add_uint_option(c, "--serve-tpm-seconds", o->serve_tpm_seconds, "With --serve-tpm: stop serving after this many seconds (0: on a signal)",
                  0, 86400);
  auto json_out = std::make_shared<bool>(false);
  c->add_flag("--json", *json_out, "JSON on stdout: the run.json document (progress on stderr)");
  c->callback([o, json_out, &exit_code] {
    if (!o->trace_path.empty() && o->launch.platform == "qemu")
      throw CLI::ValidationError("--trace", "needs the simulator: QEMU's #VMEXITs are not observable from the harness");
    if (o->serve_tpm_port >= 0 && o->launch.platform != "qemu")
      throw CLI::ValidationError("--serve-tpm", "needs --platform qemu (the run's own swtpm)");
    exit_code = run_run(*o, *json_out);
  });
}

}  // namespace redoubt::tools
