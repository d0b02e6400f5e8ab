// The embedded libtpms TPM: power-on PCR values, the DRTM hash sequence, real
// localities, NV counter persistence. Expected values come from OpenSSL, never the TPM.
#define BOOST_TEST_MODULE tpm_inproc
#include <boost/test/unit_test.hpp>

#include <tss2/tss2_esys.h>

#include <filesystem>

#include "tpm/inproc_tpm.hpp"
#include "tests/platform/sim/tpm_test_util.hpp"

using namespace redoubt;
using namespace redoubt::tpm;
using namespace tpmtest;

namespace {
constexpr uint32_t kCounter = 0x01500010;

std::unique_ptr<TpmDevice> open_inproc(const std::string& dir = "") {
  return open_tpm(TpmSpec::parse(dir.empty() ? "inproc" : "inproc:state=" + dir));
}
}  // namespace

BOOST_AUTO_TEST_CASE(power_on_pcr_values) {
  auto tpm = open_inproc();
  BankList banks = tpm->active_banks();
  BOOST_TEST_REQUIRE(banks.count >= 1u);
  bool has_sha256 = false;
  for (uint32_t i = 0; i < banks.count; ++i) has_sha256 |= banks.alg[i] == HashAlg::sha256;
  BOOST_TEST(has_sha256);
  for (int round = 0; round < 2; ++round) {  // at open and after an explicit power_on
    auto pcrs = tpm->pcr_read({16, 17, 18, 19, 20, 21, 22, 23});
    BOOST_TEST(pcrs.size() == banks.count);
    for (uint32_t i = 0; i < banks.count; ++i) {
      const HashAlg a = banks.alg[i];
      BOOST_TEST_CONTEXT("bank " << hash_alg_name(a)) {
        // TCG PC Client PTP: the DRTM PCRs 17..22 reset to all-ones at TPM_Init, 16 and 23 to zero.
        for (uint32_t p = 17; p <= 22; ++p) BOOST_TEST(pcrs[a][p] == ones(a), "pcr " << p);
        BOOST_TEST(pcrs[a][16] == zeros(a));
        BOOST_TEST(pcrs[a][23] == zeros(a));
      }
    }
    tpm->power_on();
  }
}

BOOST_AUTO_TEST_CASE(drtm_hash_sets_pcr17_in_every_bank) {
  auto tpm = open_inproc();
  const Bytes slb = slb_data();
  tpm->drtm_hash(slb.data(), slb.size());
  const BankList banks = tpm->active_banks();
  auto pcrs = tpm->pcr_read({17, 18, 19, 20, 21, 22});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    BOOST_TEST_CONTEXT("bank " << hash_alg_name(a)) {
      BOOST_TEST(pcrs[a][17] == drtm_pcr17(a, slb));
      for (uint32_t p = 18; p <= 22; ++p) BOOST_TEST(pcrs[a][p] == zeros(a), "pcr " << p);
    }
  }
  // Power cycling brings the DRTM PCRs back to all-ones.
  tpm->power_on();
  auto after = tpm->pcr_read({17});
  BOOST_TEST(after[HashAlg::sha256][17] == ones(HashAlg::sha256));
}

BOOST_AUTO_TEST_CASE(localities_are_enforced) {
  auto tpm = open_inproc();
  const Bytes slb = slb_data();
  tpm->drtm_hash(slb.data(), slb.size());
  const BankList banks = tpm->active_banks();
  const Bytes ev = {'h', 'v'};
  const DigestList d = digests_of(banks, ev);

  // Locality 0 (a guest) cannot touch the DRTM PCRs.
  tpm->set_locality(0);
  try {
    tpm->pcr_extend(17, d);
    BOOST_FAIL("PCR17 extend at locality 0 succeeded");
  } catch (const TpmError& e) {
    BOOST_TEST(e.rc() == 0x907u);
    BOOST_TEST(std::string(e.what()) == "TPM2_PCR_Extend(pcr 17) at locality 0: TPM_RC_LOCALITY (0x907)");
  }
  for (uint32_t p : {18u, 19u, 20u, 21u, 22u}) {
    try {
      tpm->pcr_extend(p, d);
      BOOST_ERROR("extend at locality 0 succeeded on pcr " << p);
    } catch (const TpmError& e) {
      BOOST_TEST(e.rc() == 0x907u, "pcr " << p);
    }
  }
  tpm->pcr_extend(23, d);  // the application PCR is open to all
  // Locality 1: PCR20 yes, PCR17 and 21 no.
  tpm->set_locality(1);
  BOOST_CHECK_THROW(tpm->pcr_extend(17, d), TpmError);
  BOOST_CHECK_THROW(tpm->pcr_extend(21, d), TpmError);
  tpm->pcr_extend(20, d);
  // Locality 2 (SL / hypervisor): all DRTM PCRs.
  tpm->set_locality(2);
  BOOST_TEST(tpm->locality() == 2);
  tpm->pcr_extend(17, d);
  tpm->pcr_extend(18, d);
  tpm->pcr_extend(20, d);
  // Nobody may reset PCR17 by command, not even locality 2 or 4; PCR20 resets at locality 2 only.
  for (uint8_t loc : {2, 4}) {
    tpm->set_locality(loc);
    BOOST_TEST(Esys_PCR_Reset(tpm->esys(), ESYS_TR_PCR0 + 17, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE) == 0x907u);
  }
  // Locality 4 extends 17/18 but not 19..22.
  BOOST_CHECK_THROW(tpm->pcr_extend(19, d), TpmError);
  tpm->set_locality(2);

  auto pcrs = tpm->pcr_read({17, 18, 20, 23});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    const Bytes h = hash(a, ev);
    BOOST_TEST_CONTEXT("bank " << hash_alg_name(a)) {
      BOOST_TEST(pcrs[a][17] == extend(a, drtm_pcr17(a, slb), h));
      BOOST_TEST(pcrs[a][18] == extend(a, zeros(a), h));
      BOOST_TEST(pcrs[a][20] == extend(a, extend(a, zeros(a), h), h));  // loc 1 + loc 2
      BOOST_TEST(pcrs[a][23] == extend(a, zeros(a), h));
    }
  }
  // power_on returns to locality 0.
  tpm->power_on();
  BOOST_TEST(tpm->locality() == 0);
  BOOST_CHECK_THROW(tpm->pcr_extend(17, d), TpmError);
}

BOOST_AUTO_TEST_CASE(pcr_read_more_than_eight) {
  auto tpm = open_inproc();
  std::vector<uint32_t> all;
  for (uint32_t p = 0; p < 24; ++p) all.push_back(p);
  auto pcrs = tpm->pcr_read(all);
  const BankList banks = tpm->active_banks();
  for (uint32_t i = 0; i < banks.count; ++i) {
    BOOST_TEST(pcrs[banks.alg[i]].size() == 24u);
    BOOST_TEST(pcrs[banks.alg[i]][0] == zeros(banks.alg[i]));
    BOOST_TEST(pcrs[banks.alg[i]][22] == ones(banks.alg[i]));
  }
  BOOST_CHECK_THROW(tpm->pcr_read({24}), TpmError);
}

BOOST_AUTO_TEST_CASE(one_libtpms_per_process) {
  auto a = open_inproc();
  try {
    auto b = open_inproc();
    BOOST_FAIL("a second inproc TPM opened while one is live");
  } catch (const TpmError& e) {
    BOOST_TEST(std::string(e.what()).find("one TPM per process") != std::string::npos);
  }
  a.reset();
  auto c = open_inproc();  // close + reopen works
  BOOST_TEST(c->get_random(16).size() == 16u);
}

BOOST_AUTO_TEST_CASE(nv_counter_persists_in_state_dir) {
  TempDir dir;
  {
    auto tpm = open_inproc(dir.path);
    BOOST_TEST(!tpm->nv_defined(kCounter));
    BOOST_TEST(!tpm->nv_read_counter(kCounter).has_value());
    try {
      tpm->nv_increment(kCounter);
      BOOST_FAIL("incrementing an undefined index succeeded");
    } catch (const TpmError& e) {
      BOOST_TEST(std::string(e.what()).find("TPM_RC_HANDLE") != std::string::npos, e.what());
    }
    tpm->nv_define_counter(kCounter);  // defined and written once: a fresh TPM's first count is 1
    BOOST_TEST(tpm->nv_defined(kCounter));
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 1u);
    tpm->nv_increment(kCounter);
    tpm->nv_increment(kCounter);
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 3u);
    // Redefining fails with TPM_RC_NV_DEFINED.
    try {
      tpm->nv_define_counter(kCounter);
      BOOST_FAIL("redefine succeeded");
    } catch (const TpmError& e) {
      BOOST_TEST(e.rc() == 0x14Cu);
    }
    // Readable by locality-2 code through the index's own (empty) authValue.
    tpm->set_locality(2);
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 3u);
    tpm->power_on();  // reset without orderly shutdown: the count is in NV already
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 3u);
  }
  BOOST_TEST(std::filesystem::exists(dir.path + "/tpm2-00.permall"));
  {
    auto tpm = open_inproc(dir.path);
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 3u);
    tpm->nv_increment(kCounter);
  }
  {
    auto tpm = open_inproc(dir.path);
    BOOST_TEST(tpm->nv_read_counter(kCounter).value() == 4u);
  }
  TempDir fresh;
  {
    auto tpm = open_inproc(fresh.path);
    BOOST_TEST(!tpm->nv_defined(kCounter));
    BOOST_TEST(!tpm->nv_read_counter(kCounter).has_value());
  }
}

BOOST_AUTO_TEST_CASE(temporary_state_is_removed) {
  std::string dir;
  {
    auto tpm = open_inproc();
    auto* in = dynamic_cast<InprocTpm*>(tpm.get());
    BOOST_TEST_REQUIRE(in != nullptr);
    dir = in->state_dir();
    BOOST_TEST(std::filesystem::exists(dir));
  }
  BOOST_TEST(!std::filesystem::exists(dir));
}

BOOST_AUTO_TEST_CASE(get_random) {
  auto tpm = open_inproc();
  auto a = tpm->get_random(100), b = tpm->get_random(100);
  BOOST_TEST(a.size() == 100u);
  BOOST_TEST(b.size() == 100u);
  BOOST_TEST(a != b);
}
