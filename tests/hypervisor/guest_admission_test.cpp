// Issue 4 end to end: the SL measures the owner-signed launch policy, the
// hypervisor admits or refuses each guest before its first instruction and
// measures the outcome into PCR19/20. Every refusal case asserts its own name
// in run.json, that nothing of the guest ran, and that the refusal is in the
// TPM (the PCRs equal a replay computed here with OpenSSL).
#define BOOST_TEST_MODULE guest_admission
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "policy/fs/pcr_map.hpp"
#include "abi/boot_params.hpp"
#include "policy/host/cose_sign.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "tests/hypervisor/run_support.hpp"
#include "tests/policy/pki_fixture.hpp"

using namespace redoubt;
using namespace redoubt::test;
using pki_test::Pki;
using policy::Bytes;

namespace {

// CBOR (RFC 8949 §3.1) heads, written here independently of the code under test.
Bytes cbor_head(uint8_t major, uint64_t n) {
  Bytes b;
  const uint8_t m = uint8_t(major << 5);
  if (n < 24) {
    b.push_back(uint8_t(m | n));
  } else if (n < 0x100) {
    b = {uint8_t(m | 24), uint8_t(n)};
  } else if (n < 0x10000) {
    b = {uint8_t(m | 25), uint8_t(n >> 8), uint8_t(n)};
  } else {
    b = {uint8_t(m | 26), uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  }
  return b;
}
Bytes x5chain_cbor(const std::vector<Bytes>& certs) {
  Bytes out = cbor_head(4, certs.size());
  for (const Bytes& c : certs) {
    Bytes h = cbor_head(2, c.size());
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}
std::string read_file_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
const Bytes kSep = {0, 0, 0, 0};

// A run with one guest under a policy of our making.
struct World {
  TempDir dir;
  Pki pki{"P-256", "Corp"};
  policy::EvpKey owner;
  policy::LaunchPolicyInput pin = pki_test::policy_input(pki);
  policy::GuestManifestInput gin = pki_test::guest_input(7);
  Bytes kernel = read_file(build_dir() / "guests" / "hello.bin");
  uint64_t nv_floor = 0;  // > 0: advance the guest's TPM counter to this before the run
  Bytes initrd;           // non-empty: signed into the manifest
  Bytes initrd_loaded;    // non-empty: loaded as KERNEL:MANIFEST:INITRD
  bool loader_follows_manifest = true;  // false: the loader gives --ram-mib (8 MiB) whatever the manifest says
  std::vector<std::string> console;
  tools::RunResult result;

  World() {
    policy::generate_key_files("P-256", (dir / "owner").string());
    owner = policy::load_private_key((dir / "owner.key.pem").string());
    gin.memory_mib = 8;  // the run's --ram-mib
  }
  Bytes sign(const std::vector<Bytes>& chain, const policy::EvpKey& key) const {
    return policy::sign_guest_manifest(kernel, initrd.empty() ? nullptr : &initrd, gin, key, chain);
  }
  Bytes good() const { return sign(pki.chain(), pki.leaf_key); }

  // Runs `hello` (the kernel file below) with `manifest` (empty: unsigned) under pin.
  const tools::GuestResult& run(const Bytes& manifest, const Bytes* kernel_override = nullptr,
                                bool with_policy = true) {
    run_raw(policy::sign_launch_policy(pin, owner), manifest, kernel_override, with_policy);
    BOOST_REQUIRE(result.launch.report.launched);
    BOOST_REQUIRE_EQUAL(result.guests.size(), 1u);
    return result.guests[0];
  }

  // The same with a launch policy of the caller's making, and no expectations.
  const tools::RunResult& run_raw(const Bytes& policy_cose, const Bytes& manifest, const Bytes* kernel_override = nullptr,
                                  bool with_policy = true) {
    write_file(dir / "launch.policy", policy_cose);
    write_file(dir / "hello.bin", kernel_override ? *kernel_override : kernel);
    tools::RunOptions o = default_run_options(dir / "out", dir / "state");
    o.launch.policy = with_policy ? (dir / "launch.policy").string() : "";
    o.launch.owner = (dir / "owner.pub.pem").string();
    o.no_policy = !with_policy;
    o.ram_from_manifest = loader_follows_manifest;
    if (manifest.empty()) {
      o.guests = {(dir / "hello.bin").string()};
      o.unsigned_guests = true;
    } else {
      write_file(dir / "hello.manifest", manifest);
      o.guests = {(dir / "hello.bin").string() + ":" + (dir / "hello.manifest").string()};
      if (!initrd_loaded.empty()) {
        write_file(dir / "hello.initrd", initrd_loaded);
        o.guests[0] += ":" + (dir / "hello.initrd").string();
      }
    }
    auto tpm = fresh_inproc_tpm(dir / "state");
    if (nv_floor) {
      const Bytes d = sha("SHA256", gin.name);
      const uint32_t index = policy::kNvGuestSvnBase + d[0];
      tpm->nv_define_counter(index);
      while (tpm->nv_read_counter(index).value() < nv_floor) tpm->nv_increment(index);
    }
    result = tools::run_guests_job(o, *tpm, [&](const std::string& l) { console.push_back(l); });
    return result;
  }

  policy::EventLog log() const { return policy::parse_event_log(read_file(dir / "out" / "eventlog.bin")); }
  Bytes pcr(uint32_t i) const {
    return result.launch.pcrs.at(HashAlg::sha256).at(i);
  }
};

// PCR19/20 from first principles: zeros (reset by the locality-4 DRTM sequence),
// extended with SHA-256 of each event's data, then the separator.
Bytes replay(const std::vector<Bytes>& event_data) {
  Bytes v = zeros(32);
  for (const Bytes& d : event_data) v = extend("SHA256", v, sha("SHA256", d));
  return extend("SHA256", v, sha("SHA256", kSep));
}

// Refused: the name in run.json, nothing ran, and the refusal measured into PCR19 and PCR20.
void check_refused(World& w, const tools::GuestResult& g, const std::string& refusal) {
  BOOST_TEST(g.status == "refused");
  BOOST_TEST(g.admission == "refused");
  BOOST_TEST(g.refusal == refusal, "refusal " << g.refusal << " (" << g.reason << ")");
  BOOST_TEST(g.reason.rfind(refusal + ": ", 0) == 0u, g.reason);
  BOOST_TEST(g.reason.size() > refusal.size() + 4);  // a detail after the name
  BOOST_TEST(g.vmruns == 0u);
  BOOST_TEST(g.instructions == 0u);
  BOOST_TEST(g.exits_total == 0u);
  BOOST_TEST(g.serial.empty());
  const nlohmann::json j = nlohmann::json::parse(read_file_text(w.dir / "out" / "run.json"));
  BOOST_TEST(j["guests"][0]["status"] == "refused");
  BOOST_TEST(j["guests"][0]["refusal"] == refusal);
  bool said = false;
  for (const auto& l : w.console) said |= l.find("REFUSED (" + refusal + ")") != std::string::npos;
  BOOST_TEST(said, "the console names the refusal");
  // The event log holds the refusal on both guest PCRs, and the TPM agrees with a replay.
  const policy::EventLog log = w.log();
  std::vector<Bytes> ev19, ev20;
  for (const auto& e : log.events) {
    if (e.pcr == 19 && e.type != policy::kEvSeparator) ev19.push_back(e.data);
    if (e.pcr == 20 && e.type != policy::kEvSeparator) ev20.push_back(e.data);
  }
  BOOST_REQUIRE_EQUAL(ev19.size(), 1u);
  BOOST_REQUIRE_EQUAL(ev20.size(), 1u);
  const std::string text(ev19[0].begin(), ev19[0].end());
  BOOST_TEST(text.find("guest hello refused: " + refusal + ": ") == 0u, text);
  BOOST_TEST(hex(w.pcr(19)) == hex(replay(ev19)));
  BOOST_TEST(hex(w.pcr(20)) == hex(replay(ev20)));
}

}  // namespace

BOOST_AUTO_TEST_CASE(signed_guest_runs_and_pcr19_20_match_an_independent_computation) {
  World w;
  w.gin.cmdline = "console=ttyS0 redoubt.test=1";
  const Bytes manifest = w.good();
  const auto& g = w.run(manifest);
  BOOST_TEST(g.status == "exited");
  BOOST_TEST(g.admission == "signed");
  BOOST_TEST(g.signed_name == "corp-linux");
  BOOST_TEST(g.svn == 7u);
  // The signed command line and SVN reached the guest's boot info.
  BOOST_TEST(g.serial.find("boot: svn 7, cmdline \"console=ttyS0 redoubt.test=1\"") != std::string::npos, g.serial);
  // PCR19 = the x5chain as carried, PCR20 = the manifest payload as signed.
  const Bytes chain = x5chain_cbor(w.pki.chain());
  const Bytes payload = policy::build_guest_manifest_payload(w.kernel, nullptr, w.gin);
  BOOST_TEST(hex(w.pcr(19)) == hex(replay({chain})));
  BOOST_TEST(hex(w.pcr(20)) == hex(replay({payload})));
  // PCR17 carries the launch policy payload, PCR18 its anchor, in the SL's order.
  const policy::EventLog log = w.log();
  bool saw_policy = false, saw_anchor = false;
  for (const auto& e : log.events) {
    if (e.type == policy::kEvLaunchPolicy) saw_policy = e.pcr == 17 && e.data == policy::build_launch_policy_payload(w.pin);
    if (e.type == policy::kEvGuestAnchor) saw_anchor = e.pcr == 18 && e.data == w.pki.root_der();
  }
  BOOST_TEST(saw_policy);
  BOOST_TEST(saw_anchor);
}

BOOST_AUTO_TEST_CASE(refused_unknown_root) {
  // The chain carries its own root, a self-signed "Corp Root CA" the policy does not trust.
  World w;
  Pki other("P-256", "Other");
  w.pin.anchors = {other.root_der()};
  std::vector<Bytes> chain = w.pki.chain();
  chain.push_back(w.pki.root_der());
  check_refused(w, w.run(w.sign(chain, w.pki.leaf_key)), "unknown_root");
}

BOOST_AUTO_TEST_CASE(refused_missing_intermediate) {
  World w;
  check_refused(w, w.run(w.sign({policy::cert_der(w.pki.leaf.get())}, w.pki.leaf_key)), "missing_intermediate");
}

BOOST_AUTO_TEST_CASE(refused_intermediate_without_ca_true) {
  World w;
  policy::CertSpec s = pki_test::ca_spec("Corp Guest Signing CA", -1);
  s.ca = false;
  s.ku_bits = policy::kKuDigitalSignature;
  auto inter = policy::issue_cert(s, w.pki.int_key, w.pki.root.get(), w.pki.root_key);
  auto leaf = policy::issue_cert(pki_test::leaf_spec("Corp Guest Signer"), w.pki.leaf_key, inter.get(), w.pki.int_key);
  check_refused(w, w.run(w.sign({policy::cert_der(leaf.get()), policy::cert_der(inter.get())}, w.pki.leaf_key)),
                "not_ca");
}

BOOST_AUTO_TEST_CASE(refused_path_length_exceeded) {
  World w;
  policy::EvpKey k2 = policy::generate_signing_key("P-256");
  auto sub = policy::issue_cert(pki_test::ca_spec("Corp Sub CA", -1), k2, w.pki.inter.get(), w.pki.int_key);
  auto leaf = policy::issue_cert(pki_test::leaf_spec("Corp Guest Signer"), w.pki.leaf_key, sub.get(), k2);
  check_refused(w,
                w.run(w.sign({policy::cert_der(leaf.get()), policy::cert_der(sub.get()),
                              policy::cert_der(w.pki.inter.get())},
                             w.pki.leaf_key)),
                "path_length");
}

BOOST_AUTO_TEST_CASE(refused_wrong_eku) {
  World w;
  policy::CertSpec s = pki_test::leaf_spec("Corp Guest Signer");
  s.eku = {"1.3.6.1.5.5.7.3.3"};  // id-kp-codeSigning
  auto leaf = policy::issue_cert(s, w.pki.leaf_key, w.pki.inter.get(), w.pki.int_key);
  check_refused(w, w.run(w.sign({policy::cert_der(leaf.get()), policy::cert_der(w.pki.inter.get())}, w.pki.leaf_key)),
                "wrong_eku");
}

BOOST_AUTO_TEST_CASE(refused_revoked_leaf) {
  World w;
  w.pin.revocations = {policy::revoke_by_serial(w.pki.inter.get(), policy::serial_content(w.pki.leaf.get()))};
  check_refused(w, w.run(w.good()), "revoked_leaf");
}

BOOST_AUTO_TEST_CASE(refused_revoked_intermediate) {
  World w;
  w.pin.revocations = {policy::revoke_by_spki(w.pki.inter.get())};
  check_refused(w, w.run(w.good()), "revoked_intermediate");
}

BOOST_AUTO_TEST_CASE(refused_tampered_kernel) {
  World w;
  Bytes evil = w.kernel;
  evil[evil.size() / 2] ^= 0x01;
  check_refused(w, w.run(w.good(), &evil), "digest_mismatch");
}

BOOST_AUTO_TEST_CASE(refused_tampered_manifest) {
  World w;
  Bytes m = w.good();
  const std::string from = w.gin.version;  // "6.1.0-redoubt" -> "6.1.9-redoubt" inside the signed payload
  auto it = std::search(m.begin(), m.end(), from.begin(), from.end());
  BOOST_REQUIRE(it != m.end());
  it[4] = '9';
  check_refused(w, w.run(m), "bad_signature");
}

BOOST_AUTO_TEST_CASE(refused_signature_by_a_key_not_in_the_chain) {
  World w;
  const Bytes payload = policy::build_guest_manifest_payload(w.kernel, nullptr, w.gin);
  policy::EvpKey stranger = policy::generate_signing_key("P-256");
  check_refused(w, w.run(policy::sign_cose_x5chain(payload, stranger, w.pki.chain(), true)), "signer_not_in_chain");
}

BOOST_AUTO_TEST_CASE(refused_svn_below_the_policy_floor) {
  World w;
  w.pin.min_svn = {{"corp-linux", 8}};
  check_refused(w, w.run(w.good()), "rollback");
}

BOOST_AUTO_TEST_CASE(refused_svn_below_the_tpm_counter_for_its_name) {
  World w;
  w.nv_floor = 9;
  const auto& g = w.run(w.good());
  check_refused(w, g, "rollback");
  BOOST_TEST(g.reason.find("TPM anti-rollback counter 9") != std::string::npos, g.reason);
}

BOOST_AUTO_TEST_CASE(refused_unsigned_guest_under_the_default_policy) {
  World w;
  check_refused(w, w.run({}), "unsigned_guest");
}

BOOST_AUTO_TEST_CASE(refused_certificate_not_yet_valid_per_policy_time) {
  World w;
  policy::CertSpec s = pki_test::leaf_spec("Corp Guest Signer");
  s.not_before = pki_test::kT0 + pki_test::kDay;  // issued for tomorrow, as the policy sees time
  auto leaf = policy::issue_cert(s, w.pki.leaf_key, w.pki.inter.get(), w.pki.int_key);
  check_refused(w, w.run(w.sign({policy::cert_der(leaf.get()), policy::cert_der(w.pki.inter.get())}, w.pki.leaf_key)),
                "not_yet_valid");
  // The same certificate is accepted once the owner signs a policy dated after its notBefore.
  World later;
  later.pin.time = pki_test::kT0 + 2 * pki_test::kDay;
  auto leaf2 = policy::issue_cert(s, later.pki.leaf_key, later.pki.inter.get(), later.pki.int_key);
  const auto& g = later.run(later.sign({policy::cert_der(leaf2.get()), policy::cert_der(later.pki.inter.get())},
                                       later.pki.leaf_key));
  BOOST_TEST(g.status == "exited");
}

BOOST_AUTO_TEST_CASE(refused_expired_certificate_per_policy_time) {
  World w;
  w.pin.time = pki_test::kT0 + 400 * pki_test::kDay;  // the leaf is valid for 365 days
  check_refused(w, w.run(w.good()), "expired");
}

BOOST_AUTO_TEST_CASE(refused_memory_other_than_signed) {
  World w;
  w.gin.memory_mib = 16;
  w.loader_follows_manifest = false;  // a loader that gives the guest 8 MiB instead
  check_refused(w, w.run(w.good()), "memory_mismatch");
  // The CLI's loader follows the manifest: the same guest runs with 16 MiB.
  World ok;
  ok.gin.memory_mib = 16;
  const auto& g = ok.run(ok.good());
  BOOST_TEST(g.status == "exited", g.reason);
  BOOST_TEST(g.ram_size == 16u << 20);
}

BOOST_AUTO_TEST_CASE(refused_without_a_launch_policy) {
  World w;
  check_refused(w, w.run(w.good(), nullptr, false), "no_launch_policy");
}

BOOST_AUTO_TEST_CASE(unsigned_guest_allowed_by_policy_runs_measured_as_unsigned) {
  World w;
  w.pin.allow_unsigned = true;
  const auto& g = w.run({});
  BOOST_TEST(g.status == "exited");
  BOOST_TEST(g.admission == "unsigned");
  // PCR19: the marker event; PCR20: the plain kernel digest (event digest = H(kernel), not H(data)).
  Bytes v19 = extend("SHA256", zeros(32), sha("SHA256", std::string("unsigned guest hello")));
  v19 = extend("SHA256", v19, sha("SHA256", kSep));
  Bytes v20 = extend("SHA256", zeros(32), sha("SHA256", w.kernel));
  v20 = extend("SHA256", v20, sha("SHA256", kSep));
  BOOST_TEST(hex(w.pcr(19)) == hex(v19));
  BOOST_TEST(hex(w.pcr(20)) == hex(v20));
  bool marker = false;
  for (const auto& e : w.log().events) marker |= e.pcr == 19 && e.type == policy::kEvGuestUnsigned;
  BOOST_TEST(marker);
}

BOOST_AUTO_TEST_CASE(launch_policy_signed_by_another_owner_caps_the_launch) {
  World w;
  policy::EvpKey stranger = policy::generate_signing_key("P-256");
  const tools::RunResult& r = w.run_raw(policy::sign_launch_policy(w.pin, stranger), w.good());
  BOOST_TEST(!r.launch.report.launched);
  BOOST_TEST(r.launch.report.stage == "sl");
  BOOST_TEST(r.launch.report.reason.find("launch policy") != std::string::npos, r.launch.report.reason);
  BOOST_TEST(r.guests.empty());  // the hypervisor never ran
  // Capped: PCR17 ends with EV_REDOUBT_LAUNCH_FAILED, and no guest PCR was touched after the reset.
  const policy::EventLog log = policy::parse_event_log(r.launch.report.event_log);
  BOOST_REQUIRE(!log.events.empty());
  BOOST_TEST(log.events.back().type == policy::kEvLaunchFailed);
  for (const auto& e : log.events) BOOST_TEST(e.pcr != 19u);
}


// The default `redoubt run`: the demo PKI (generated on first use) signs every
// default guest; PCR19/20 are recomputed here from the PKI's certificates and
// manifests built from the same inputs, not from the run's own output.
BOOST_AUTO_TEST_CASE(default_demo_runs_signed_guests_with_independent_pcr19_20) {
  auto run = run_guests(tools::RunOptions{});
  BOOST_REQUIRE(run->result.launch.report.launched);
  const fs::path pki = run->dir / "state" / "demo" / "pki";
  const std::vector<Bytes> chain = {policy::cert_der(policy::load_cert((pki / "leaf.crt.pem").string()).get()),
                                    policy::cert_der(policy::load_cert((pki / "intermediate.crt.pem").string()).get())};
  std::vector<Bytes> ev19, ev20;
  for (const std::string name : {"hello", "sha256", "mmu", "probe"}) {
    const auto& g = run->guest(name);
    BOOST_TEST(g.admission == "signed", name);
    BOOST_TEST(g.status == "exited", name << ": " << g.reason);
    policy::GuestManifestInput in;
    in.name = name;
    in.version = "1.0.0";
    in.svn = 1;
    in.memory_mib = 8;
    ev19.push_back(x5chain_cbor(chain));
    ev20.push_back(policy::build_guest_manifest_payload(read_file(build_dir() / "guests" / (name + ".bin")), nullptr, in));
  }
  BOOST_TEST(hex(run->result.launch.pcrs.at(HashAlg::sha256).at(19)) == hex(replay(ev19)));
  BOOST_TEST(hex(run->result.launch.pcrs.at(HashAlg::sha256).at(20)) == hex(replay(ev20)));
  // sha384 bank too: the same events, SHA-384.
  Bytes v = zeros(48);
  for (const Bytes& d : ev20) v = extend("SHA384", v, sha("SHA384", d));
  v = extend("SHA384", v, sha("SHA384", kSep));
  BOOST_TEST(hex(run->result.launch.pcrs.at(HashAlg::sha384).at(20)) == hex(v));
}

// Malformed manifests reach the hypervisor's parser and are refused by name;
// an oversized one is stopped by the SL's region check (the whole launch).
BOOST_AUTO_TEST_CASE(truncated_and_garbage_manifests_are_refused_as_malformed) {
  for (size_t cut : {size_t(1), size_t(40), size_t(300)}) {
    World w;
    Bytes m = w.good();
    m.resize(m.size() - cut);
    check_refused(w, w.run(m), "malformed");
  }
  World w;
  check_refused(w, w.run(Bytes(2000, 0xA7)), "malformed");
}

BOOST_AUTO_TEST_CASE(oversized_manifest_is_refused_by_the_secure_loader) {
  World w;
  Bytes m = w.good();
  m.resize(sl::kMaxGuestManifest + 1, 0);
  const tools::RunResult& r = w.run_raw(policy::sign_launch_policy(w.pin, w.owner), m);
  BOOST_TEST(!r.launch.report.launched);
  BOOST_TEST(r.launch.report.stage == "sl");
  BOOST_TEST(r.launch.report.reason.find("guest hello manifest is 32769 bytes, limit 32768") != std::string::npos,
             r.launch.report.reason);
}

// Scrub on teardown: when the hypervisor returns, every guest's RAM is zero
// (what the guests computed does not outlive them); the serial logs survive.
BOOST_AUTO_TEST_CASE(guest_ram_is_scrubbed_when_the_guests_stop) {
  tools::RunOptions o;
  o.guests = {"hello", "sha256"};
  std::vector<std::pair<uint64_t, uint64_t>> nonzero;  // (guest RAM base, first non-zero offset)
  o.after_run = [&](sim::Machine& m) {
    const sim::LaunchLayout L;
    for (uint64_t base : {uint64_t(L.guest_ram), uint64_t(L.guest_ram + (8ull << 20))}) {
      const Bytes ram = m.mem().read(base, 8ull << 20);
      auto it = std::find_if(ram.begin(), ram.end(), [](uint8_t b) { return b != 0; });
      if (it != ram.end()) nonzero.push_back({base, uint64_t(it - ram.begin())});
    }
  };
  auto run = run_guests(o);
  BOOST_REQUIRE(run->result.ran);
  BOOST_TEST(nonzero.empty(), (nonzero.empty() ? 0 : nonzero[0].second));
  for (const auto& g : run->result.guests) {
    BOOST_TEST(g.scrubbed, g.name);
    BOOST_TEST(g.status == "exited", g.name);
    BOOST_TEST(!g.serial.empty(), g.name);
  }
}

// A guest that cannot even be loaded (its image does not fit its RAM) never
// runs, and the failure is measured like a refusal, so no listed guest goes unrecorded.
BOOST_AUTO_TEST_CASE(guest_that_fails_to_load_is_measured_as_failed) {
  World w;
  w.kernel = Bytes(8u << 20, 0x90);
  const auto& g = w.run(w.good());
  BOOST_TEST(g.status == "failed");
  BOOST_TEST(g.vmruns == 0u);
  std::vector<Bytes> ev19;
  for (const auto& e : w.log().events)
    if (e.pcr == 19 && e.type == policy::kEvGuestRefused) ev19.push_back(e.data);
  BOOST_REQUIRE_EQUAL(ev19.size(), 1u);
  const std::string text(ev19[0].begin(), ev19[0].end());
  BOOST_TEST(text.find("guest hello refused: failed: ") == 0u, text);
  BOOST_TEST(text.find("does not fit") != std::string::npos, text);
  BOOST_TEST(hex(w.pcr(19)) == hex(replay(ev19)));
}

// A policy the owner did sign, but that the hypervisor's full decoder refuses
// (its anchor is not a certificate): the SL's walk measures it, and the
// hypervisor refuses every guest as policy_invalid, measured.
BOOST_AUTO_TEST_CASE(signed_but_undecodable_policy_refuses_every_guest) {
  World w;
  const std::string type = "redoubt.launch-policy/1";
  Bytes payload = {0xa2, 0x01};  // {1: type, 5: [h'00 01 02']}
  Bytes th = cbor_head(3, type.size());
  payload.insert(payload.end(), th.begin(), th.end());
  payload.insert(payload.end(), type.begin(), type.end());
  for (uint8_t b : {0x05, 0x81, 0x43, 0x00, 0x01, 0x02}) payload.push_back(b);
  w.run_raw(policy::cose_sign1_sign(payload, w.owner), w.good());
  BOOST_REQUIRE(w.result.launch.report.launched);
  BOOST_REQUIRE_EQUAL(w.result.guests.size(), 1u);
  check_refused(w, w.result.guests[0], "policy_invalid");
  // PCR17 measured exactly what the owner signed.
  bool measured = false;
  for (const auto& e : w.log().events) measured |= e.type == policy::kEvLaunchPolicy && e.data == payload;
  BOOST_TEST(measured);
}

// An initrd: signed into the manifest, loaded by the loader, copied into the
// guest's RAM after the image and checked there; the guest sees its size; a
// different initrd is a digest mismatch.
BOOST_AUTO_TEST_CASE(signed_initrd_reaches_the_guest_and_a_different_one_is_refused) {
  World w;
  w.initrd = Bytes(300000);
  for (size_t i = 0; i < w.initrd.size(); ++i) w.initrd[i] = uint8_t(i * 31 + 7);
  w.initrd_loaded = w.initrd;
  const auto& g = w.run(w.good());
  BOOST_TEST(g.status == "exited", g.reason);
  BOOST_TEST(g.serial.find("initrd 300000 bytes") != std::string::npos, g.serial);
  const Bytes payload = policy::build_guest_manifest_payload(w.kernel, &w.initrd, w.gin);
  BOOST_TEST(hex(w.pcr(20)) == hex(replay({payload})));

  World t;
  t.initrd = w.initrd;
  t.initrd_loaded = w.initrd;
  t.initrd_loaded[12345] ^= 0x40;
  check_refused(t, t.run(t.good()), "digest_mismatch");
}
