#include "tests/platform/x86/qemu_runner.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

namespace redoubt::test {

bool qemu_available() { return std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0; }

QemuBoot boot_in_qemu(const std::string& append, int timeout_s, const std::vector<std::string>& extra_args) {
  TempDir tmp;
  const std::string serial = (tmp / "serial.txt").string();
  const auto b = build_dir();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> args = {"timeout", std::to_string(timeout_s), "qemu-system-x86_64", "-accel", "tcg", "-cpu",
                                   "EPYC", "-m", "512", "-nographic", "-monitor", "none", "-serial", "file:" + serial};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  for (const char* a : {"-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-no-reboot", "-kernel"}) args.push_back(a);
  args.push_back((b / "boot_stub.bin").string());
  args.push_back("-initrd");
  args.push_back((b / "sl.bin").string() + "," + (b / "hv.bin").string());
  args.push_back("-append");
  args.push_back(append);
  CliResult r = run_program(args);
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
