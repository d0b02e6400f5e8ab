// Remanence and hypervisor failure (issue 11, docs/isolation.md): what the next untrusted code
// finds in RAM after a warm reset in the middle of a run, after a normal stop and after a
// failure of the hypervisor itself; and that such a failure is never a silent stop with
// good-looking PCRs. The victim (guest 0, mode kVictim) keeps a 4 KiB secret derived from a
// seed (secret_bytes, computed here); the attacker is the next boot's first code, which reads
// all of RAM after Machine::warm_reset (platform/sim/reset.hpp).
#include <cstring>

#include "attestation/verifier/eventlog_appraiser.hpp"
#include "hypervisor/core/entry.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

constexpr uint64_t kSeed = 0x4E4D454D00C0FFEEull;
struct ResetNow {};  // ends the old boot at the reset: none of its code runs again

// Where any 32-byte run of the secret (first, middle, last) appears in all of RAM.
std::vector<uint64_t> find_secret(sim::Machine& m, const Bytes& secret) {
  std::vector<uint64_t> at;
  const uint8_t* ram = m.mem().map(0, m.mem().size());
  for (size_t off : {size_t{0}, secret.size() / 2, secret.size() - 32}) {
    const void* p = memmem(ram, m.mem().size(), secret.data() + off, 32);
    if (p) at.push_back(uint64_t(static_cast<const uint8_t*>(p) - ram));
  }
  return at;
}

std::string where(const std::vector<uint64_t>& at) {
  std::string s;
  for (uint64_t a : at) s += (s.empty() ? "" : ", ") + hex(a);
  return s;
}

struct AfterRun {
  bool ran = false;
  sim::WarmResetReport reset;
  std::vector<uint64_t> found;  // where the attacker found the secret
  bool flag_left_set = false;
};

// After the hypervisor powered off: a warm reset, then the attacker scans RAM for the secret.
std::function<void(RunOptions&)> reset_after_run(AfterRun& a, const Bytes& secret) {
  return [&a, secret](RunOptions& o) {
    auto prev = o.after_run;
    o.after_run = [&a, secret, prev](sim::Machine& m) {
      if (prev) prev(m);
      a.ran = true;
      a.flag_left_set = m.secrets().set();
      a.reset = m.warm_reset();
      a.found = find_secret(m, secret);
    };
  };
}

std::vector<GuestSpec> victim_and_hello(uint64_t sleep_ticks) {
  return {GuestSpec{"attack", {kVictim, kSeed, sleep_ticks, 0}}, GuestSpec{"hello"}};
}

REDOUBT_ATTACK({"remanence.warm-reset-mid-run", "remanence",
                "resets the machine at the first #VMEXIT after the victim's secret is in RAM, then, as the next "
                "boot's first code, reads all of RAM for it",
                "the hypervisor set TXT.CMD.SECRETS before loading any guest (Intel TXT SDG App. B.1; TCG Platform "
                "Reset Attack Mitigation): the platform zeroes all RAM at the reset before any other code runs",
                "the platform ignores the SECRETS flag at reset (a platform without the mitigation)",
                [](Ctx& c, Checks& k) {
                  const Bytes secret = secret_bytes(kSeed);
                  const auto guests = victim_and_hello(0);
                  const uint64_t secret_pa = c.ram_of(guests)[0] + kSecretGpa;
                  bool reset = false, flag_set = false, secret_there = false;
                  sim::WarmResetReport rep;
                  std::vector<uint64_t> found;
                  try {
                    c.run(guests, nullptr, 0, 4'000'000'000ull, [&](RunOptions& o) {
                      o.on_vmrun = [&](sim::Machine& m, uint64_t, bool after) {
                        if (!after) return;
                        const uint8_t* p = m.mem().map(secret_pa, kSecretBytes);
                        if (!p || std::memcmp(p, secret.data(), secret.size()) != 0) return;
                        secret_there = true;
                        flag_set = m.secrets().set();
                        m.secrets().test_ignore_at_reset = c.off();
                        rep = m.warm_reset();
                        found = find_secret(m, secret);
                        throw ResetNow{};
                      };
                    });
                  } catch (const ResetNow&) {
                    reset = true;
                  }
                  k.need(reset && secret_there, "the run ended before the victim's secret was in RAM: no reset was made");
                  if (!reset) return;
                  k.need(flag_set, "the SECRETS flag was not set while the guests ran");
                  k.need(rep.scrubbed_bytes == 256ull << 20,
                         "the platform scrubbed " + std::to_string(rep.scrubbed_bytes) + " bytes at the reset, not all of RAM");
                  k.leak(!found.empty(), "the attacker found the victim's secret at " + where(found));
                  k.evidence()["secret_sha256"] = sha256_hex(secret);
                  k.evidence()["scrubbed_at_reset"] = rep.scrubbed_bytes;
                  k.clean("reset with the secret in RAM at " + hex(secret_pa) + ": all 256 MiB zeroed before the attacker ran");
                }});

REDOUBT_ATTACK({"remanence.after-normal-stop", "remanence",
                "after the guests ran and the hypervisor stopped normally, resets the machine and reads all of RAM for "
                "the victim's secret",
                "the hypervisor zeroes each guest's RAM as it stops and all guest RAM, its own pages and the SLB at its "
                "stop, then clears the SECRETS flag (hypervisor/core/fail_closed.cpp)",
                "kHvTestNoScrub: nothing is zeroed at the stop and the flag is cleared all the same",
                [](Ctx& c, Checks& k) {
                  const Bytes secret = secret_bytes(kSeed);
                  AfterRun a;
                  Launch L = c.run(victim_and_hello(2'000'000), nullptr, hv::kHvTestNoScrub, 4'000'000'000ull,
                                   reset_after_run(a, secret));
                  need_hv_ok(L, k);
                  need_exited(L, 0, 0, k, "victim: secret intact");
                  k.need(a.ran, "the run ended before the reset");
                  k.need(!a.flag_left_set, "the SECRETS flag was left set after a clean stop");
                  k.need(L.r.scrub_done, "the run record says the stop scrub was not done");
                  k.leak(!a.found.empty(), "the attacker found the victim's secret at " + where(a.found));
                  k.evidence()["scrubbed_guest_bytes"] = L.r.scrubbed_guest_bytes;
                  k.evidence()["scrubbed_hv_bytes"] = L.r.scrubbed_hv_bytes;
                  k.clean(std::to_string(L.r.scrubbed_guest_bytes + L.r.scrubbed_hv_bytes + L.r.scrubbed_slb_bytes) +
                          " bytes zeroed at the stop; nothing of the secret anywhere in RAM after the reset");
                }});

// A failure of the hypervisor itself (the test-only injection after the first slice, the victim's; engine native-sl,
// the only way a test flag reaches hv.bin).
Launch failed_run(Ctx& c, AfterRun& a, const Bytes& secret) {
  return c.run(victim_and_hello(0), nullptr, 0, 4'000'000'000ull, [&](RunOptions& o) {
    o.launch.engine = "native-sl";
    o.launch.hv_test_flags = hv::kHvTestInjectFailure | (uint64_t{1} << hv::kHvTestInjectSliceShift) |
                             (c.off() ? hv::kHvTestNoScrub : 0);
    reset_after_run(a, secret)(o);
  });
}

REDOUBT_ATTACK({"hv-failure.remanence", "hv-failure",
                "the hypervisor fails while the victim holds its secret; the attacker resets the machine and reads all "
                "of RAM",
                "the fail-closed stop (hypervisor/core/fail_closed.cpp): guests killed, PCR17-20 capped, all guest RAM, "
                "hypervisor pages and the SLB zeroed before the power-off",
                "kHvTestNoScrub: the failure path zeroes nothing and clears the SECRETS flag",
                [](Ctx& c, Checks& k) {
                  const Bytes secret = secret_bytes(kSeed);
                  AfterRun a;
                  Launch L = failed_run(c, a, secret);
                  k.need(L.r.hv_failed, "the injected failure did not happen: " + L.r.hv_status);
                  k.need(has(L.guest(0).serial, "victim: secret set"), "the victim never set its secret");
                  k.need(a.ran, "no run record after the failure");
                  k.leak(!a.found.empty(), "the attacker found the victim's secret at " + where(a.found));
                  k.clean("the failure (" + L.r.hv_failure + ") scrubbed " +
                          std::to_string(L.r.scrubbed_guest_bytes + L.r.scrubbed_hv_bytes + L.r.scrubbed_slb_bytes) +
                          " bytes; nothing of the secret in RAM after the reset");
                }});

REDOUBT_ATTACK({"hv-failure.capped-and-named", "hv-failure",
                "the hypervisor fails after the hand-off: would a quote still look like a normal launch?",
                "EV_REDOUBT_HV_FAILED extended into PCR17, 18, 19 and 20 at locality 2 (docs/pcr-map.md); the verifier "
                "names hypervisor_failed",
                "", [](Ctx& c, Checks& k) {
                  const Bytes secret = secret_bytes(kSeed);
                  AfterRun a;
                  Launch L = failed_run(c, a, secret);
                  k.need(L.r.hv_failed, "the injected failure did not happen: " + L.r.hv_status);
                  k.need(!L.r.launch.report.launched && L.r.launch.report.stage == "hypervisor",
                         "the launch is not reported as a hypervisor failure: " + L.r.launch.report.reason);
                  Replay r;
                  try {
                    r = replay_sha256(L.r.launch.report.event_log);
                  } catch (const std::exception& e) {
                    k.need(false, std::string("the event log does not parse: ") + e.what());
                    return;
                  }
                  for (uint32_t p = 17; p <= 20; ++p) {
                    k.need(L.pcr(p) == r.pcr[p], "PCR" + std::to_string(p) + " is not the log's replay");
                    bool last_is_cap = false;
                    for (size_t i = r.types.size(); i-- > 0;)
                      if (r.types[i].first == p) {
                        last_is_cap = r.types[i].second == policy::kEvHvFailed &&
                                      std::string(r.event_data[i].begin(), r.event_data[i].end()) == L.r.hv_failure;
                        break;
                      }
                    k.leak(!last_is_cap, "PCR" + std::to_string(p) + " does not end with EV_REDOUBT_HV_FAILED: it looks like a normal launch");
                  }
                  attest::Findings f;
                  attest::QuotedPcrs q;
                  q.selection = attest::make_selection({TPM2_ALG_SHA256}, {17, 18, 19, 20});
                  for (uint32_t p = 17; p <= 20; ++p) q.values.push_back(L.pcr(p));
                  attest::appraise_event_log(L.r.launch.report.event_log, q, nullptr, f);
                  bool named = false;
                  for (const auto& x : f.failures) named = named || (x.code == "hypervisor_failed" && has(x.message, L.r.hv_failure));
                  k.leak(!named, "the verifier does not name hypervisor_failed");
                  k.evidence()["reason"] = L.r.hv_failure;
                  k.clean("PCR17-20 end with EV_REDOUBT_HV_FAILED (\"" + L.r.hv_failure + "\"), the verifier names hypervisor_failed");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
