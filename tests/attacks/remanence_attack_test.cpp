// Issue 11, remanence: what a reset attacker finds in RAM at the next boot (platform/sim/reset.hpp,
// docs/isolation.md "Remanence"). The attacker is the next boot's first untrusted code: it reads
// RAM after a warm reset. Digests are computed here, before the reset (what there was to steal)
// and after it (what the attacker reads).
//  1. A reset in the middle of a run (the 40th #VMEXIT, the measured sl.bin/hv.bin on the
//     full-system CPU): the hypervisor set the SECRETS flag before loading any guest, so the
//     platform scrubs all RAM before the attacker runs: every guest's RAM, the hypervisor memory
//     and the SLB read as zeros, though they held data at the reset.
//  2. The same with the test-only switch that makes the platform ignore the flag (a platform
//     without the mitigation): the attacker reads each guest's RAM exactly as it was — the
//     check can fail.
//  3. After a normal stop and after an injected hypervisor failure, the hypervisor has scrubbed
//     and cleared the flag: a reset scrubs nothing more, and the guests' RAM is zeros anyway.
#define BOOST_TEST_MODULE remanence_attack
#include <boost/test/unit_test.hpp>

#include "abi/bare_hv_entry.hpp"
#include "hypervisor/core/run_record.hpp"
#include "tests/hypervisor/run_support.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

constexpr uint64_t kHvMemory = 0x04000000;  // LaunchLayout::hv_memory
struct ResetNow {};  // aborts the run at the reset: the old boot's code never runs again

struct Seen {
  std::vector<std::pair<uint64_t, uint64_t>> guests;  // RAM ranges from the run record
  std::map<uint64_t, std::string> before, after;      // pa -> SHA-256 of the range
  std::string hv_before, hv_after, slb_before, slb_after;
  sim::WarmResetReport reset;
  bool flag_before = false;
};

std::string digest(sim::Machine& m, uint64_t pa, uint64_t n) { return hex(sha("SHA256", m.mem().read(pa, n))); }

// Runs three guests on the full-system machine and resets it at the 40th #VMEXIT.
Seen reset_mid_run(bool ignore_flag) {
  Seen s;
  tools::RunOptions o;
  o.guests = {"sha256", "hello", "mmu"};
  int exits = 0;
  o.on_vmrun = [&](sim::Machine& m, uint64_t, bool after) {
    if (!after || ++exits < 40) return;
    hv::RunRecord rec;
    std::memcpy(&rec, m.mem().map(kHvMemory, sizeof rec), sizeof rec);
    for (uint32_t i = 0; i < rec.guest_count; ++i) s.guests.push_back({rec.guests[i].ram_pa, rec.guests[i].ram_size});
    for (auto [pa, n] : s.guests) s.before[pa] = digest(m, pa, n);
    s.hv_before = digest(m, kHvMemory, 16ull << 20);
    s.slb_before = digest(m, 0x01000000, 0x10000);
    s.flag_before = m.secrets().set();
    m.secrets().test_ignore_at_reset = ignore_flag;
    s.reset = m.warm_reset();
    // The next boot's first code: the attacker reads RAM.
    for (auto [pa, n] : s.guests) s.after[pa] = digest(m, pa, n);
    s.hv_after = digest(m, kHvMemory, 16ull << 20);
    s.slb_after = digest(m, 0x01000000, 0x10000);
    throw ResetNow{};
  };
  TempDir dir;
  tools::RunOptions d = default_run_options(dir / "out", dir / "state");
  o.launch.out = d.launch.out;
  o.launch.state = d.launch.state;
  o.launch.sl = d.launch.sl;
  o.launch.sl_stage2 = d.launch.sl_stage2;
  o.launch.hypervisor = d.launch.hypervisor;
  o.guest_dir = d.guest_dir;
  auto tpm = fresh_inproc_tpm(dir / "state");
  bool reset = false;
  try {
    tools::run_guests_job(o, *tpm, [](const std::string&) {});
  } catch (const ResetNow&) {
    reset = true;
  }
  BOOST_REQUIRE_MESSAGE(reset, "the run ended before its 40th #VMEXIT");
  BOOST_REQUIRE_EQUAL(s.guests.size(), 3u);
  return s;
}

std::string zero_digest(uint64_t n) { return hex(sha("SHA256", zeros(n))); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_reset_in_the_middle_of_a_run_leaves_the_attacker_nothing) {
  const Seen s = reset_mid_run(false);
  BOOST_TEST(s.flag_before, "the hypervisor set the SECRETS flag before the guests ran");
  BOOST_TEST(s.reset.flag_was_set);
  BOOST_TEST(s.reset.scrubbed_bytes == 256ull << 20, "all of RAM");
  for (auto [pa, n] : s.guests) {
    BOOST_TEST(s.before.at(pa) != zero_digest(n), "guest RAM at 0x" << std::hex << pa << " held data at the reset");
    BOOST_TEST(s.after.at(pa) == zero_digest(n), "guest RAM at 0x" << std::hex << pa << " reads as zeros");
  }
  BOOST_TEST(s.hv_before != zero_digest(16ull << 20));
  BOOST_TEST(s.hv_after == zero_digest(16ull << 20));
  BOOST_TEST(s.slb_after == zero_digest(0x10000));
}

BOOST_AUTO_TEST_CASE(without_the_mitigation_the_attacker_reads_every_guests_ram) {
  const Seen s = reset_mid_run(true);
  BOOST_TEST(s.reset.flag_was_set);
  BOOST_TEST(s.reset.scrubbed_bytes == 0u);
  for (auto [pa, n] : s.guests) {
    BOOST_TEST(s.before.at(pa) != zero_digest(n));
    BOOST_TEST(s.after.at(pa) == s.before.at(pa), "the attacker reads guest RAM at 0x" << std::hex << pa << " as it was");
  }
  BOOST_TEST(s.hv_after == s.hv_before);
}

BOOST_AUTO_TEST_CASE(after_a_normal_stop_or_a_hypervisor_failure_the_flag_is_cleared_and_ram_is_zero) {
  for (uint64_t flags : {uint64_t{0}, redoubt::abi::kBareFlagInjectFailure | (uint64_t{3} << redoubt::abi::kBareFlagInjectSliceShift)}) {
    BOOST_TEST_CONTEXT((flags ? "injected failure" : "normal stop")) {
      tools::RunOptions o;
      o.launch.engine = "native-sl";
      o.launch.hv_test_flags = flags;
      o.guests = {"sha256", "hello"};
      bool checked = false;
      o.after_run = [&](sim::Machine& m) {
        hv::RunRecord rec;
        std::memcpy(&rec, m.mem().map(kHvMemory, sizeof rec), sizeof rec);
        BOOST_TEST(rec.secrets_flag_set == 1u);
        BOOST_TEST(rec.secrets_flag_cleared == 1u);
        BOOST_TEST(!m.secrets().set());
        BOOST_TEST(m.secrets().sets() == 1u);
        const sim::WarmResetReport r = m.warm_reset();
        BOOST_TEST(r.scrubbed_bytes == 0u, "nothing left to scrub");
        for (uint32_t i = 0; i < rec.guest_count; ++i)
          BOOST_TEST(digest(m, rec.guests[i].ram_pa, rec.guests[i].ram_size) == zero_digest(rec.guests[i].ram_size));
        checked = true;
      };
      auto r = run_guests(o);
      BOOST_TEST(checked);
      BOOST_TEST(r->result.hv_failed == (flags != 0));
    }
  }
}
