// Boots build/boot_stub.bin with sl.bin and hv.bin as multiboot modules under
// QEMU TCG (-cpu EPYC: SVM + NPT) and captures the serial console and the
// isa-debug-exit status. The oracle for the bare-metal boot chain.
#pragma once
#include <optional>
#include <string>

namespace redoubt::test {

struct QemuBoot {
  int exit_code = -1;  // QEMU's: (status << 1) | 1 after isa-debug-exit; 124 = timed out
  std::string serial;  // COM1, from the stub's first byte on (firmware banner included)
  std::string stderr_text;
  double seconds = 0;
};

bool qemu_available();  // qemu-system-x86_64 in PATH
// `append` is the stub's command line, e.g. "mode=sl" or "mode=hv-vmrun".
QemuBoot boot_in_qemu(const std::string& append, int timeout_s = 60);
// The exit code QEMU reports for abi::ExitStatus `status`.
inline int qemu_exit_code(int status) { return (status << 1) | 1; }

}  // namespace redoubt::test
