// The real sl.bin and hv.bin booted under QEMU (TCG, -cpu EPYC: SVM + NPT).
// QEMU is the oracle: it executes the measured bytes on an x86 model nobody
// here wrote. No SKINIT under TCG, so the boot stub re-creates the state
// SKINIT leaves (docs/skinit.md); the stub places no stage 2 (sl2.bin) and QEMU
// has no DEV yet, so stage 1 refuses by name with launch_refused (the QEMU issue).
#define BOOST_TEST_MODULE x86_qemu_boot
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <regex>
#include <string>

#include "abi/launch_outcome.hpp"
#include "tests/platform/x86/qemu_runner.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

namespace utf = boost::unit_test;
using namespace redoubt;
using namespace redoubt::test;

namespace {

boost::test_tools::assertion_result qemu_present(utf::test_unit_id) {
  const bool present = qemu_available();
  boost::test_tools::assertion_result r(present);
  if (!present) {
    r.message() << "qemu-system-x86_64 is not installed: the QEMU boot tests are skipped";
    BOOST_TEST_MESSAGE("qemu-system-x86_64 is not installed: the QEMU boot tests are skipped");
  }
  return r;
}

int exit_for(redoubt::abi::ExitStatus s) { return qemu_exit_code(static_cast<int>(s)); }

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// R_X86_64_RELATIVE entries in an image, by binutils' readelf (not our parser).
long relative_relocations(const char* elf) {
  CliResult r = run_program({"readelf", "-W", "-r", (build_dir() / "images" / elf).string()});
  long n = 0;
  for (size_t p = 0; (p = r.out.find("R_X86_64_RELATIVE", p)) != std::string::npos; ++p) ++n;
  return n;
}

void show(const QemuBoot& q) {
  BOOST_TEST_MESSAGE("QEMU exit " << q.exit_code << " after " << q.seconds << " s; serial:\n"
                                  << q.serial.substr(q.serial.find("[stub]") == std::string::npos
                                                         ? 0
                                                         : q.serial.find("[stub]")));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(qemu_boot, *utf::precondition(qemu_present) * utf::label("qemu"))

BOOST_AUTO_TEST_CASE(sl_enters_long_mode_cpp_from_skinit_state) {
  QemuBoot q = boot_in_qemu("mode=sl");
  show(q);
  // 32-bit SKINIT state -> GDT, 1 GiB identity map, long mode, relocations, C++:
  // the string table and the console's vtable call both need the relocations.
  const long relocs = relative_relocations("sl.elf");
  BOOST_TEST(relocs > 0);
  BOOST_TEST(has(q.serial, "[sl] stage 1 in long mode: SLB at 0x1000000, " + std::to_string(relocs) +
                               " relocations applied, boot params at 0xf00000"));
  // The stub places no stage 2 (sl2.bin) yet (the QEMU issue does): stage 1 refuses
  // by name and powers off as refused, never a silent stop.
  BOOST_TEST(has(q.serial, "no SL stage 2 region"));
  BOOST_TEST(has(q.serial, "[sl] power off: launch_refused"));
  // The stack was painted at entry; the report says how much of it was used.
  BOOST_TEST(std::regex_search(q.serial, std::regex(R"(\[sl\] stack: [1-9][0-9]* of [0-9]+ bytes used \(high-water mark\)\r?\n)")));
  BOOST_TEST(q.exit_code == exit_for(redoubt::abi::ExitStatus::launch_refused));
}

BOOST_AUTO_TEST_CASE(sl_is_position_independent) {
  // Another 64 KiB-aligned SLB (not 1 MiB aligned): same bytes, relocated for the new base.
  QemuBoot q = boot_in_qemu("mode=sl slb=0x5010000");
  show(q);
  BOOST_TEST(has(q.serial, "[sl] stage 1 in long mode: SLB at 0x5010000"));
  BOOST_TEST(has(q.serial, "no SL stage 2 region"));
  BOOST_TEST(q.exit_code == exit_for(redoubt::abi::ExitStatus::launch_refused));
}

BOOST_AUTO_TEST_CASE(hv_vmrun_world_switch_exchanges_all_state) {
  QemuBoot q = boot_in_qemu("mode=hv-vmrun");
  show(q);
  const long relocs = relative_relocations("hv.elf");
  BOOST_TEST(has(q.serial, "[hv] bare-metal entry: image at 0x2000000, " + std::to_string(relocs) +
                               " relocations applied, boot area 0x4fe0000"));
  // The guest inverted each GPR the host gave it; the host compares all 15.
  static const char* const kRegs[] = {"rax", "rcx", "rdx", "rbx", "rbp", "rsi", "rdi", "r8",
                                      "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  for (const char* r : kRegs) BOOST_TEST(std::regex_search(q.serial, std::regex(std::string("guest ") + r + " = 0x[0-9a-f]{16} ok")), r);
  BOOST_TEST(has(q.serial, "[hv] self-test: 15 of 15 GPRs exchanged; VMLOAD fs.base ok, KernelGsBase ok, LSTAR ok; "
                           "VMSAVE LSTAR ok; host MSRs restored"));
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(q.serial, m, std::regex("1000 VMRUN/VMMCALL round trips, ([0-9]+) TSC ticks each")));
  BOOST_TEST_MESSAGE("VMRUN -> VMMCALL -> #VMEXIT round trip under QEMU TCG: " << m[1] << " TSC ticks");
  BOOST_TEST(has(q.serial, "[hv] self-test: interrupt vector 0x30 handled once through the IDT, registers kept"));
  BOOST_TEST(has(q.serial, "[hv] power off: ok (ok): VMRUN self-test passed"));
  BOOST_TEST(q.exit_code == exit_for(redoubt::abi::ExitStatus::ok));
}

BOOST_AUTO_TEST_CASE(hv_fault_is_fatal_and_powers_off_hv_failed) {
  QemuBoot q = boot_in_qemu("mode=hv-fault");
  show(q);
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(q.serial, m, std::regex(R"(\[hv\] FATAL: vector 6 \(#UD\) at RIP 0x([0-9a-f]+), error 0x0)")));
  // The faulting RIP lies inside hv.bin as loaded at 0x2000000.
  const unsigned long long rip = std::stoull(m[1].str(), nullptr, 16);
  const auto hv_size = read_file(build_dir() / "hv.bin").size();
  BOOST_TEST(rip >= 0x2000000ull);
  BOOST_TEST(rip < 0x2000000ull + hv_size);
  BOOST_TEST(has(q.serial, "[hv] power off: hv_failed (fault): FATAL: vector 6 (#UD)"));
  BOOST_TEST(q.exit_code == exit_for(redoubt::abi::ExitStatus::hv_failed));
}

BOOST_AUTO_TEST_CASE(hv_without_a_dev_stops_as_a_failure) {
  // The hypervisor takes over the DEV (or AMD-Vi) the SL enabled before anything
  // else; QEMU has no DEV (its host bridge has no function 00:18.3) and this
  // machine no IOMMU, so it must stop as a failure naming why — never run guests
  // without DMA protection.
  QemuBoot q = boot_in_qemu("mode=hv");
  show(q);
  BOOST_TEST(has(q.serial, "[hv] power off: hv_failed (unsupported): no DMA protection: DEV: 00:18.3 is not an AMD host "
                           "bridge function (vendor/device 0xffffffff); AMD-Vi: no IOMMU capability on PCI bus 0"));
  BOOST_TEST(!has(q.serial, "[hv] Redoubt hypervisor"));
  BOOST_TEST(q.exit_code == exit_for(redoubt::abi::ExitStatus::hv_failed));
}

BOOST_AUTO_TEST_SUITE_END()
