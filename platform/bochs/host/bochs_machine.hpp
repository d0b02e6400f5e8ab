// The Bochs harness (tests only; docs/intel.md "Bochs"): the independent check of hv.bin's VMX
// backend. Bochs 2.7 boots BIOS media only, so the harness makes an El Torito ISO with
// grub-mkrescue whose GRUB loads the boot stub (multiboot) with two modules: the boot image (the
// RAM the simulator's loader and SL left at hv.bin's entry) and the SL's hand-off
// (abi/unmeasured_handoff.hpp). The stub enters hv.bin UNMEASURED (Bochs has no TPM); hv.bin
// runs its guests on Bochs's VMX with EPT and sends its evidence on COM2 at power-off, which
// Bochs writes to a file. Bochs has no debug-exit device: the harness stops Bochs once the
// evidence dump's end marker is in that file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace redoubt::bochs {

struct BochsOptions {
  std::filesystem::path work_dir;    // the ISO, bochsrc, serial files and Bochs's log go here
  std::filesystem::path boot_stub;   // build/boot_stub.bin
  std::string cpu_model = "corei7_skylake_x";  // VMX with EPT and VPID (`bochs --help cpu`)
  uint64_t ips = 50000000;           // instructions per emulated second (LAPIC timer, TSC rate)
  int timeout_s = 600;
};

struct BochsRun {
  std::string command;                  // the Bochs command line
  std::string console;                  // COM1 (the stub's and hv.bin's console, guests' output)
  std::vector<uint8_t> harness_channel;  // COM2
  std::string log_tail;                 // the end of Bochs's own log
  bool evidence_complete = false;       // COM2 holds "RDBTDUMP" ... "RDBTEND!"
  bool timed_out = false;
  int bochs_status = -1;                // waitpid status if Bochs exited by itself, else -1
  double seconds_total = 0, seconds_to_first_byte = -1;
};

// Makes work_dir/redoubt.iso (grub-mkrescue) from the stub and the two modules; throws
// std::runtime_error naming the failing command and its output.
std::filesystem::path make_iso(const BochsOptions& o, const std::vector<uint8_t>& boot_image,
                               const std::vector<uint8_t>& handoff);

// Boots the ISO on Bochs headless and returns when the evidence dump is complete (then Bochs is
// killed), Bochs exits, or the timeout passes. Throws std::runtime_error if Bochs cannot start.
BochsRun run_bochs(const BochsOptions& o, const std::filesystem::path& iso);

// bochs, grub-mkrescue and xorriso are installed (scripts/setup.sh).
bool bochs_installed();

}  // namespace redoubt::bochs
