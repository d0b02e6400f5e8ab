// `--platform qemu`: the launch job's QEMU path. The simulator's untrusted loader
// lays out the same RAM (platform/sim/loader.cpp); QEMU (platform/qemu/host)
// executes the real sl.bin, sl2.bin and hv.bin from it on its own x86 + AMD-V
// model with the swtpm the caller owns; what the images sent on the harness
// channel at power-off is written back into `m`, so the rest of the job reads
// the outcome, the event log, the run record and the guests' serial output
// exactly as after a simulated run. docs/qemu.md.
#pragma once
#include <string>
#include <vector>

#include "platform/qemu/host/qemu_machine.hpp"
#include "platform/sim/loader.hpp"

namespace redoubt::tools {

// The text of the emulated-DRTM marker (policy/host/drtm_marker.hpp) a QEMU launch's
// event log carries as its first event: PCR17 was made by this harness, not by SKINIT.
inline constexpr char kQemuDrtmMarkerText[] =
    "qemu: SKINIT emulated by the host harness (swtpm control channel HASH_START/DATA/END over SLB[0:length])";

struct QemuLaunchOptions {
  std::string tpm_socket;                 // the swtpm control socket for QEMU's tpm-emulator
  qemu::DrtmFn drtm;                      // SKINIT's measurement on that TPM (the harness's emulation)
  std::vector<std::string> extra_args;    // more QEMU arguments (e.g. -device edu)
  std::string stub_args;                  // more of the boot stub's command line (tests: attack=0x...)
  int timeout_s = 180;
};

// Lays out `in` in m, boots QEMU, and fills m with the evidence dump. A refused or
// failed launch is a normal result; throws std::runtime_error if QEMU cannot run.
sim::LaunchReport launch_on_qemu(sim::Machine& m, const sim::LaunchInputs& in, const QemuLaunchOptions& o,
                                 const sim::ConsoleSink& sink, qemu::QemuRun* run_out = nullptr);

}  // namespace redoubt::tools
