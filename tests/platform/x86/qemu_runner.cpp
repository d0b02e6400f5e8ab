#include "tests/platform/x86/qemu_runner.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

namespace redoubt::test {

bool qemu_available() { return std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0; }

QemuBoot boot_in_qemu(const std::string& append, int timeout_s) {
  TempDir tmp;
  const std::string serial = (tmp / "serial.txt").string();
  const auto b = build_dir();
  const auto t0 = std::chrono::steady_clock::now();
  CliResult r = run_program({"timeout", std::to_string(timeout_s), "qemu-system-x86_64", "-accel", "tcg", "-cpu",
                             "EPYC", "-m", "512", "-nographic", "-monitor", "none", "-serial", "file:" + serial,
                             "-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-no-reboot", "-kernel",
                             (b / "boot_stub.bin").string(), "-initrd",
                             (b / "sl.bin").string() + "," + (b / "hv.bin").string(), "-append", append});
  QemuBoot q;
  q.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  q.exit_code = r.exit_code;
  q.stderr_text = r.err;
  std::ifstream f(serial);
  std::stringstream s;
  s << f.rdbuf();
  q.serial = s.str();
  return q;
}

}  // namespace redoubt::test
