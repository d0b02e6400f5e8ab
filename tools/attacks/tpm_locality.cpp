// TPM locality abuse from a guest: the TIS MMIO windows at 0xFED40000 + 0x1000·L
// (TCG PC Client PTP §6.5.2). A guest that could use locality 2 or 3 could extend
// PCR17-20 after the measurements and forge the launch a verifier sees; locality 4
// (_TPM_Hash_Start) could restart the DRTM chain. No MMIO is in a guest's nested page
// tables (APM vol. 2 §15.25), so guests have no locality at all (the design gives
// them 0 only through the hypervisor, which offers none yet).
#include "abi/boot_params.hpp"
#include "hypervisor/core/entry.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tools/attacks/harness.hpp"

namespace redoubt::tools::attacks {
namespace {

constexpr uint32_t kInjectAll = sl::kGuestNpfInject | sl::kGuestNpfUnlimited;

std::string hexb(const Bytes& b) {
  if (b.empty()) return "(none)";
  static const char* k = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += k[c >> 4];
    s += k[c & 15];
  }
  return s;
}

// The PCRs the TPM holds are exactly the event log's replay (computed here, not by the
// project's parser): nothing extended PCR17-22 outside the log the hypervisor and SL wrote.
void pcrs_match_log(const Launch& L, size_t guests, Checks& k) {
  Replay r;
  try {
    r = replay_sha256(L.r.launch.report.event_log);
  } catch (const std::exception& e) {
    k.need(false, std::string("the event log does not parse: ") + e.what());
    return;
  }
  for (uint32_t p = 17; p <= 22; ++p) {
    const Bytes tpm = L.pcr(p);
    k.evidence()["pcr" + std::to_string(p)] = hexb(tpm);
    k.leak(tpm != r.pcr[p], "PCR" + std::to_string(p) + " is " + hexb(tpm) + " but the event log replays to " + hexb(r.pcr[p]) +
                                ": something extended it outside the log");
  }
  for (uint32_t p : {16u, 23u}) k.leak(L.pcr(p) != Bytes(32, 0), "PCR" + std::to_string(p) + " is no longer zero");
  // The measurements of a normal launch with these guests: one event per guest + EV_SEPARATOR in PCR19 and PCR20.
  for (uint32_t p : {19u, 20u})
    k.need(r.events[p] == guests + 1, "PCR" + std::to_string(p) + " has " + std::to_string(r.events[p]) + " events, want " +
                                          std::to_string(guests + 1));
  k.need(r.events[17] >= 3, "PCR17 has " + std::to_string(r.events[17]) + " events");
  k.clean("PCR17-22 equal the independent replay of the " + std::to_string(r.types.size()) + "-event log; PCR16/23 zero");
}

void tis(Ctx& c, Checks& k, uint64_t mask) {
  std::vector<uint64_t> want;
  for (unsigned l = 0; l < 5; ++l)
    if (mask & (1u << l)) want.push_back(kTpmTis + 0x1000ull * l);
  Watch w;
  w.attacker = 1;
  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kTpm, mask, 0, 0}, kInjectAll}}, &w, hv::kHvTestNptMapsHost);
  need_hv_ok(L, k);
  const GuestResult& a = L.guest(1);
  need_exited(L, 1, 0, k, "tpm: 0 TIS register accesses reached the TPM");
  k.need(a.violation_count == want.size(), std::to_string(a.violation_count) + " #NPF, want " + std::to_string(want.size()));
  for (size_t i = 0; i < want.size() && i < a.violations.size(); ++i)
    k.need(a.violations[i].gpa == want[i], "violation at " + hex(a.violations[i].gpa) + ", want " + hex(want[i]));
  for (const auto& l : lines(a.serial, "tpm: locality")) k.note(l);
  need_exited(L, 0, 0, k, "Hello, world!");
  pcrs_match_log(L, 2, k);
  check_watch(w, k);
}

REDOUBT_ATTACK({"tpm-locality.tis-mmio", "tpm-locality",
                "at each TIS locality window 0-3: read TPM_ACCESS, requestUse, send TPM2_PCR_Extend(17/18/19/20) "
                "through the FIFO; at locality 4 the same and _TPM_Hash_Start/Data/End",
                "the TIS MMIO is in no guest's nested page tables (APM vol. 2 §15.25): #NPF at the first access of "
                "each window; PCR17-22 stay exactly what the event log replays to",
                "kHvTestNptMapsHost: the nested tables map host-physical MMIO", [](Ctx& c, Checks& k) { tis(c, k, 0x1F); }});

REDOUBT_ATTACK({"tpm-locality.drtm-restart", "tpm-locality",
                "locality 4 only: the DRTM sequence (_TPM_Hash_Start, Data, End) that would reset PCR17-22 and "
                "measure code of the guest's choosing as if SKINIT had",
                "no MMIO for guests (APM vol. 2 §15.25); behind that, the TIS ignores software at locality 4 "
                "(PTP §6.5.2.1: only the CPU's SKINIT/SENTER reaches it)",
                "", [](Ctx& c, Checks& k) { tis(c, k, 0x10); }});

}  // namespace
}  // namespace redoubt::tools::attacks
