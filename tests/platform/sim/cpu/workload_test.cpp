// The interpreter runs gcc -O2 -ffreestanding -mgeneral-regs-only code (a
// SHA-256 compression loop: rotates, shifts, xor/and/not, adds, loads and
// stores, calls) and must produce exactly what the same C produces natively.
#define BOOST_TEST_MODULE cpu_workload
#include <boost/test/unit_test.hpp>

#include "bench/cpu_elf.hpp"
#include "tests/platform/sim/svm/guest_env.hpp"

extern "C" uint64_t cpu_work(uint64_t blocks);

using namespace redoubt;
using test::GuestEnv;

BOOST_AUTO_TEST_CASE(gcc_o2_sha256_matches_native) {
  for (uint64_t blocks : {0ull, 1ull, 3ull, 50ull}) {
    BOOST_TEST_CONTEXT("blocks=" << blocks) {
      GuestEnv g("callc");
      const uint64_t entry = bench::load_elf(g, RD_CPU_WORK_ELF);
      g.wr64(0x5100, entry);
      g.wr64(0x5108, blocks);
      g.run();
      BOOST_TEST(g.exitcode() == svm::kExitVmmcall);
      BOOST_TEST(g.vmcb().save.rax == cpu_work(blocks));
      BOOST_TEST(g.result(4) == 0u);  // no exception on the way
    }
  }
}

BOOST_AUTO_TEST_CASE(code_rewritten_by_the_host_is_redecoded) {
  GuestEnv g("callc");
  const uint64_t entry = bench::load_elf(g, RD_CPU_WORK_ELF);
  g.wr64(0x5100, entry);
  g.wr64(0x5108, 2);
  g.run();
  BOOST_TEST(g.vmcb().save.rax == cpu_work(2));
  // Replace the function with "mov eax, 42; ret" behind the CPU's back, rerun.
  const uint8_t stub[] = {0xB8, 42, 0, 0, 0, 0xC3};
  std::memcpy(g.gpa(entry, sizeof stub), stub, sizeof stub);
  g.vmcb().save.rip = g.step(0);
  g.run();
  BOOST_TEST(g.vmcb().save.rax == 42u);
}
