// swtpm backends (spawned and connected): same PCR semantics as inproc, real localities
// over tcti-swtpm, and no swtpm process or temp directory left behind.
#define BOOST_TEST_MODULE tpm_swtpm
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <cerrno>
#include <filesystem>

#include "tpm/swtpm_process.hpp"
#include "tpm/swtpm_tpm.hpp"
#include "tests/platform/sim/tpm_test_util.hpp"

using namespace redoubt;
using namespace redoubt::tpm;
using namespace tpmtest;

namespace {
bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// The DRTM sequence followed by the SL's locality-2 extends; returns PCR17/18.
std::map<HashAlg, std::map<uint32_t, Bytes>> launch(TpmDevice& tpm, const Bytes& slb) {
  tpm.drtm_hash(slb.data(), slb.size());
  tpm.set_locality(2);
  const BankList banks = tpm.active_banks();
  tpm.pcr_extend(17, digests_of(banks, {'h', 'v', '-', 'i', 'm', 'g'}));
  tpm.pcr_extend(18, digests_of(banks, {'s', 'i', 'g', 'n', 'e', 'r'}));
  tpm.pcr_extend(17, digests_of(banks, {'p', 'o', 'l', 'i', 'c', 'y'}));
  tpm.set_locality(0);
  return tpm.pcr_read({17, 18});
}
}  // namespace

BOOST_AUTO_TEST_CASE(spawned_swtpm_power_on_and_drtm) {
  auto tpm = open_tpm(TpmSpec::parse("swtpm"));
  auto* sw = dynamic_cast<SwtpmTpm*>(tpm.get());
  BOOST_TEST_REQUIRE(sw != nullptr);
  BOOST_TEST(sw->pid() > 0);
  BOOST_TEST(tpm->supports_drtm());
  const BankList banks = tpm->active_banks();
  BOOST_TEST_REQUIRE(banks.count >= 1u);

  auto pcrs = tpm->pcr_read({16, 17, 18, 19, 20, 21, 22, 23});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    for (uint32_t p = 17; p <= 22; ++p) BOOST_TEST(pcrs[a][p] == ones(a), hash_alg_name(a) << " pcr " << p);
    BOOST_TEST(pcrs[a][16] == zeros(a));
    BOOST_TEST(pcrs[a][23] == zeros(a));
  }

  const Bytes slb = slb_data();
  tpm->drtm_hash(slb.data(), slb.size());
  pcrs = tpm->pcr_read({17, 18, 19, 20, 21, 22});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    BOOST_TEST(pcrs[a][17] == drtm_pcr17(a, slb), hash_alg_name(a));
    for (uint32_t p = 18; p <= 22; ++p) BOOST_TEST(pcrs[a][p] == zeros(a), hash_alg_name(a) << " pcr " << p);
  }

  // Localities are real, and stick although tcti-swtpm reconnects for every command.
  const DigestList d = digests_of(banks, {'x'});
  tpm->set_locality(0);
  try {
    tpm->pcr_extend(17, d);
    BOOST_FAIL("PCR17 extend at locality 0 succeeded");
  } catch (const TpmError& e) {
    BOOST_TEST(e.rc() == 0x907u);
    BOOST_TEST(std::string(e.what()) == "TPM2_PCR_Extend(pcr 17) at locality 0: TPM_RC_LOCALITY (0x907)");
  }
  tpm->set_locality(2);
  tpm->pcr_extend(17, d);
  tpm->pcr_extend(17, d);  // second command on a new connection: still locality 2
  tpm->pcr_extend(20, d);
  tpm->set_locality(3);
  BOOST_CHECK_THROW(tpm->pcr_extend(21, d), TpmError);
  pcrs = tpm->pcr_read({17, 20});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    const Bytes h = hash(a, {'x'});
    BOOST_TEST(pcrs[a][17] == extend(a, extend(a, drtm_pcr17(a, slb), h), h));
    BOOST_TEST(pcrs[a][20] == extend(a, zeros(a), h));
  }

  // CMD_INIT + Startup(CLEAR): back to all-ones and locality 0.
  tpm->power_on();
  BOOST_TEST(tpm->locality() == 0);
  pcrs = tpm->pcr_read({17});
  BOOST_TEST(pcrs[HashAlg::sha256][17] == ones(HashAlg::sha256));
  BOOST_CHECK_THROW(tpm->pcr_extend(17, d), TpmError);
}

BOOST_AUTO_TEST_CASE(inproc_and_swtpm_agree) {
  const Bytes slb = slb_data();
  std::map<HashAlg, std::map<uint32_t, Bytes>> a, b;
  BankList banks_a, banks_b;
  {
    auto tpm = open_tpm(TpmSpec::parse("inproc"));
    banks_a = tpm->active_banks();
    a = launch(*tpm, slb);
  }
  {
    auto tpm = open_tpm(TpmSpec::parse("swtpm"));
    banks_b = tpm->active_banks();
    b = launch(*tpm, slb);
  }
  // Both allocate the same banks (libtpms defaults: sha1, sha256, sha384, sha512).
  int common = 0;
  for (auto& [alg, pcrs] : b) {
    if (!a.count(alg)) continue;
    ++common;
    BOOST_TEST(a[alg][17] == pcrs[17], hash_alg_name(alg));
    BOOST_TEST(a[alg][18] == pcrs[18], hash_alg_name(alg));
    // ...and both equal the independent computation.
    const Bytes exp17 = extend(alg, extend(alg, drtm_pcr17(alg, slb), hash(alg, {'h', 'v', '-', 'i', 'm', 'g'})),
                               hash(alg, {'p', 'o', 'l', 'i', 'c', 'y'}));
    BOOST_TEST(pcrs[17] == exp17, hash_alg_name(alg));
    BOOST_TEST(pcrs[18] == extend(alg, zeros(alg), hash(alg, {'s', 'i', 'g', 'n', 'e', 'r'})));
  }
  BOOST_TEST(common >= 1);
  BOOST_TEST(a.size() == b.size());
  BOOST_TEST(banks_a.count == banks_b.count);
  BOOST_TEST(a.count(HashAlg::sha256) == 1u);
  BOOST_TEST(b.count(HashAlg::sha256) == 1u);
}

BOOST_AUTO_TEST_CASE(spawn_leaves_nothing_behind) {
  pid_t pid = -1;
  std::string state;
  try {
    auto tpm = open_tpm(TpmSpec::parse("swtpm"));
    auto* sw = dynamic_cast<SwtpmTpm*>(tpm.get());
    BOOST_TEST_REQUIRE(sw != nullptr);
    pid = sw->pid();
    state = sw->state_dir();
    BOOST_TEST(::kill(pid, 0) == 0);
    BOOST_TEST(std::filesystem::exists(state));
    tpm->set_locality(0);
    tpm->pcr_extend(17, digests_of(tpm->active_banks(), {'x'}));  // throws: a failing test mid-way
    BOOST_FAIL("not reached");
  } catch (const TpmError& e) {
    BOOST_TEST(e.rc() == 0x907u);
  }
  BOOST_TEST(pid > 0);
  BOOST_TEST(process_gone(pid));
  BOOST_TEST(!std::filesystem::exists(state));
}

BOOST_AUTO_TEST_CASE(connect_to_running_swtpm_and_state_dir) {
  const TempDir tmp("swtpm");
  const std::string& dir = tmp.path;
  {
    SwtpmProcess proc(dir);  // stands in for a swtpm started by someone else (e.g. for QEMU)
    BOOST_TEST(proc.ctrl_port() == proc.port() + 1);
    const std::string spec = "swtpm:host=127.0.0.1,port=" + std::to_string(proc.port());
    {
      auto tpm = open_tpm(TpmSpec::parse(spec));
      BOOST_TEST(tpm->describe().find(std::to_string(proc.port())) != std::string::npos);
      tpm->nv_define_counter(0x01500020);
      tpm->nv_increment(0x01500020);
      BOOST_TEST(tpm->nv_read_counter(0x01500020).value() == 2u);
    }
    // ctrl must be port+1 for tcti-swtpm: a clear error otherwise.
    try {
      open_tpm(TpmSpec::parse(spec + ",ctrl=" + std::to_string(proc.port() + 7)));
      BOOST_FAIL("mismatched ctrl port accepted");
    } catch (const TpmError& e) {
      BOOST_TEST(std::string(e.what()).find("port+1") != std::string::npos, e.what());
    }
  }
  {
    // A spawned swtpm on the same state dir sees the counter (persistent state, dir kept).
    auto tpm = open_tpm(TpmSpec::parse("swtpm:state=" + dir));
    BOOST_TEST(tpm->nv_read_counter(0x01500020).value() == 2u);
  }
  BOOST_TEST(std::filesystem::exists(dir));  // a given state dir is kept
}

BOOST_AUTO_TEST_CASE(connect_to_nothing_fails_cleanly) {
  // Port 1 (tcpmux) is privileged and not served here: the control channel refuses.
  try {
    open_tpm(TpmSpec::parse("swtpm:host=127.0.0.1,port=1"));
    BOOST_FAIL("connected to nothing");
  } catch (const TpmError& e) {
    BOOST_TEST_MESSAGE("expected: " << e.what());
  }
}
