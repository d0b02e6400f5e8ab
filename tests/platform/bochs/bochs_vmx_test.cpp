// The independent check of hv.bin's VMX backend (issue 12; docs/intel.md "Bochs"): the same
// hv.bin bytes run the four demo guests on the simulator's Intel CPU model (`redoubt run --engine
// native-sl --test-sim-intel`) and on Bochs 2.7's VMX with EPT (cpu model corei7_skylake_x), from
// the same RAM and the same SL hand-off, captured where the simulator's SL entered hv.bin. Bochs has
// no TPM: its run is UNMEASURED (the stub's first serial line says so, hv.bin extends nothing).
// Compared per guest: status, exit code, serial output (sha256's TSC line masked), hypercalls,
// CPUID exits, EPT violations, the first exits in order and the whole non-INTR exit sequence's
// count and SHA-256 (run_record.hpp exit_digest). Label `oracle`; it takes minutes, so it runs only
// with REDOUBT_BOCHS=1 (and Bochs, grub-mkrescue and xorriso installed: scripts/setup.sh).
#define BOOST_TEST_MODULE bochs_vmx
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "abi/unmeasured_handoff.hpp"
#include "hypervisor/core/run_record.hpp"
#include "platform/bochs/host/bochs_machine.hpp"
#include "platform/qemu/host/boot_image.hpp"
#include "platform/qemu/host/evidence_dump.hpp"
#include "abi/launch_outcome.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

boost::test_tools::assertion_result bochs_enabled(boost::unit_test::test_unit_id) {
  const char* e = std::getenv("REDOUBT_BOCHS");
  boost::test_tools::assertion_result r(e && std::string(e) == "1" && bochs::bochs_installed());
  if (!r)
    r.message() << "the Bochs check runs only with REDOUBT_BOCHS=1 and bochs, grub-mkrescue and xorriso installed "
                   "(it takes minutes): skipped";
  return r;
}

std::string hex32(const uint8_t* d) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) s += k[d[i] >> 4], s += k[d[i] & 15];
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(demo_guests_on_bochs_vmx_match_the_simulator, *boost::unit_test::precondition(bochs_enabled)) {
  // 1. The simulator's VMX run, capturing RAM and the SL's hand-off at hv.bin's entry.
  auto sim = std::make_unique<GuestRun>();
  tools::RunOptions o = default_run_options(sim->dir / "out", sim->dir / "state");
  o.launch.engine = "native-sl";
  o.launch.sim_intel_cpu = true;
  std::vector<uint8_t> image, blob;
  hal::HypervisorHandoff handoff{};
  o.launch.on_hv_entry = [&](sim::Machine& m, const hal::HypervisorHandoff& ho) {
    const uint64_t top = std::min<uint64_t>(m.mem().size(), 512ull << 20) & ~uint64_t{4095};
    image = qemu::make_boot_image(m, ho.slb_base, 0x01000000, top);
    handoff = ho;
    redoubt::abi::UnmeasuredHandoff u{};
    std::memcpy(u.magic, redoubt::abi::kUnmeasuredHandoffMagic, 8);
    u.size = sizeof ho;
    u.outcome_pa = 0;  // no LaunchOutcome: nothing was launched
    u.handoff = ho;
    blob.resize(sizeof u);
    std::memcpy(blob.data(), &u, sizeof u);
  };
  sim->tpm = fresh_inproc_tpm(sim->dir / "state");
  sim->result = tools::run_guests_job(o, *sim->tpm, [&](const std::string& l) { sim->console.push_back(l); });
  sim->tpm.reset();
  BOOST_TEST_REQUIRE(sim->result.ran, sim->result.launch.report.reason);
  BOOST_TEST_REQUIRE(!image.empty());
  BOOST_TEST_REQUIRE(sim->result.guests.size() == 4u);

  // 2. The same bytes on Bochs. Artifacts stay in the build tree for inspection.
  bochs::BochsOptions bo;
  bo.work_dir = build_dir() / "bochs-vmx";
  std::filesystem::create_directories(bo.work_dir);
  bo.boot_stub = build_dir() / "boot_stub.bin";
  if (const char* m = std::getenv("REDOUBT_BOCHS_CPU")) bo.cpu_model = m;
  if (const char* i = std::getenv("REDOUBT_BOCHS_IPS")) bo.ips = std::strtoull(i, nullptr, 10);
  const auto iso = bochs::make_iso(bo, image, blob);
  const bochs::BochsRun run = bochs::run_bochs(bo, iso);
  BOOST_TEST_MESSAGE("bochs: " << run.command << ", " << run.seconds_total << " s, first byte at " << run.seconds_to_first_byte
                               << " s, image " << image.size() << " bytes");
  BOOST_TEST_MESSAGE("bochs console:\n" << run.console);
  BOOST_TEST_REQUIRE(!run.timed_out, "Bochs did not finish within " << bo.timeout_s << " s; log: " << run.log_tail);
  BOOST_TEST_REQUIRE(run.evidence_complete, "no evidence dump on COM2; log: " << run.log_tail);
  // The machine's first serial line says it is unmeasured (docs/intel.md "Bochs").
  BOOST_TEST(run.console.rfind("UNMEASURED: ", 0) == 0u, run.console.substr(0, 200));
  BOOST_TEST(run.console.find("[hv] UNMEASURED test hand-off") != std::string::npos);
  BOOST_TEST(run.console.find("[hv] Intel VT-x: VMX root operation, guests on EPT with VPID") != std::string::npos);

  std::string why;
  auto dump = qemu::parse_evidence_dump(run.harness_channel, &why);
  BOOST_TEST_REQUIRE(dump.has_value(), why);
  BOOST_TEST(dump->exit_status == uint32_t(redoubt::abi::ExitStatus::ok));
  std::map<uint64_t, std::vector<uint8_t>> regions;
  for (auto& r : dump->regions) regions[r.pa] = r.bytes;
  BOOST_TEST_REQUIRE(regions.count(handoff.hv_memory_pa) == 1u);
  BOOST_TEST_REQUIRE(regions[handoff.hv_memory_pa].size() == sizeof(hv::RunRecord));
  hv::RunRecord rec;
  std::memcpy(&rec, regions[handoff.hv_memory_pa].data(), sizeof rec);
  BOOST_TEST_REQUIRE(std::memcmp(rec.magic, hv::kRunRecordMagic, 8) == 0);
  BOOST_TEST(std::string(rec.status) == "ok");
  BOOST_TEST(rec.vendor == hv::kVendorVmx);
  BOOST_TEST_REQUIRE(rec.guest_count == 4u);

  // 3. Guest by guest.
  std::ofstream summary(bo.work_dir / "comparison.txt");
  summary << "guest | status | exit | serial | hypercalls | cpuid | violations | exit digest (count) sim / bochs | "
             "timer exits sim / bochs\n";
  for (uint32_t i = 0; i < 4; ++i) {
    const tools::GuestResult& s = sim->result.guests[i];
    const hv::GuestRecord& b = rec.guests[i];
    BOOST_TEST_CONTEXT("guest " << s.name) {
      const std::string name(b.name, strnlen(b.name, sizeof b.name));
      BOOST_TEST(name == s.name);
      BOOST_TEST(std::string(hv::guest_state_name(hv::GuestState(b.state))) == s.status, b.reason);
      BOOST_TEST(b.exit_code == s.exit_code);
      std::string serial;
      if (auto it = regions.find(b.serial_pa); it != regions.end()) serial.assign(it->second.begin(), it->second.end());
      BOOST_TEST(!serial.empty());
      BOOST_TEST(without_tsc_line(serial) == without_tsc_line(s.serial));
      BOOST_TEST(b.hypercalls == s.hypercalls);
      BOOST_TEST(b.violation_count == s.violation_count);
      BOOST_TEST(b.scrubbed == 1u);
      // The deterministic exits: every non-INTR exit, in order (the guest's own instructions cause
      // them); host-timer INTR exits depend on each emulator's speed and are not in the digest.
      // mmu alone also waits for its own periodic timer (`while (ticks < 5) hlt`, 20000 TSC ticks
      // apart): how many of the 5 ticks find it halted depends on the emulator's TSC rate against
      // its instruction count (docs/intel.md "Bochs"), so its HLT exits may be fewer, never more,
      // by at most the ticks injected; everything before the wait is in the trace checked below.
      BOOST_TEST_REQUIRE(b.exit_digest_done == 1u);
      if (s.name == "mmu") {
        BOOST_TEST(b.timer_irqs_injected == s.timer_irqs);
        BOOST_TEST(b.exit_digest_count <= s.exit_digest_count);
        BOOST_TEST(b.exit_digest_count + s.timer_irqs >= s.exit_digest_count);
      } else {
        BOOST_TEST(b.exit_digest_count == s.exit_digest_count);
        BOOST_TEST(hex32(b.exit_digest) == s.exit_digest);
      }
      const uint64_t n = std::min<uint64_t>(b.exit_trace_len, hv::kExitTrace);
      BOOST_TEST_REQUIRE(n == s.exit_trace.size());
      for (uint64_t k = 0; k < n; ++k) {
        BOOST_TEST_INFO("exit " << k);
        BOOST_TEST(b.exit_trace[k].code == s.exit_trace[k].first);
        BOOST_TEST(b.exit_trace[k].info1 == s.exit_trace[k].second);
      }
      summary << s.name << " | " << s.status << " | " << b.exit_code << " | "
              << (without_tsc_line(serial) == without_tsc_line(s.serial) ? "equal" : "DIFFERENT") << " | " << b.hypercalls
              << " | " << b.cpuid_exits << " | " << b.violation_count << " | " << s.exit_digest.substr(0, 16) << " ("
              << s.exit_digest_count << ") / " << hex32(b.exit_digest).substr(0, 16) << " (" << b.exit_digest_count << ") | "
              << s.timer_irqs << " / " << b.timer_irqs_injected << " (exits_total " << s.exits_total << " / " << b.exits_total
              << ")\n";
    }
  }
  // Bochs's own record of the EPT violations (its log, "VMEXIT: EPT violation for guest paddr"): as
  // many as the hypervisor recorded (probe's 6 accesses outside its RAM), seen by the other side.
  {
    std::ifstream lf(bo.work_dir / "bochs.log");
    std::string line;
    uint32_t bochs_ept = 0, hv_ept = 0;
    while (std::getline(lf, line))
      if (line.find("VMEXIT: EPT violation for guest paddr") != std::string::npos) ++bochs_ept;
    for (uint32_t i = 0; i < 4; ++i) hv_ept += rec.guests[i].violation_count;
    BOOST_TEST(bochs_ept == hv_ept);
    BOOST_TEST(bochs_ept == 6u);
    summary << "EPT violations in Bochs's log: " << bochs_ept << ", in the run record: " << hv_ept << "\n";
  }
  summary << "bochs: " << run.seconds_total << " s wall, cpu " << bo.cpu_model << ", ips " << bo.ips << "\n";
}
