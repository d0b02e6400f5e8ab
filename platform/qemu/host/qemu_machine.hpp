// Runs the real images under QEMU (TCG, an AMD CPU with SVM + NPT, q35 with
// AMD-Vi, TPM TIS on the caller's swtpm) from a boot image the simulator's
// loader laid out (boot_image.hpp). The boot stub (platform/qemu/boot_stub.*)
// copies it into RAM and, in place of SKINIT, asks this harness on the harness
// channel (abi/harness_channel.hpp) to make SKINIT's measurement; the callback
// does that on the TPM, then the stub enters the SL as SKINIT leaves the CPU.
// COM1 is the console, COM2 the harness channel: both are UNIX sockets this
// process listens on, so bytes are timestamped as they arrive. docs/qemu.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redoubt::qemu {

struct QemuOptions {
  std::string qemu = "qemu-system-x86_64";
  std::filesystem::path boot_stub;        // build/boot_stub.bin
  std::string tpm_socket;                 // swtpm control socket QEMU's tpm-emulator attaches to; empty: no TPM
  std::string cpu = "EPYC";               // AMD, SVM + NPT under TCG (docs/qemu.md)
  unsigned memory_mib = 512;
  bool amd_iommu = true;                  // -device amd-iommu (QEMU has no DEV)
  std::vector<std::string> extra_args;    // e.g. {"-device", "edu"}
  std::string stub_args;                  // more of the boot stub's command line (tests: "attack=0x...")
  int timeout_s = 180;
};

struct QemuRun {
  std::vector<std::string> command;       // QEMU's argv
  int qemu_exit = -1;                     // QEMU's exit status: (v << 1) | 1 from isa-debug-exit
  bool timed_out = false;
  std::string qemu_stderr;
  std::string console;                    // COM1, as sent
  std::vector<uint8_t> harness_channel;   // COM2, as sent
  bool skinit_requested = false;
  bool drtm_done = false;                 // the callback returned and the stub was told to go
  std::string drtm_error;                 // what the callback threw (the stub was told to abort)
  uint64_t slb_base = 0;
  std::vector<uint8_t> skinit_measured;   // SLB[0:length] as the stub read it from RAM
  double seconds_total = 0;
  double seconds_to_first_byte = -1;      // QEMU start -> the first console byte (the stub's)
  double seconds_to_skinit = -1;          // QEMU start -> the SKINIT request
};

using DrtmFn = std::function<void(std::span<const uint8_t> slb_measured)>;
using LineSink = std::function<void(std::string_view)>;

// Throws std::runtime_error when QEMU cannot be started (not installed, sockets).
QemuRun run_qemu(const QemuOptions& o, const std::vector<uint8_t>& boot_image, const DrtmFn& drtm,
                 const LineSink& console_line);

bool qemu_installed(const std::string& qemu = "qemu-system-x86_64");

}  // namespace redoubt::qemu
