// bench/qemu_tcg.hpp, what bench_cpu's "native" and "QEMU TCG" columns stand on: the static-ELF
// reader rejects bad input with a named error; the ELF mapped into this process computes what
// cpu_work.c compiled natively computes; and the Multiboot image of the same ELF (stub
// qemu_tcg_boot.asm) boots under qemu-system-x86_64 -accel tcg and prints that same result.
#define BOOST_TEST_MODULE bench_qemu_tcg
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include "bench/qemu_tcg.hpp"

using namespace redoubt::bench;

extern "C" uint64_t cpu_work(uint64_t blocks);

namespace {
std::string error_of(const std::vector<uint8_t>& b) {
  try {
    parse_static_elf(b);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_elf_reader_names_what_is_wrong) {
  const std::vector<uint8_t> good = read_file(RD_CPU_WORK_ELF);
  BOOST_TEST(error_of(good).empty());
  BOOST_TEST(error_of({0x7F, 'E', 'L'}) == "ELF: truncated header");
  std::vector<uint8_t> b = good;
  b[4] = ELFCLASS32;
  BOOST_TEST(error_of(b) == "ELF: not an x86-64 ELF64");
  b = good;
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  eh.e_phoff = good.size() - 8;  // program headers beyond the end
  std::memcpy(b.data(), &eh, sizeof eh);
  BOOST_TEST(error_of(b) == "ELF: program header beyond the file");
  b = good;
  std::memcpy(&eh, b.data(), sizeof eh);
  Elf64_Phdr ph;
  std::memcpy(&ph, b.data() + eh.e_phoff, sizeof ph);
  BOOST_REQUIRE(ph.p_type == PT_LOAD);
  ph.p_filesz = good.size() * 2;  // a segment beyond the file
  std::memcpy(b.data() + eh.e_phoff, &ph, sizeof ph);
  BOOST_TEST(error_of(b) == "ELF: bad PT_LOAD");
}

BOOST_AUTO_TEST_CASE(the_same_elf_runs_natively_and_under_qemu_tcg_with_the_same_result) {
  const StaticElf elf = parse_static_elf(read_file(RD_CPU_WORK_ELF));
  BOOST_TEST(elf.entry >= 0x180000u);
  const NativeElf native(elf);
  constexpr uint64_t kBlocks = 2000;
  const uint64_t want = cpu_work(kBlocks);
  BOOST_TEST(native(kBlocks) == want);
  const std::vector<uint8_t> stub = read_file(RD_QEMU_TCG_BOOT_BIN);
  const std::vector<uint8_t> img = multiboot_image(stub, elf, kBlocks);
  uint32_t magic, flags, sum;
  std::memcpy(&magic, img.data(), 4);
  std::memcpy(&flags, img.data() + 4, 4);
  std::memcpy(&sum, img.data() + 8, 4);
  BOOST_TEST(magic == 0x1BADB002u);             // Multiboot 0.6.96 §3.1.2
  BOOST_TEST(uint32_t(magic + flags + sum) == 0u);
  StaticElf overlapping = elf;
  overlapping.segs[0].addr = 0x100000;  // on top of the stub
  BOOST_CHECK_THROW(multiboot_image(stub, overlapping, 1), std::runtime_error);
  if (!qemu_available()) {
    BOOST_TEST_MESSAGE("qemu-system-x86_64 is not installed: the QEMU half is not run");
    return;
  }
  const std::string path = "/tmp/redoubt-qemu-tcg-test-" + std::to_string(getpid()) + ".mb";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), long(img.size()));
  const QemuRun r = run_qemu_tcg(path);
  std::remove(path.c_str());
  char line[32];
  std::snprintf(line, sizeof line, "%016llx\n", static_cast<unsigned long long>(want));
  BOOST_TEST(r.serial == line);
  BOOST_TEST(r.cpu_seconds > 0.0);
}
