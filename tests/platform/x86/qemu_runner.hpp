// Boots build/boot_stub.bin with sl.bin and hv.bin as multiboot modules under
// QEMU TCG (-cpu EPYC: SVM + NPT) and captures the serial console and the
// isa-debug-exit status. The oracle for the bare-metal boot chain.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace redoubt::test {

struct QemuBoot {
  int exit_code = -1;  // QEMU's: (status << 1) | 1 after isa-debug-exit; 124 = timed out
  std::string serial;  // COM1, from the stub's first byte on (firmware banner included)
  std::string stderr_text;
  double seconds = 0;
};

bool qemu_available();  // qemu-system-x86_64 in PATH
// `append` is the stub's command line, e.g. "mode=sl" or "mode=hv-vmrun".
// `extra_args` go after the default machine (e.g. {"-machine", "q35", "-device", "amd-iommu"}).
QemuBoot boot_in_qemu(const std::string& append, int timeout_s = 60, const std::vector<std::string>& extra_args = {});
// What the DMA tests add: AMD-Vi needs q35 (QEMU 7.2 refuses `-device amd-iommu` on the
// default pc machine), and it must come before the PCI devices it translates.
inline const std::vector<std::string> kQemuAmdViWithEdu = {"-machine", "q35", "-device", "amd-iommu", "-device", "edu"};
// The exit code QEMU reports for abi::ExitStatus `status`.
inline int qemu_exit_code(int status) { return (status << 1) | 1; }

}  // namespace redoubt::test
