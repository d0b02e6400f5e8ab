// Issue 14, the virtualization holes seen by a real guest kernel (guests/holes,
// docs/virtualization-holes.md "A real deprivileged guest kernel"): the same kernel code at
// CPL 0 as a guest under the hypervisor — on the AMD model (SVM) and on the Intel model (VMX
// backend) — and ring-deprivileged at CPL 3 under the guest's own trap-and-emulate monitor.
// The guest prints the table the doc shows; it checks every row itself (its exit code is the
// number of rows that differ from the expected hole), and this test asserts the rows.
#define BOOST_TEST_MODULE holes_guest
#include <boost/test/unit_test.hpp>

#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

std::unique_ptr<GuestRun> run_holes(bool intel) {
  auto r = std::make_unique<GuestRun>();
  tools::RunOptions o = default_run_options(r->dir / "out", r->dir / "state");
  o.guests = {"holes"};
  if (intel) {
    o.launch.engine = "native-sl";  // the Intel model runs hv.bin after the native SL (docs/intel.md)
    o.launch.sim_intel_cpu = true;
  }
  r->tpm = fresh_inproc_tpm(r->dir / "state");
  r->result = tools::run_guests_job(o, *r->tpm, [&](const std::string& l) { r->console.push_back(l); });
  r->tpm.reset();  // libtpms: one TPM per process
  return r;
}

const GuestRun& svm_run() {
  static std::unique_ptr<GuestRun> r = run_holes(false);
  return *r;
}
const GuestRun& vmx_run() {
  static std::unique_ptr<GuestRun> r = run_holes(true);
  return *r;
}

bool has(const std::string& serial, const std::string& s) { return serial.find(s) != std::string::npos; }

// The table rows only (the lines that start with '|').
std::string table(const std::string& serial) {
  std::string out;
  for (size_t at = 0; at < serial.size();) {
    size_t e = serial.find('\n', at);
    if (e == std::string::npos) e = serial.size();
    if (serial.compare(at, 1, "|") == 0) out += serial.substr(at, e - at) + "\n";
    at = e + 1;
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_deprivileged_kernel_sees_the_monitors_state_and_loses_if_under_svm) {
  const auto& g = svm_run().guest("holes");
  BOOST_TEST(g.status == "exited");
  BOOST_TEST(g.exit_code == 0);  // every row as expected
  const std::string& s = g.serial;
  BOOST_TEST(has(s, "| `SGDT` | limit=0x37 base="));
  BOOST_TEST(has(s, "(its own) | limit=0x3f base="));
  BOOST_TEST(has(s, "(the monitor's) | leaks the monitor's GDTR, no trap |"));
  BOOST_TEST(has(s, "| `STR` | 0x28 (its own) | 0x30 (the monitor's) |"));
  BOOST_TEST(has(s, "| `SMSW r64` | 0x8001003b (TS=1, as it set) | 0x80010033 (TS=0: the real CR0, not its virtual one) |"));
  BOOST_TEST(has(s, "| `MOV r64, CR0` | 0x8001003b (TS=1) | 0x8001003b (#GP, emulated: virtual CR0) |"));
  BOOST_TEST(has(s, "| `CLI; PUSHF` | IF=0 | IF=1 (CLI trapped: virtual IF=0) |"));
  BOOST_TEST(has(s, "| `STI; POPF (IF=0); PUSHF` | IF=0 | IF=1 (POPF ignored IF, no #GP; virtual IF still 1) |"));
  BOOST_TEST(has(s, "| `LAR r64, 0x08` | ZF=1 0xa09b00 | ZF=0 0x1111111111111111 (unchanged) |"));
  BOOST_TEST(has(s, "| `VERW 0x10` | ZF=1 | ZF=0 |"));
  BOOST_TEST(has(s, "| `MOV r, CS` | 0x8 | 0x23 (RPL 3) |"));
  BOOST_TEST(has(s, "the monitor trapped and emulated 8 instructions: LGDT LIDT LTR MOV-from-CR0 MOV-to-CR0 MOV-from-CR0 CLI STI"));
  BOOST_TEST(has(s, "holes: 0 unexpected rows"));
}

BOOST_AUTO_TEST_CASE(the_vmx_backend_gives_the_same_table) {
  const auto& g = vmx_run().guest("holes");
  BOOST_TEST(g.status == "exited");
  BOOST_TEST(g.exit_code == 0);
  BOOST_TEST(!table(g.serial).empty());
  BOOST_TEST(table(g.serial) == table(svm_run().guest("holes").serial));
}
