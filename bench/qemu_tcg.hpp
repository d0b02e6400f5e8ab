// The same guest binary three ways (issue 14, docs/research.md "Simulator vs native vs QEMU TCG"):
// bench/cpu_work.elf — the static ELF the simulator runs — is also
//   * mapped at its own addresses into this process and called natively (same bytes, same
//     instruction count), and
//   * booted under `qemu-system-x86_64 -accel tcg` with a Multiboot stub (qemu_tcg_boot.asm)
//     that enters long mode and calls it.
// QEMU's start-up (SeaBIOS, option ROM) is taken out by timing two runs with different block
// counts: (t_large - t_small) / (instructions_large - instructions_small), the instruction counts
// being the simulator's (same binary, same work).
#pragma once
#include <elf.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace redoubt::bench {

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct ElfSeg {
  uint64_t addr, filesz, memsz;
  std::vector<uint8_t> bytes;
};
struct StaticElf {
  uint64_t entry = 0;
  std::vector<ElfSeg> segs;
};

// The PT_LOAD segments of a static ELF64 (x86-64); throws naming what is wrong.
inline StaticElf parse_static_elf(const std::vector<uint8_t>& b) {
  Elf64_Ehdr eh;
  if (b.size() < sizeof eh) throw std::runtime_error("ELF: truncated header");
  std::memcpy(&eh, b.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
    throw std::runtime_error("ELF: not an x86-64 ELF64");
  StaticElf e;
  e.entry = eh.e_entry;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    const uint64_t at = eh.e_phoff + uint64_t(i) * eh.e_phentsize;
    if (at + sizeof ph > b.size()) throw std::runtime_error("ELF: program header beyond the file");
    std::memcpy(&ph, b.data() + at, sizeof ph);
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_offset + ph.p_filesz > b.size() || ph.p_filesz > ph.p_memsz) throw std::runtime_error("ELF: bad PT_LOAD");
    e.segs.push_back({ph.p_paddr, ph.p_filesz, ph.p_memsz,
                      std::vector<uint8_t>(b.begin() + long(ph.p_offset), b.begin() + long(ph.p_offset + ph.p_filesz))});
  }
  if (e.segs.empty()) throw std::runtime_error("ELF: no PT_LOAD segment");
  return e;
}

// The ELF mapped at its own (fixed, low) addresses in this process: cpu_work(blocks) natively.
class NativeElf {
 public:
  explicit NativeElf(const StaticElf& e) {
    for (const ElfSeg& s : e.segs) {
      const uint64_t lo = s.addr & ~0xFFFull, hi = (s.addr + s.memsz + 0xFFF) & ~0xFFFull;
      void* p = mmap(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED || reinterpret_cast<uint64_t>(p) != lo)
        throw std::runtime_error("cannot map the guest ELF at its address 0x" + std::to_string(lo));
      maps_.push_back({p, hi - lo});
      std::memcpy(reinterpret_cast<void*>(s.addr), s.bytes.data(), s.bytes.size());
    }
    fn_ = reinterpret_cast<uint64_t (*)(uint64_t)>(e.entry);
  }
  ~NativeElf() {
    for (auto& m : maps_) munmap(m.first, m.second);
  }
  NativeElf(const NativeElf&) = delete;
  NativeElf& operator=(const NativeElf&) = delete;
  uint64_t operator()(uint64_t blocks) const { return fn_(blocks); }

 private:
  std::vector<std::pair<void*, size_t>> maps_;
  uint64_t (*fn_)(uint64_t) = nullptr;
};

// stub (qemu_tcg_boot.bin, org 0x100000) + the ELF's segments, flat from 0x100000, with the
// Multiboot header's load_end/bss_end and the stub's entry/blocks slots filled in.
inline std::vector<uint8_t> multiboot_image(std::vector<uint8_t> stub, const StaticElf& e, uint64_t blocks) {
  constexpr uint64_t kBase = 0x100000;
  uint64_t end = kBase + stub.size(), bss_end = end;
  for (const ElfSeg& s : e.segs) {
    if (s.addr < end) throw std::runtime_error("guest ELF overlaps the Multiboot stub");
    end = std::max(end, s.addr + s.filesz);
    bss_end = std::max(bss_end, s.addr + s.memsz);
  }
  std::vector<uint8_t> img(end - kBase, 0);
  std::memcpy(img.data(), stub.data(), stub.size());
  for (const ElfSeg& s : e.segs) std::memcpy(img.data() + (s.addr - kBase), s.bytes.data(), s.bytes.size());
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(img.data() + off, &v, 4); };
  auto put64 = [&](size_t off, uint64_t v) { std::memcpy(img.data() + off, &v, 8); };
  put32(20, uint32_t(end));      // load_end_addr
  put32(24, uint32_t(bss_end));  // bss_end_addr (the loader zeroes up to it)
  put64(32, e.entry);
  put64(40, blocks);
  return img;
}

inline bool qemu_available() { return std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0; }

// CPU seconds of this process (all threads) and of its waited-for children (QEMU): robust against
// other load on the machine, unlike wall time.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}
inline double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct QemuRun {
  double seconds = 0;      // wall
  double cpu_seconds = 0;  // QEMU's user + system time (all its threads)
  std::string serial;
  int status = -1;
};

// One `qemu-system-x86_64 -accel tcg` run of `image` (Multiboot); COM1 is its stdout.
inline QemuRun run_qemu_tcg(const std::string& image) {
  const std::string cmd = "timeout 300 qemu-system-x86_64 -accel tcg -machine pc -m 256 -display none -monitor none "
                          "-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=1 -kernel " +
                          image + " 2>/dev/null";
  QemuRun r;
  const double c0 = children_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.serial.append(buf, n);
  r.status = pclose(p);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = children_cpu_seconds() - c0;
  return r;
}

}  // namespace redoubt::bench
