#include "platform/bochs/host/bochs_machine.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "abi/harness_channel.hpp"

extern char** environ;

namespace redoubt::bochs {

namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!f) throw std::runtime_error("bochs: cannot write " + p.string());
}
void write_text(const fs::path& p, const std::string& s) { write_bytes(p, std::vector<uint8_t>(s.begin(), s.end())); }
std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Runs argv with stdin = /dev/null and stdout+stderr to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("bochs: cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

std::string tail_of(const fs::path& p, size_t n) {
  std::vector<uint8_t> b = read_bytes(p);
  std::string s(b.begin(), b.end());
  return s.size() <= n ? s : s.substr(s.size() - n);
}

bool on_path(const char* tool) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && access((fs::path(dir) / tool).c_str(), X_OK) == 0) return true;
  return false;
}

bool has_complete_dump(const std::vector<uint8_t>& ch) {
  const auto* m = reinterpret_cast<const uint8_t*>(abi::kDumpMagic);
  const auto* e = reinterpret_cast<const uint8_t*>(abi::kDumpEnd);
  auto start = std::search(ch.begin(), ch.end(), m, m + 8);
  return start != ch.end() && std::search(start, ch.end(), e, e + 8) != ch.end();
}

}  // namespace

bool bochs_installed() { return on_path("bochs") && on_path("grub-mkrescue") && on_path("xorriso"); }

fs::path make_iso(const BochsOptions& o, const std::vector<uint8_t>& boot_image, const std::vector<uint8_t>& handoff) {
  const fs::path root = o.work_dir / "iso";
  fs::remove_all(root);
  fs::create_directories(root / "boot/grub");
  fs::copy_file(o.boot_stub, root / "boot/boot_stub.bin", fs::copy_options::overwrite_existing);
  write_bytes(root / "boot/image.bin", boot_image);
  write_bytes(root / "boot/handoff.bin", handoff);
  // GRUB's multiboot loader takes the stub's a.out-kludge header (Multiboot 0.6.96 §3.1.3).
  write_text(root / "boot/grub/grub.cfg",
             "set timeout=0\nset default=0\n"
             "menuentry \"redoubt-unmeasured\" {\n"
             "  multiboot /boot/boot_stub.bin mode=unmeasured\n"
             "  module /boot/image.bin image\n"
             "  module /boot/handoff.bin handoff\n"
             "  boot\n}\n");
  const fs::path iso = o.work_dir / "redoubt.iso", log = o.work_dir / "grub-mkrescue.log";
  const pid_t pid = spawn({"grub-mkrescue", "-o", iso.string(), root.string()}, log);
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !fs::exists(iso))
    throw std::runtime_error("bochs: grub-mkrescue failed (status " + std::to_string(st) + "): " + tail_of(log, 2000));
  return iso;
}

BochsRun run_bochs(const BochsOptions& o, const fs::path& iso) {
  BochsRun r;
  const fs::path rc = o.work_dir / "bochsrc", com1 = o.work_dir / "com1.txt", com2 = o.work_dir / "com2.bin",
                 log = o.work_dir / "bochs.log", out = o.work_dir / "bochs-stdout.txt";
  fs::remove(com1);
  fs::remove(com2);
  std::ostringstream c;
  // Bochs 2.7 bochsrc (docs/intel.md "Bochs"): no GUI, the serial ports to files, virtual time
  // (clock: sync=none: the emulated clock follows the instruction count, so runs repeat).
  c << "megs: 512\n"
    << "cpu: model=" << o.cpu_model << ", count=1, ips=" << o.ips << ", reset_on_triple_fault=0\n"
    << "romimage: file=/usr/share/bochs/BIOS-bochs-latest\n"
    << "vgaromimage: file=/usr/share/vgabios/vgabios.bin\n"
    << "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14\n"
    << "ata0-slave: type=cdrom, path=\"" << iso.string() << "\", status=inserted\n"
    << "boot: cdrom\n"
    << "com1: enabled=1, mode=file, dev=\"" << com1.string() << "\"\n"
    << "com2: enabled=1, mode=file, dev=\"" << com2.string() << "\"\n"
    // Debian's Bochs has no `nogui` library (bochsrc: "display library 'nogui' not available"):
    // rfb with timeout=0 does not wait for a VNC client.
    << "display_library: rfb, options=\"timeout=0\"\n"
    << "clock: sync=none, time0=1\n"
    // No sound: with the ALSA default on a machine without a sound card, Bochs 2.7's mixer
    // thread aborts ("*** buffer overflow detected ***" in mixer_thread, seen 2026-12-04).
    << "sound: driver=dummy\n"
    << "speaker: enabled=0\n"
    << "log: \"" << log.string() << "\"\n"
    << "panic: action=fatal\nerror: action=report\ninfo: action=report\ndebug: action=ignore\n";
  write_text(rc, c.str());
  // Debian builds Bochs with its debugger, which stops at the first instruction: "c" continues.
  const fs::path dbg = o.work_dir / "debugger.rc";
  write_text(dbg, "c\n");
  r.command = "bochs -q -f " + rc.string() + " -rc " + dbg.string();
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn({"bochs", "-q", "-f", rc.string(), "-rc", dbg.string()}, out);
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  bool exited = false;
  for (;;) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      exited = true;
      r.bochs_status = st;
    }
    if (r.seconds_to_first_byte < 0 && fs::exists(com1) && fs::file_size(com1) > 0) r.seconds_to_first_byte = seconds();
    if (fs::exists(com2) && has_complete_dump(read_bytes(com2))) r.evidence_complete = true;
    if (exited || r.evidence_complete) break;
    if (seconds() > o.timeout_s) {
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!exited) {  // the images powered off (or hung): Bochs has no debug-exit device to end it
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
  }
  r.seconds_total = seconds();
  std::vector<uint8_t> con = read_bytes(com1);
  r.console.assign(con.begin(), con.end());
  r.harness_channel = read_bytes(com2);
  r.log_tail = tail_of(log, 4000) + tail_of(out, 1000);
  return r;
}

}  // namespace redoubt::bochs
