// The measured hypervisor's own VMRUN: host code executed by the full-system
// CPU runs VMLOAD/VMRUN/VMSAVE (APM vol. 2 §15.5-§15.6) and must see exactly
// what the C++-driven SVM model (the native path) produces for the same VMCB:
// the same exits, the same guest state stored back, and the host resumed after
// VMRUN with its RAX and with the guest's other GPRs left in the registers.
#define BOOST_TEST_MODULE svm_host_vmrun
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "platform/sim/bus.hpp"
#include "platform/sim/full_system.hpp"
#include "tests/platform/sim/svm/guest_env.hpp"

using namespace redoubt;
using redoubt::test::GuestEnv;

namespace {

constexpr uint64_t kHostCode = 0x30000, kResult = 0x31000, kPml4 = 0x20000;

std::vector<uint8_t> host_program() {
  std::ifstream f(std::string(RD_GUEST_DIR) + "/host_vmrun.bin", std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

uint64_t rd64(sim::Machine& m, uint64_t pa) {
  uint64_t v;
  std::memcpy(&v, m.mem().map(pa, 8), 8);
  return v;
}
void wr64(sim::Machine& m, uint64_t pa, uint64_t v) { std::memcpy(m.mem().map(pa, 8), &v, 8); }

struct Exit {
  uint64_t code, info1, info2, rip, nrip;
  bool operator==(const Exit&) const = default;
};

// The native path: the test drives VMRUN from C++ the way platform/fake's hypervisor does.
std::vector<Exit> run_native(GuestEnv& g) {
  std::vector<Exit> exits;
  for (int i = 0; i < 10; ++i) {
    g.run();
    const auto& c = g.vmcb().control;
    exits.push_back({c.exitcode, c.exitinfo1, c.exitinfo2, g.vmcb().save.rip, c.next_rip});
    if (c.exitcode == svm::kExitHlt) break;
    g.resume_at_nrip();
  }
  return exits;
}

}  // namespace

BOOST_AUTO_TEST_CASE(host_code_vmrun_matches_the_native_model_exit_for_exit) {
  GuestEnv native("basic");
  native.set_io_intercept(0x3F8);
  const std::vector<Exit> expect = run_native(native);
  BOOST_TEST_REQUIRE(expect.size() == 3u);  // IOIO, VMMCALL, HLT

  GuestEnv g("basic");
  g.set_io_intercept(0x3F8);
  sim::Machine& m = g.m;
  const std::vector<uint8_t> prog = host_program();
  BOOST_TEST_REQUIRE(!prog.empty());
  m.mem().write(kHostCode, prog);
  // Host identity map of the low 64 MiB with 2 MiB pages (APM vol. 2 §5.3).
  wr64(m, kPml4, (kPml4 + 0x1000) | 3);
  wr64(m, kPml4 + 0x1000, (kPml4 + 0x2000) | 3);
  for (uint64_t i = 0; i < 32; ++i) wr64(m, kPml4 + 0x2000 + 8 * i, (i << 21) | 0x83);

  sim::cpu::Cpu c(m.mem());
  sim::svm::HostSvm hs(c, m.mem());
  sim::Bus bus;
  int status = -1;
  bus.map_ports("debug-exit", 0xF4, 1, nullptr, [&](uint16_t, unsigned, uint32_t v) {
    status = int(((v & 0xFF) << 1) | 1);
    c.request_stop(sim::cpu::Stop::poweroff);
  });
  c.ports = &bus;
  std::vector<Exit> seen;
  hs.on_world_switch = [&](uint64_t vmcb, bool entering) {
    if (entering) return;
    const auto& v = *reinterpret_cast<const svm::Vmcb*>(m.mem().map(vmcb, 4096));
    seen.push_back({v.control.exitcode, v.control.exitinfo1, v.control.exitinfo2, v.save.rip, v.control.next_rip});
  };
  c.cr0 = 0x80000011;
  c.cr4 = x86::kCr4Pae;
  c.cr3 = kPml4;
  c.efer = x86::kEferLme | x86::kEferLma;
  c.rip() = kHostCode;
  c.gpr[sim::cpu::RSP] = 0x38000;
  std::string err;
  const sim::cpu::Stop why = sim::run_system(c, hs, 10'000'000, &err);
  BOOST_TEST_INFO("error: " << err);
  BOOST_TEST(int(why) == int(sim::cpu::Stop::poweroff));
  BOOST_TEST(status == ((3 << 1) | 1));
  BOOST_TEST(rd64(m, kResult) == 3u);
  BOOST_TEST(rd64(m, kResult + 8) == 4951u);      // the guest's RBX reached the host in the register
  BOOST_TEST(rd64(m, kResult + 16) == GuestEnv::kVmcb);  // host RAX restored by #VMEXIT
  BOOST_TEST_REQUIRE(seen.size() == expect.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    BOOST_TEST_INFO("exit " << i);
    BOOST_TEST((seen[i] == expect[i]));
  }
  BOOST_TEST(g.vmcb().save.rax == native.vmcb().save.rax);
  BOOST_TEST(g.vmcb().save.rsp == native.vmcb().save.rsp);
  BOOST_TEST(c.counters.per_asid[1].instructions == native.svm.counters().per_asid[1].instructions);
  BOOST_TEST(!c.guest);
  BOOST_TEST(c.gif);  // #VMEXIT cleared GIF; the host's STGI after VMSAVE set it again
}

BOOST_AUTO_TEST_CASE(vmrun_with_an_inconsistent_vmcb_resumes_the_host_with_vmexit_invalid) {
  GuestEnv g("basic");
  g.vmcb().control.guest_asid = 0;  // §15.5.1: ASID 0 is the host's
  sim::Machine& m = g.m;
  m.mem().write(kHostCode, host_program());
  wr64(m, kPml4, (kPml4 + 0x1000) | 3);
  wr64(m, kPml4 + 0x1000, (kPml4 + 0x2000) | 3);
  for (uint64_t i = 0; i < 32; ++i) wr64(m, kPml4 + 0x2000 + 8 * i, (i << 21) | 0x83);
  sim::cpu::Cpu c(m.mem());
  sim::svm::HostSvm hs(c, m.mem());
  c.cr0 = 0x80000011;
  c.cr4 = x86::kCr4Pae;
  c.cr3 = kPml4;
  c.efer = x86::kEferLme | x86::kEferLma;
  c.rip() = kHostCode;
  c.gpr[sim::cpu::RSP] = 0x38000;
  // The program loops on an exit it does not know, resuming at nRIP: stop it by budget.
  sim::run_system(c, hs, 200, nullptr);
  BOOST_TEST(g.vmcb().control.exitcode == svm::kExitInvalid);
  BOOST_TEST(hs.last_invalid_reason() != nullptr);
  BOOST_TEST(c.counters.per_asid[1].instructions == 0u);
  BOOST_TEST(!c.guest);
}
