// `redoubt launch` end to end, as a user runs it: files written, exit codes,
// PCRs computed independently from slb.bin / hv.manifest / hv.bin, interop with
// tpm2_eventlog, and the same PCRs on inproc and on a spawned swtpm.
#define BOOST_TEST_MODULE cli_launch
#include <cbor.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt::test;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  Bytes b = read_file(p);
  return json::parse(b.begin(), b.end());
}

// The COSE_Sign1 payload, decoded here with libcbor (not with the code under test).
Bytes cose_payload(const Bytes& cose) {
  // libcbor 0.8's cbor_load rejects tag 18 (0xd2) as malformed: strip the tag byte here.
  size_t skip = !cose.empty() && cose[0] == 0xd2 ? 1 : 0;
  cbor_load_result res;
  cbor_item_t* item = cbor_load(cose.data() + skip, cose.size() - skip, &res);
  BOOST_REQUIRE(item != nullptr);
  cbor_item_t* arr = cbor_isa_tag(item) ? cbor_tag_item(item) : cbor_incref(item);
  BOOST_REQUIRE(cbor_isa_array(arr));
  BOOST_REQUIRE_EQUAL(cbor_array_size(arr), 4u);
  cbor_item_t* pl = cbor_array_get(arr, 2);
  Bytes out(cbor_bytestring_handle(pl), cbor_bytestring_handle(pl) + cbor_bytestring_length(pl));
  cbor_decref(&pl);
  cbor_decref(&arr);
  cbor_decref(&item);
  return out;
}

// PCR17/18 (sha256) from the launch artefacts and the documented event sequence.
std::pair<std::string, std::string> expected_pcrs(const fs::path& dir, const fs::path& hv_bin) {
  Bytes slb = read_file(dir / "slb.bin");
  BOOST_REQUIRE_EQUAL(slb.size(), 65536u);
  uint16_t len, key_off, key_len;
  std::memcpy(&len, slb.data() + 2, 2);       // SLB word 1: measured length
  std::memcpy(&key_off, slb.data() + 14, 2);  // Redoubt header: key slot offset
  std::memcpy(&key_len, slb.data() + key_off + 12, 2);
  Bytes key(slb.begin() + key_off + 16, slb.begin() + key_off + 16 + key_len);
  Bytes payload = cose_payload(read_file(dir / "hv.manifest"));
  Bytes sep = {0, 0, 0, 0};
  Bytes p17 = extend("SHA256", zeros(32), sha("SHA256", Bytes(slb.begin(), slb.begin() + len)));
  p17 = extend("SHA256", p17, sha("SHA256", payload));
  p17 = extend("SHA256", p17, sha("SHA256", read_file(hv_bin)));
  p17 = extend("SHA256", p17, sha("SHA256", sep));
  Bytes p18 = extend("SHA256", extend("SHA256", zeros(32), sha("SHA256", key)), sha("SHA256", sep));
  return {hex(p17), hex(p18)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(launch_writes_artefacts_and_pcrs_match) {
  TempDir t;
  CliResult r = run_redoubt({"launch", "--platform", "amd", "--tpm", "inproc", "--state", (t / "state").string(),
                             "--out", (t / "out").string()});
  BOOST_TEST_INFO(r.out << r.err);
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(r.out.find("LAUNCHED") != std::string::npos);
  BOOST_TEST(r.out.find("[hv] Redoubt hypervisor") != std::string::npos);
  json launch = read_json(t / "out/launch.json");
  BOOST_TEST(launch["status"] == "launched");
  for (const char* k : {"sl", "hypervisor", "manifest", "hv_key"})
    BOOST_TEST(fs::exists(launch["inputs"][k].get<std::string>()), k);
  json pcrs = read_json(t / "out/pcrs.json");
  auto [p17, p18] = expected_pcrs(t / "out", build_dir() / "hv.bin");
  BOOST_TEST(pcrs["sha256"]["17"] == p17);
  BOOST_TEST(pcrs["sha256"]["18"] == p18);
  BOOST_TEST(pcrs["sha256"]["19"] == hex(zeros(32)));

  // tpm2_eventlog (tpm2-tools) parses our log and replays it to the same values.
  CliResult ev = run_program({"tpm2_eventlog", (t / "out/eventlog.bin").string()});
  BOOST_TEST_INFO(ev.err);
  BOOST_REQUIRE_EQUAL(ev.exit_code, 0);
  std::smatch m;
  std::string s = ev.out.substr(ev.out.find("pcrs:"));
  s = s.substr(s.find("sha256:"));
  BOOST_REQUIRE(std::regex_search(s, m, std::regex("17 : 0x([0-9a-fA-F]{64})")));
  BOOST_TEST(m[1].str() == p17);
  BOOST_REQUIRE(std::regex_search(s, m, std::regex("18 : 0x([0-9a-fA-F]{64})")));
  BOOST_TEST(m[1].str() == p18);

  // A second launch on the same state: same key, so the same PCRs (a stable reference value).
  CliResult again = run_redoubt({"launch", "--state", (t / "state").string(), "--out", (t / "out2").string()});
  BOOST_REQUIRE_EQUAL(again.exit_code, 0);
  BOOST_TEST(read_json(t / "out2/pcrs.json")["sha256"]["17"] == p17);
}

BOOST_AUTO_TEST_CASE(inproc_and_spawned_swtpm_agree) {
  TempDir t;
  CliResult a = run_redoubt({"launch", "--state", (t / "state").string(), "--out", (t / "a").string()});
  BOOST_REQUIRE_EQUAL(a.exit_code, 0);
  // Same SLB bytes, manifest and image on a private swtpm.
  CliResult b = run_redoubt({"launch", "--tpm", "swtpm", "--state", (t / "state").string(), "--out",
                             (t / "b").string(), "--sl", (t / "a/slb.bin").string(), "--manifest",
                             (t / "a/hv.manifest").string()});
  BOOST_TEST_INFO(b.out << b.err);
  BOOST_REQUIRE_EQUAL(b.exit_code, 0);
  json pa = read_json(t / "a/pcrs.json"), pb = read_json(t / "b/pcrs.json");
  for (const char* bank : {"sha1", "sha256", "sha384"})
    for (const char* pcr : {"17", "18"}) BOOST_TEST(pa[bank][pcr] == pb[bank][pcr], bank << " pcr" << pcr);
  BOOST_TEST(read_json(t / "b/launch.json")["tpm"].get<std::string>().find("swtpm") != std::string::npos);
}

// Bad input: a clear reason, exit code 1, PCRs not at a launched value, no crash.
namespace {

struct Bad {
  std::string name;
  std::vector<std::string> extra;
  std::string reason;
  bool before_skinit;
};

void check_refusal(const TempDir& t, const Bad& c, const std::string& good17) {
  fs::path out = t / ("bad-" + c.name);
  std::vector<std::string> args = {"launch", "--state", (t / "state").string(), "--out", out.string()};
  args.insert(args.end(), c.extra.begin(), c.extra.end());
  CliResult r = run_redoubt(args);
  BOOST_TEST_CONTEXT("case " << c.name << "\n" << r.out << r.err) {
    BOOST_TEST(r.exit_code == 1);
    json l = read_json(out / "launch.json");
    BOOST_TEST(l["status"] == "refused");
    BOOST_TEST(l["reason"].get<std::string>().find(c.reason) != std::string::npos);
    BOOST_TEST(r.out.find("REFUSED") != std::string::npos);
    json p = read_json(out / "pcrs.json");
    BOOST_TEST(p["sha256"]["17"] != good17);
    if (c.before_skinit) {
      BOOST_TEST(p["sha256"]["17"] == hex(ones(32)));
      BOOST_TEST(p["sha256"]["18"] == hex(ones(32)));
    } else {  // capped with EV_REDOUBT_LAUNCH_FAILED: the log replays to the TPM's value
      CliResult ev = run_redoubt({"eventlog", "show", "--json", (out / "eventlog.bin").string()});
      BOOST_REQUIRE_EQUAL(ev.exit_code, 0);
      json lj = json::parse(ev.out);
      BOOST_TEST(lj["events"].back()["type_name"] == "EV_REDOUBT_LAUNCH_FAILED");
      BOOST_TEST(lj["replayed"]["sha256"]["17"] == p["sha256"]["17"]);
      BOOST_TEST(lj["replayed"]["sha256"]["18"] == p["sha256"]["18"]);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(bad_inputs_are_refused_with_a_reason) {
  TempDir t;
  std::string st = (t / "state").string();
  BOOST_REQUIRE_EQUAL(run_redoubt({"launch", "--state", st, "--out", (t / "good").string()}).exit_code, 0);
  std::string good17 = read_json(t / "good/pcrs.json")["sha256"]["17"];
  Bytes slb = read_file(t / "good/slb.bin");  // sealed with the demo key
  Bytes manifest = read_file(t / "good/hv.manifest");
  Bytes hv = read_file(build_dir() / "hv.bin");
  uint16_t len;
  std::memcpy(&len, slb.data() + 2, 2);
  Bytes sl_image(slb.begin(), slb.begin() + len);
  auto put = [&](const std::string& name, const Bytes& b) {
    write_file(t / name, b);
    return (t / name).string();
  };
  std::string key = (t / "state/demo/hv-signing.key.pem").string();
  std::string sl_ok = put("sl-ok.bin", sl_image);

  Bytes oversize = sl_image;
  oversize.resize(65537, 0);
  Bytes entry_ge_len = sl_image;
  std::memcpy(entry_ge_len.data(), &len, 2);
  Bytes len0 = sl_image;
  std::memset(len0.data() + 2, 0, 2);
  Bytes badsig = manifest;
  badsig[badsig.size() - 5] ^= 0x40;
  Bytes truncated(manifest.begin(), manifest.begin() + manifest.size() / 2);
  Bytes garbage(200, 0x5A);
  Bytes tampered = hv;
  tampered[tampered.size() / 3] ^= 0x01;

  // Another signer, and a manifest of a different image, and a low SVN.
  BOOST_REQUIRE_EQUAL(run_redoubt({"key", "gen", "--out", (t / "other").string()}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_redoubt({"sign", "hypervisor", "--image", put("tampered.bin", tampered), "--key", key,
                                   "--version", "0.1.0", "--svn", "1", "--out", (t / "other-image.manifest").string()})
                          .exit_code,
                      0);
  BOOST_REQUIRE_EQUAL(run_redoubt({"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key",
                                   (t / "other.key.pem").string(), "--version", "0.1.0", "--svn", "1", "--out",
                                   (t / "wrong-key.manifest").string()})
                          .exit_code,
                      0);
  BOOST_REQUIRE_EQUAL(run_redoubt({"sign", "hypervisor", "--image", (build_dir() / "hv.bin").string(), "--key", key,
                                   "--version", "0.0.9", "--svn", "3", "--out", (t / "svn3.manifest").string()})
                          .exit_code,
                      0);

  std::vector<Bad> cases = {
      {"misaligned", {"--slb-base", "0x1008000"}, "not 64 KiB aligned", true},
      {"oversize", {"--sl", put("oversize.bin", oversize)}, "the SLB is 64 KiB", true},
      {"entry-ge-length", {"--sl", put("entry.bin", entry_ge_len)}, "is not below the measured length", true},
      {"length-0", {"--sl", put("len0.bin", len0)}, "length is 0", true},
      {"svm-off", {"--sim-svm-off"}, "SKINIT raised #UD", true},
      {"aps-running", {"--sim-aps-running"}, "SKINIT raised #GP(0)", true},
      {"bad-signature", {"--sl", sl_ok, "--manifest", put("badsig.manifest", badsig)}, "bad-signature", false},
      {"wrong-key", {"--sl", sl_ok, "--manifest", (t / "wrong-key.manifest").string()}, "wrong-key", false},
      {"truncated", {"--sl", sl_ok, "--manifest", put("trunc.manifest", truncated)}, "malformed", false},
      {"garbage", {"--sl", sl_ok, "--manifest", put("garbage.manifest", garbage)}, "malformed", false},
      {"digest-mismatch", {"--sl", sl_ok, "--manifest", (t / "other-image.manifest").string()}, "digest-mismatch",
       false},
      {"tampered-image", {"--sl", sl_ok, "--manifest", (t / "good/hv.manifest").string(), "--hypervisor",
                          (t / "tampered.bin").string()}, "digest-mismatch", false},
  };
  for (const Bad& c : cases) check_refusal(t, c, good17);

  // Irreversible, so never silent: without --yes (stdin is /dev/null, not a terminal) it says
  // what it would do, exits 2 and leaves the counter alone.
  CliResult unconfirmed = run_redoubt({"svn", "advance", "--to", "5", "--state", st});
  BOOST_TEST(unconfirmed.exit_code == 2);
  BOOST_TEST(unconfirmed.err.find("minimum SVN from 1 to 5") != std::string::npos, unconfirmed.err);
  BOOST_TEST(unconfirmed.err.find("add --yes to confirm") != std::string::npos, unconfirmed.err);
  {
    CliResult show = run_redoubt({"svn", "show", "--state", st, "--json"});
    BOOST_TEST_REQUIRE(show.exit_code == 0, show.err);
    const auto j = nlohmann::json::parse(show.out);
    BOOST_TEST(j["value"] == 1);
    BOOST_TEST(j["counter"] == "hypervisor");
    BOOST_TEST(j["nv_index"] == "0x01500000");
  }
  // SVN below the NV counter: the owner advances it to 5, an SVN-3 manifest is refused.
  CliResult adv = run_redoubt({"svn", "advance", "--to", "5", "--yes", "--state", st});
  BOOST_TEST_INFO(adv.out << adv.err);
  BOOST_REQUIRE_EQUAL(adv.exit_code, 0);
  BOOST_TEST(adv.out.find(": 5") != std::string::npos);
  check_refusal(t, {"svn-rollback", {"--sl", sl_ok, "--manifest", (t / "svn3.manifest").string()},
                    "rollback: hypervisor SVN 3 is below the anti-rollback counter 5", false},
                good17);
  // The counter never goes back.
  CliResult back = run_redoubt({"svn", "advance", "--to", "2", "--yes", "--state", st});
  BOOST_TEST(back.exit_code == 1);
  BOOST_TEST(run_redoubt({"svn", "show", "--state", st}).out.find(": 5") != std::string::npos);
}

// Issue 15: an SL that faults at its entry (int3 over it) still leaves a valid TCG event log:
// the Spec ID header and SKINIT's event 0, written by the pre-launch loader, replaying to the
// PCR17 the TPM holds (computed here: H(0^32 || H(SLB[0:length]))), and tpm2_eventlog reads it.
BOOST_AUTO_TEST_CASE(an_sl_fault_at_its_entry_leaves_a_valid_event_log) {
  TempDir t;
  const std::string st = (t / "state").string();
  BOOST_REQUIRE_EQUAL(run_redoubt({"launch", "--state", st, "--out", (t / "good").string()}).exit_code, 0);
  const Bytes slb = read_file(t / "good/slb.bin");
  uint16_t entry, len;
  std::memcpy(&entry, slb.data(), 2);
  std::memcpy(&len, slb.data() + 2, 2);
  Bytes sl(slb.begin(), slb.begin() + len);
  std::memset(sl.data() + entry, 0xCC, std::min<size_t>(64, len - entry));
  write_file(t / "int3.bin", sl);
  const fs::path out = t / "int3";
  CliResult r = run_redoubt({"launch", "--state", st, "--out", out.string(), "--sl", (t / "int3.bin").string()});
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  const Bytes log = read_file(out / "eventlog.bin");
  BOOST_TEST_REQUIRE(log.size() > 0u);
  CliResult ev = run_redoubt({"eventlog", "show", "--json", (out / "eventlog.bin").string()});
  BOOST_TEST_REQUIRE(ev.exit_code == 0, ev.err);
  const json lj = json::parse(ev.out);
  BOOST_TEST_REQUIRE(lj["events"].size() == 1u);
  BOOST_TEST(lj["events"][0]["type_name"] == "EV_REDOUBT_SKINIT_SLB");
  Bytes ext(32, 0);
  const Bytes d = sha("SHA256", sl);
  ext.insert(ext.end(), d.begin(), d.end());
  const std::string want17 = hex(sha("SHA256", ext));
  const json p = read_json(out / "pcrs.json");
  BOOST_TEST(p["sha256"]["17"] == want17);
  BOOST_TEST(lj["replayed"]["sha256"]["17"] == want17);
  if (std::system("command -v tpm2_eventlog >/dev/null 2>&1") == 0) {
    CliResult tl = run_program({"tpm2_eventlog", (out / "eventlog.bin").string()});
    BOOST_TEST(tl.exit_code == 0, tl.err);
    std::string lower = tl.out;
    for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    BOOST_TEST(lower.find(want17) != std::string::npos, tl.out);  // its replayed PCR17
  }
}
