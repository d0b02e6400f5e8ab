// Replay of old, validly signed inputs by the untrusted pre-launch loader: a hypervisor
// manifest, a guest manifest or a launch policy from before the owner raised the floor.
// Signatures still verify, so only anti-rollback stops them: the TPM NV counters
// (TPM 2.0 Part 1 §37 NV counters: they only go up) that the SL checks for the
// hypervisor (docs/running.md "Anti-rollback") and the hypervisor for each guest name
// (docs/trust-model.md "Guest SVN counters"). The protection-off run leaves the counter
// where it was (the owner's advance step skipped), which is what the counter is for.
#include <openssl/evp.h>

#include "hypervisor/core/entry.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "tools/attacks/harness.hpp"
#include "tools/common.hpp"
#include "tools/demo_keys.hpp"
#include "tools/guest_signing.hpp"
#include "tools/launch_job.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tools::attacks {
namespace {
namespace fs = std::filesystem;

uint32_t guest_counter(const std::string& name) {
  uint8_t md[32];
  unsigned len = 0;
  EVP_Digest(name.data(), name.size(), md, &len, EVP_sha256(), nullptr);
  return policy::kNvGuestSvnBase + md[0];  // policy/fs/pcr_map.hpp: base + SHA-256(name)[0]
}

// Raises an NV counter to `to` (defining it first), as `redoubt svn advance` does.
void advance(tpm::TpmDevice& t, uint32_t index, uint64_t to) {
  t.set_locality(0);
  if (!t.nv_read_counter(index)) t.nv_define_counter(index);
  while (t.nv_read_counter(index).value_or(0) < to) t.nv_increment(index);
}

LaunchJobResult launch(Ctx& c, const fs::path& manifest, const std::string& out) {
  LaunchOptions lo;
  const fs::path b = build_dir();
  lo.out = (c.dir() / out).string();
  lo.state = (c.dir() / "state").string();
  lo.sl = (b / "sl.bin").string();
  lo.sl_stage2 = (b / "sl2.bin").string();
  lo.hypervisor = (b / "hv.bin").string();
  lo.manifest = manifest.string();
  lo.hv_key = ensure_demo_key(c.dir() / "state", [](const std::string&) {}).public_pem.string();
  std::vector<std::string> console;
  return run_launch_job(lo, c.tpm(), [&](const std::string& l) {
    console.push_back(l);
    c.say(l);
  });
}

fs::path sign_hv(Ctx& c, uint64_t svn, const std::string& version) {
  const DemoKey key = ensure_demo_key(c.dir() / "state", [](const std::string&) {});
  policy::HvManifestInput mi;
  mi.version = version;
  mi.svn = svn;
  const auto image = read_file(build_dir() / "hv.bin", input::kHvImage);
  const fs::path p = c.dir() / ("hv-svn" + std::to_string(svn) + ".manifest");
  write_file(p, policy::sign_hv_manifest(image, mi, policy::load_private_key(key.private_pem.string())));
  return p;
}

REDOUBT_ATTACK({"replay.hv-manifest-svn", "replay",
                "the loader presents the validly signed manifest of the previous hypervisor release (SVN 1) after "
                "the owner advanced the anti-rollback counter to 2",
                "the SL compares the manifest's SVN with the TPM NV counter 0x01500000 before the hypervisor runs, "
                "refuses, and caps PCR17/18 with a failure event (docs/running.md \"Anti-rollback\")",
                "the owner's `svn advance` skipped: the counter stays at 1", [](Ctx& c, Checks& k) {
                  const fs::path old_m = sign_hv(c, 1, "0.0.9"), cur_m = sign_hv(c, 2, "0.1.0");
                  if (!c.off()) advance(c.tpm(), policy::kNvHvSvnCounter, 2);
                  const uint64_t counter = c.tpm().nv_read_counter(policy::kNvHvSvnCounter).value_or(0);
                  k.evidence()["nv_counter"] = counter;
                  const LaunchJobResult old_r = launch(c, old_m, "old");
                  const auto& rep = old_r.report;
                  k.need(!rep.hypervisor_entered, "the SVN-1 hypervisor was entered with the counter at " + std::to_string(counter));
                  k.need(rep.stage == "sl" && has(rep.reason, "below the anti-rollback counter"),
                         "refused for another reason: " + rep.stage + ": " + rep.reason);
                  k.leak(rep.hypervisor_entered, "the rolled-back hypervisor ran and was measured as if current");
                  try {
                    const Replay r = replay_sha256(rep.event_log);
                    bool capped = false;
                    for (const auto& [pcr, type] : r.types) capped |= pcr == 17 && type == policy::kEvLaunchFailed;
                    k.need(capped, "no failure event capped PCR17");
                    const auto it = old_r.pcrs.find(HashAlg::sha256);
                    k.need(it != old_r.pcrs.end() && it->second.at(17) == r.pcr.at(17), "PCR17 is not what the log replays to");
                  } catch (const std::exception& e) {
                    k.need(false, std::string("event log: ") + e.what());
                  }
                  // Control: the current release launches on the same TPM, so the refusal is the SVN's.
                  const LaunchJobResult cur = launch(c, cur_m, "current");
                  k.need(cur.report.hypervisor_entered, "the current SVN-2 hypervisor was not entered either: " + cur.report.reason);
                  k.note("counter " + std::to_string(counter) + ": SVN 1 " +
                         (rep.hypervisor_entered ? std::string("ENTERED") : "refused (" + rep.reason + ")") +
                         "; SVN 2 " + (cur.report.hypervisor_entered ? "entered" : "refused"));
                }});

// A guest (hello) signed at SVN `svn`, its name's counter at `counter` (0: never defined).
REDOUBT_ATTACK({"replay.guest-manifest-svn", "replay",
                "the loader presents a validly signed hello guest manifest of SVN 1 after the owner advanced the "
                "guest name's counter to 2",
                "the hypervisor reads the name's TPM NV counter (0x01500100 + SHA-256(name)[0]) and refuses the "
                "guest as `rollback` before its first instruction; the refusal is measured into PCR19/20 and its RAM "
                "scrubbed (docs/trust-model.md)",
                "the owner's `svn advance --guest` skipped: no floor", [](Ctx& c, Checks& k) {
                  if (!c.off()) advance(c.tpm(), guest_counter("hello"), 2);
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kVictim, 1, 1000, 0}}}, nullptr, 0,
                                   4'000'000'000ull, [](RunOptions& o) { o.guest_svn = 1; });
                  need_hv_ok(L, k);
                  const GuestResult& g = L.guest(0);
                  k.need(g.admission == "refused" && g.refusal == "rollback",
                         "hello SVN 1 was " + g.admission + (g.refusal.empty() ? "" : " (" + g.refusal + ")"));
                  k.need(g.scrubbed, "the refused guest's RAM was not scrubbed");
                  k.leak(g.status == "exited" || has(g.serial, "Hello"), "the rolled-back guest ran");
                  try {
                    const Replay r = replay_sha256(L.r.launch.report.event_log);
                    unsigned refused = 0;
                    for (size_t i = 0; i < r.types.size(); ++i)
                      if (r.types[i].second == policy::kEvGuestRefused &&
                          has(std::string(r.event_data[i].begin(), r.event_data[i].end()), "rollback"))
                        ++refused;
                    k.need(refused == 2, std::to_string(refused) + " rollback refusal events, want 2 (PCR19 and PCR20)");
                    k.need(L.pcr(19) == r.pcr.at(19) && L.pcr(20) == r.pcr.at(20), "PCR19/20 differ from the log's replay");
                  } catch (const std::exception& e) {
                    k.need(false, std::string("event log: ") + e.what());
                  }
                  k.note("hello SVN 1: " + g.admission + (g.refusal.empty() ? "" : " as " + g.refusal) + ", status " + g.status);
                }});

REDOUBT_ATTACK({"replay.old-launch-policy", "replay",
                "the owner issued policy 2 (min_svn hello = 3) and advanced hello's counter to 3; the loader replays "
                "the still validly signed policy 1 (min_svn hello = 1) with a hello manifest of SVN 2",
                "the guest name's TPM NV counter survives policy rollbacks (docs/trust-model.md): refused as "
                "`rollback`; PCR17 records the replayed policy's payload, which a verifier's policy list rejects",
                "the owner's `svn advance --guest` skipped: only the (replayed) policy's floor", [](Ctx& c, Checks& k) {
                  const fs::path pki = ensure_demo_pki(c.dir() / "state", [](const std::string&) {});
                  policy::LaunchPolicyInput p1;
                  p1.name = "corp-policy";
                  p1.serial = 1;
                  p1.time = uint64_t(time(nullptr));
                  p1.anchors.push_back(policy::cert_der(policy::load_cert((pki / "root.crt.pem").string()).get()));
                  p1.min_svn["hello"] = 1;
                  policy::LaunchPolicyInput p2 = p1;
                  p2.serial = 2;
                  p2.min_svn["hello"] = 3;
                  const auto owner = policy::load_private_key((pki / "owner.key.pem").string());
                  const auto v1 = policy::sign_launch_policy(p1, owner);
                  write_file(c.dir() / "policy-1.cose", v1);
                  write_file(c.dir() / "policy-2.cose", policy::sign_launch_policy(p2, owner));
                  const Bytes payload1 = policy::build_launch_policy_payload(p1);
                  if (!c.off()) advance(c.tpm(), guest_counter("hello"), 3);
                  Launch L = c.run({GuestSpec{"hello"}, GuestSpec{"attack", {kVictim, 1, 1000, 0}}}, nullptr, 0,
                                   4'000'000'000ull, [&](RunOptions& o) {
                                     o.guest_svn = 2;
                                     o.launch.policy = (c.dir() / "policy-1.cose").string();
                                     o.launch.owner = (pki / "owner.pub.pem").string();
                                   });
                  need_hv_ok(L, k);
                  const GuestResult& g = L.guest(0);
                  k.need(g.admission == "refused" && g.refusal == "rollback",
                         "hello SVN 2 under the replayed policy was " + g.admission + (g.refusal.empty() ? "" : " (" + g.refusal + ")"));
                  k.leak(g.status == "exited" || has(g.serial, "Hello"), "the guest below the owner's floor ran");
                  try {
                    const Replay r = replay_sha256(L.r.launch.report.event_log);
                    bool seen = false;
                    for (size_t i = 0; i < r.types.size(); ++i)
                      seen |= r.types[i] == std::pair<uint32_t, uint32_t>{17, policy::kEvLaunchPolicy} && r.event_data[i] == payload1;
                    k.need(seen, "PCR17's launch-policy event is not policy 1's payload (SHA-256 " + sha256_hex(payload1) + ")");
                    k.need(L.pcr(17) == r.pcr.at(17), "PCR17 differs from the log's replay");
                    k.evidence()["replayed_policy_payload_sha256"] = sha256_hex(payload1);
                  } catch (const std::exception& e) {
                    k.need(false, std::string("event log: ") + e.what());
                  }
                  k.note("hello SVN 2 under policy 1: " + g.admission + (g.refusal.empty() ? "" : " as " + g.refusal) +
                         "; PCR17 names policy 1 (payload SHA-256 " + sha256_hex(payload1).substr(0, 16) + "...)");
                }});

}  // namespace
}  // namespace redoubt::tools::attacks
