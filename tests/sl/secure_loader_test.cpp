// The secure loader, run natively on the simulated platform with a real
// (in-process libtpms) TPM. Expected PCR values are computed here, with
// OpenSSL, from the inputs and the documented event sequence (docs/pcr-map.md).
#define BOOST_TEST_MODULE secure_loader
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"
#include "abi/slb_layout.hpp"
#include "tests/support/launch_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

struct Run {
  sim::LaunchReport report;
  Bytes pcr17, pcr18, pcr17_384, pcr18_384;
  std::vector<std::string> console;
};

Run launch(const sim::LaunchInputs& in, const fs::path& state, std::unique_ptr<tpm::TpmDevice>* keep = nullptr,
           sim::Machine* machine = nullptr) {
  auto tpm = fresh_inproc_tpm(state);
  sim::Machine local;
  sim::Machine& m = machine ? *machine : local;
  Run r;
  r.report = sim::measured_launch(m, *tpm, in, [&](std::string_view l) { r.console.emplace_back(l); });
  r.pcr17 = read_pcr(*tpm, HashAlg::sha256, 17);
  r.pcr18 = read_pcr(*tpm, HashAlg::sha256, 18);
  r.pcr17_384 = read_pcr(*tpm, HashAlg::sha384, 17);
  r.pcr18_384 = read_pcr(*tpm, HashAlg::sha384, 18);
  if (keep) *keep = std::move(tpm);
  return r;
}

uint16_t slb_length(const Bytes& slb) {
  uint16_t len;
  std::memcpy(&len, slb.data() + 2, 2);
  return len;
}

// PCR17 / PCR18 of a good launch, from first principles (docs/pcr-map.md).
std::pair<Bytes, Bytes> expected_launch_pcrs(const char* alg, const LaunchKit& kit, const Bytes& slb_region) {
  size_t n = sha(alg, Bytes{}).size();
  Bytes measured(slb_region.begin(), slb_region.begin() + slb_length(slb_region));
  Bytes sep = {0, 0, 0, 0};
  Bytes p17 = extend(alg, zeros(n), sha(alg, measured));  // the CPU, at locality 4
  p17 = extend(alg, p17, sha(alg, kit.payload));           // EV_REDOUBT_HV_MANIFEST
  p17 = extend(alg, p17, sha(alg, kit.hv_image));          // EV_REDOUBT_HV_IMAGE
  p17 = extend(alg, p17, sha(alg, sep));                   // EV_SEPARATOR
  Bytes key(kit.pub.sec1, kit.pub.sec1 + kit.pub.sec1_len);
  Bytes p18 = extend(alg, zeros(n), sha(alg, key));        // EV_REDOUBT_HV_SIGNER
  p18 = extend(alg, p18, sha(alg, sep));
  return {p17, p18};
}

// After a refusal by the SL: PCR17 = H(H(0 || H(SLB)) || H(reason)), PCR18 = H(0 || H(reason)).
// The reason is the event data of the EV_REDOUBT_LAUNCH_FAILED event.
std::string failed_reason_and_check(const Run& r) {
  policy::EventLog log = policy::parse_event_log(r.report.event_log);
  BOOST_REQUIRE_GE(log.events.size(), 3u);
  const auto& f17 = log.events[log.events.size() - 2];
  const auto& f18 = log.events.back();
  BOOST_TEST(f17.type == policy::kEvLaunchFailed);
  BOOST_TEST(f18.type == policy::kEvLaunchFailed);
  BOOST_TEST(f17.pcr == 17u);
  BOOST_TEST(f18.pcr == 18u);
  BOOST_TEST(f17.data == f18.data);
  Bytes measured(r.report.slb_region.begin(), r.report.slb_region.begin() + slb_length(r.report.slb_region));
  Bytes want17 = extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", measured)), sha("SHA256", f17.data));
  BOOST_TEST(hex(r.pcr17) == hex(want17));
  BOOST_TEST(hex(r.pcr18) == hex(extend("SHA256", zeros(32), sha("SHA256", f18.data))));
  return std::string(f17.data.begin(), f17.data.end());
}

void expect_sl_refusal(const sim::LaunchInputs& in, const std::string& reason_fragment) {
  TempDir state;
  Run r = launch(in, state.path());
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  BOOST_TEST(r.report.stage == "sl");
  BOOST_TEST_INFO("reason: " << r.report.reason);
  BOOST_TEST(r.report.reason.find(reason_fragment) != std::string::npos);
  std::string logged = failed_reason_and_check(r);
  BOOST_TEST(logged.find(reason_fragment) != std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_CASE(good_launch_pcrs_match_independent_computation) {
  LaunchKit kit;
  TempDir state;
  Run r = launch(kit.inputs(), state.path());
  BOOST_TEST_INFO("reason: " << r.report.reason);
  BOOST_REQUIRE(r.report.launched);
  BOOST_TEST(r.report.hypervisor_entered);
  // slb.bin is the 64 KiB region; its measured prefix is exactly the sealed SL image.
  BOOST_REQUIRE_EQUAL(r.report.slb_region.size(), 65536u);
  BOOST_TEST(slb_length(r.report.slb_region) == kit.sl_sealed.size());
  BOOST_TEST(std::equal(kit.sl_sealed.begin(), kit.sl_sealed.end(), r.report.slb_region.begin()));

  auto [p17, p18] = expected_launch_pcrs("SHA256", kit, r.report.slb_region);
  BOOST_TEST(hex(r.pcr17) == hex(p17));
  BOOST_TEST(hex(r.pcr18) == hex(p18));
  auto [q17, q18] = expected_launch_pcrs("SHA384", kit, r.report.slb_region);
  BOOST_TEST(hex(r.pcr17_384) == hex(q17));
  BOOST_TEST(hex(r.pcr18_384) == hex(q18));
}

BOOST_AUTO_TEST_CASE(event_log_order_and_replay_equal_the_tpm) {
  LaunchKit kit;
  TempDir state;
  std::unique_ptr<tpm::TpmDevice> tpm;
  Run r = launch(kit.inputs(), state.path(), &tpm);
  BOOST_REQUIRE(r.report.launched);
  policy::EventLog log = policy::parse_event_log(r.report.event_log);
  std::vector<std::pair<uint32_t, uint32_t>> want = {
      {17, policy::kEvSkinitSlb}, {17, policy::kEvHvManifest}, {17, policy::kEvHvImage},
      {18, policy::kEvHvSigner},  {17, policy::kEvSeparator},  {18, policy::kEvSeparator}};
  BOOST_REQUIRE_EQUAL(log.events.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST(log.events[i].pcr == want[i].first);
    BOOST_TEST(log.events[i].type == want[i].second);
  }
  // Manifest event data is the signed payload, and its digest is the payload's hash.
  BOOST_TEST(log.events[1].data == kit.payload);
  Bytes key(kit.pub.sec1, kit.pub.sec1 + kit.pub.sec1_len);
  BOOST_TEST(log.events[3].data == key);
  // Every bank the TPM has is in the log and replays to the TPM's value.
  auto replay = policy::replay_event_log(log);
  auto tpm_values = tpm->pcr_read({17, 18});
  BOOST_TEST(replay.size() == tpm_values.size());
  for (auto& [alg, pcrs] : tpm_values)
    for (auto& [pcr, value] : pcrs) BOOST_TEST(hex(replay.at(alg).at(pcr)) == hex(value));
}

BOOST_AUTO_TEST_CASE(bad_signature_is_refused_and_capped) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.manifest.back() ^= 0x01;  // last byte of the raw r||s signature
  expect_sl_refusal(in, "bad-signature");
}

BOOST_AUTO_TEST_CASE(manifest_from_another_key_is_refused) {
  LaunchKit kit;
  policy::EvpKey other = policy::generate_key("P-256");
  auto in = kit.inputs();
  in.manifest = kit.sign(kit.hv_image, 2, other);
  expect_sl_refusal(in, "wrong-key");
}

BOOST_AUTO_TEST_CASE(truncated_and_garbage_manifests_are_refused) {
  LaunchKit kit;
  for (size_t cut : {size_t(1), size_t(10), kit.manifest.size() / 2, kit.manifest.size() - 1}) {
    auto in = kit.inputs();
    in.manifest.resize(cut);
    BOOST_TEST_CONTEXT("truncated to " << cut) expect_sl_refusal(in, "malformed");
  }
  auto in = kit.inputs();
  in.manifest.assign(300, 0xA5);
  expect_sl_refusal(in, "malformed");
}

BOOST_AUTO_TEST_CASE(manifest_for_another_image_is_a_digest_mismatch) {
  LaunchKit kit;
  Bytes other = kit.hv_image;
  other[100] ^= 0xFF;
  auto in = kit.inputs();
  in.manifest = kit.sign(other, 2, kit.key);
  expect_sl_refusal(in, "digest-mismatch");
}

BOOST_AUTO_TEST_CASE(tampered_hypervisor_image_is_refused) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.hv_image[in.hv_image.size() / 2] ^= 0x01;
  expect_sl_refusal(in, "digest-mismatch");
  in = kit.inputs();
  in.hv_image.push_back(0);  // appended bytes: size differs from the manifest
  expect_sl_refusal(in, "digest-mismatch");
}

BOOST_AUTO_TEST_CASE(unsealed_slb_is_refused) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.sl_image = read_file(build_dir() / "sl.bin");  // key slot empty
  expect_sl_refusal(in, "no hypervisor-signing key");
}

BOOST_AUTO_TEST_CASE(svn_below_counter_is_refused_and_survives_reboot) {
  LaunchKit kit;
  TempDir state;
  {
    auto tpm = fresh_inproc_tpm(state.path());
    while (tpm->nv_read_counter(policy::kNvHvSvnCounter).value() < 5) tpm->nv_increment(policy::kNvHvSvnCounter);
  }
  auto in = kit.inputs();
  in.manifest = kit.sign(kit.hv_image, 3, kit.key);
  for (int boot = 0; boot < 2; ++boot) {  // the counter is in NV: a "reboot" keeps it
    Run r = launch(in, state.path());
    BOOST_TEST(!r.report.launched);
    BOOST_TEST(r.report.reason.find("rollback") != std::string::npos);
    BOOST_TEST(r.report.reason.find("SVN 3 is below the anti-rollback counter 5") != std::string::npos);
    failed_reason_and_check(r);
  }
  in.manifest = kit.sign(kit.hv_image, 5, kit.key);  // equal to the counter: accepted
  Run ok = launch(in, state.path());
  BOOST_TEST(ok.report.launched);
}

BOOST_AUTO_TEST_CASE(unprovisioned_counter_is_refused) {
  LaunchKit kit;
  TempDir state;
  tpm::TpmSpec spec;
  spec.kind = tpm::TpmSpec::Kind::inproc;
  spec.state_dir = state.path().string();
  auto tpm = tpm::open_tpm(spec);
  sim::Machine m;
  auto r = sim::measured_launch(m, *tpm, kit.inputs(), [](std::string_view) {});
  BOOST_TEST(!r.launched);
  BOOST_TEST(r.reason.find("not provisioned") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(hostile_boot_params_are_refused) {
  LaunchKit kit;
  // The untrusted loader points the event log at the hypervisor image: the SL
  // must refuse rather than write its log over what it is about to measure.
  auto in = kit.inputs();
  in.layout.event_log = in.layout.hv_image;
  TempDir state;
  Run r = launch(in, state.path());
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  const std::string reason = "malformed: boot params: event log, image and manifest regions overlap";
  BOOST_TEST(r.report.reason == reason);
  BOOST_TEST(r.report.event_log.empty());  // no log could be trusted, but both PCRs are capped
  Bytes measured(r.report.slb_region.begin(), r.report.slb_region.begin() + slb_length(r.report.slb_region));
  Bytes want17 = extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", measured)), sha("SHA256", reason));
  BOOST_TEST(hex(r.pcr17) == hex(want17));
  BOOST_TEST(hex(r.pcr18) == hex(extend("SHA256", zeros(32), sha("SHA256", reason))));
}

BOOST_AUTO_TEST_CASE(full_event_log_still_caps_the_pcrs) {
  LaunchKit kit;
  auto in = kit.inputs();
  in.layout.event_log_size = 160;  // room for the Spec ID header, not for the first record
  TempDir state;
  Run r = launch(in, state.path());
  BOOST_TEST(!r.report.launched);
  BOOST_TEST(!r.report.hypervisor_entered);
  BOOST_TEST(r.report.reason.find("buffer full") != std::string::npos);
  // The cap reached the TPM although the log could not record it.
  Bytes measured(r.report.slb_region.begin(), r.report.slb_region.begin() + slb_length(r.report.slb_region));
  Bytes want17 = extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", measured)), sha("SHA256", r.report.reason));
  BOOST_TEST(hex(r.pcr17) == hex(want17));
  BOOST_TEST(hex(r.pcr18) == hex(extend("SHA256", zeros(32), sha("SHA256", r.report.reason))));
}

// Issue 4: the owner-signed launch policy. The owner key goes into the SLB's
// owner slot (measured); the SL verifies the policy and measures its payload
// into PCR17 and its anchors into PCR18, before the separators.
namespace {

void seal_owner(Bytes& sl, const policy::PublicKey& k) {
  sl::SlbHeader h;
  std::memcpy(&h, sl.data(), sizeof h);
  BOOST_REQUIRE(h.owner_slot_offset != 0);
  sl::SlbKeySlot slot{};
  std::memcpy(slot.magic, sl::kOwnerSlotMagic, 8);
  slot.cose_alg = int32_t(k.alg);
  slot.sec1_len = uint16_t(k.sec1_len);
  std::memcpy(slot.sec1, k.sec1, k.sec1_len);
  std::memcpy(sl.data() + h.owner_slot_offset, &slot, sizeof slot);
}

struct PolicyKit {
  LaunchKit kit;
  policy::EvpKey owner = policy::generate_signing_key("P-256");
  policy::EvpKey root_key = policy::generate_signing_key("P-256");
  Bytes root;
  policy::LaunchPolicyInput pin;
  PolicyKit() {
    policy::CertSpec spec{.cn = "SL Test Root", .not_before = 1700000000, .not_after = 1900000000};
    spec.ca = true;
    spec.ku_bits = policy::kKuKeyCertSign;
    root = policy::cert_der(policy::issue_cert(spec, root_key, nullptr, root_key).get());
    pin.time = 1800000000;
    pin.anchors = {root};
  }
  sim::LaunchInputs inputs(const policy::EvpKey& signer, bool seal = true) {
    sim::LaunchInputs in = kit.inputs();
    if (seal) seal_owner(in.sl_image, policy::cose_public_key(owner));
    in.launch_policy = policy::sign_launch_policy(pin, signer);
    return in;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(launch_policy_is_measured_into_pcr17_and_its_anchors_into_pcr18) {
  PolicyKit pk;
  TempDir state;
  sim::LaunchInputs in = pk.inputs(pk.owner);
  Run r = launch(in, state.path());
  BOOST_REQUIRE_MESSAGE(r.report.launched, r.report.reason);
  const Bytes measured(r.report.slb_region.begin(), r.report.slb_region.begin() + slb_length(r.report.slb_region));
  BOOST_TEST(std::equal(in.sl_image.begin(), in.sl_image.end(), measured.begin()));  // the owner key is measured
  const Bytes sep = {0, 0, 0, 0}, payload = policy::build_launch_policy_payload(pk.pin);
  Bytes p17 = extend("SHA256", zeros(32), sha("SHA256", measured));
  p17 = extend("SHA256", p17, sha("SHA256", pk.kit.payload));
  p17 = extend("SHA256", p17, sha("SHA256", pk.kit.hv_image));
  p17 = extend("SHA256", p17, sha("SHA256", payload));  // EV_REDOUBT_LAUNCH_POLICY
  p17 = extend("SHA256", p17, sha("SHA256", sep));
  Bytes key(pk.kit.pub.sec1, pk.kit.pub.sec1 + pk.kit.pub.sec1_len);
  Bytes p18 = extend("SHA256", zeros(32), sha("SHA256", key));
  p18 = extend("SHA256", p18, sha("SHA256", pk.root));  // EV_REDOUBT_GUEST_ANCHOR
  p18 = extend("SHA256", p18, sha("SHA256", sep));
  BOOST_TEST(hex(r.pcr17) == hex(p17));
  BOOST_TEST(hex(r.pcr18) == hex(p18));
}

BOOST_AUTO_TEST_CASE(launch_policy_without_a_sealed_owner_key_is_refused) {
  PolicyKit pk;
  expect_sl_refusal(pk.inputs(pk.owner, false), "no platform owner key is sealed");
}

BOOST_AUTO_TEST_CASE(launch_policy_by_another_key_is_refused) {
  PolicyKit pk;
  policy::EvpKey stranger = policy::generate_signing_key("P-256");
  expect_sl_refusal(pk.inputs(stranger), "launch policy");
}

BOOST_AUTO_TEST_CASE(garbage_and_truncated_launch_policies_are_refused) {
  PolicyKit pk;
  sim::LaunchInputs in = pk.inputs(pk.owner);
  const Bytes good = in.launch_policy;
  in.launch_policy = Bytes(good.begin(), good.begin() + good.size() / 2);
  expect_sl_refusal(in, "launch policy");
  in.launch_policy = Bytes(300, 0xA5);
  expect_sl_refusal(in, "launch policy");
}
