// The bare-metal TIS driver and TisTpm (platform/x86/drivers) run natively
// against the simulated TIS device over an in-process TPM. Expected PCR values
// come from OpenSSL; the TPM's view comes from ESAPI reads (tpm2-tss).
#define BOOST_TEST_MODULE x86_tpm_tis_driver
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "arch/tpm/tis.hpp"
#include "platform/sim/devices/tpm_tis.hpp"
#include "platform/x86/drivers/tis_tpm.hpp"
#include "platform/x86/drivers/tpm_tis.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tests/platform/sim/tpm_test_util.hpp"
#include "tests/platform/x86/sim_io.hpp"
#include "tpm/tpm_device.hpp"

using namespace redoubt;
using namespace tpmtest;

namespace {
struct Fixture {
  TempDir dir{"tisdrv"};
  std::unique_ptr<tpm::TpmDevice> tpm = tpm::open_tpm(tpm::TpmSpec::parse("inproc:state=" + dir.path));
  sim::TpmTis tis{*tpm, 7};  // an odd, small burst: the driver must loop
  devtest::DeviceMmio<sim::TpmTis> mmio{tis};
  x86::TisDriver drv{mmio};
  x86::TisTpm ttpm{drv};
};

bool contains(const Status& s, const char* what) { return std::string(s.message()).find(what) != std::string::npos; }
}  // namespace

BOOST_FIXTURE_TEST_CASE(active_banks_match_esapi, Fixture) {
  BankList got;
  const Status st = ttpm.active_banks(got);
  BOOST_TEST_REQUIRE(st.is_ok(), st.message());
  const BankList want = tpm->active_banks();
  BOOST_TEST_REQUIRE(got.count == want.count);
  for (uint32_t i = 0; i < want.count; ++i) BOOST_TEST(got.alg[i] == want.alg[i]);
  BOOST_TEST(tis.active_locality() == -1);  // relinquished after the command
}

BOOST_FIXTURE_TEST_CASE(extend_drtm_pcrs_at_locality_2, Fixture) {
  const Bytes slb = slb_data();
  tpm->drtm_hash(slb.data(), slb.size());  // PCR17 = H(0 || H(slb)), PCR18-22 = 0
  const BankList banks = tpm->active_banks();
  const Bytes m17 = {'s', 'l'}, m18 = {'h', 'v', '-', 'k', 'e', 'y'}, m20 = {'g', 'u', 'e', 's', 't'};
  for (auto [pcr, msg] : {std::pair{17u, m17}, std::pair{18u, m18}, std::pair{20u, m20}}) {
    const Status st = ttpm.pcr_extend(2, pcr, digests_of(banks, msg));
    BOOST_TEST_REQUIRE(st.is_ok(), st.message());
  }
  auto pcrs = tpm->pcr_read({17, 18, 20});
  for (uint32_t i = 0; i < banks.count; ++i) {
    const HashAlg a = banks.alg[i];
    BOOST_TEST_CONTEXT("bank " << hash_alg_name(a)) {
      BOOST_TEST(pcrs[a][17] == extend(a, drtm_pcr17(a, slb), hash(a, m17)));
      BOOST_TEST(pcrs[a][18] == extend(a, zeros(a), hash(a, m18)));
      BOOST_TEST(pcrs[a][20] == extend(a, zeros(a), hash(a, m20)));
    }
  }
  BOOST_TEST(tis.commands_executed() == 3u);
  BOOST_TEST_MESSAGE("TIS register reads for the last PCR_Extend: " << drv.last_polls());
}

BOOST_FIXTURE_TEST_CASE(extend_pcr17_at_locality_0_is_tpm_rc_locality, Fixture) {
  const BankList banks = tpm->active_banks();
  auto before = tpm->pcr_read({17});
  const Status st = ttpm.pcr_extend(0, 17, digests_of(banks, {'x'}));
  BOOST_TEST(!st.is_ok());
  BOOST_TEST(st.code() == Err::tpm);
  BOOST_TEST(contains(st, "TPM_RC_LOCALITY"), st.message());
  BOOST_TEST(contains(st, "pcr 17"), st.message());
  BOOST_TEST(contains(st, "locality 0"), st.message());
  BOOST_TEST(tpm->pcr_read({17}) == before);
}

BOOST_FIXTURE_TEST_CASE(a_lower_locality_that_never_lets_go_is_seized, Fixture) {
  tis.mmio_write(0x1000 * 1 + arch::tis::kAccess, 1, arch::tis::access::kRequestUse);  // locality 1 grabs the TPM
  BOOST_TEST_REQUIRE(tis.active_locality() == 1);
  x86::TisDriver quick(mmio, 1);  // 1 poll per ms: TIMEOUT_A = 751 polls
  x86::TisTpm t(quick);
  const Status st = t.pcr_extend(2, 16, digests_of(tpm->active_banks(), {'s'}));
  BOOST_TEST(st.is_ok(), st.message());
  BOOST_TEST((tis.mmio_read(0x1000 * 1 + arch::tis::kAccess, 1) & arch::tis::access::kBeenSeized) != 0u);
  // Locality 3 holds it: locality 2 cannot seize upwards.
  tis.mmio_write(0x1000 * 3 + arch::tis::kAccess, 1, arch::tis::access::kRequestUse);
  BOOST_TEST_REQUIRE(tis.active_locality() == 3);
  const Status refused = t.pcr_extend(2, 16, digests_of(tpm->active_banks(), {'s'}));
  BOOST_TEST(refused.code() == Err::tpm);
  BOOST_TEST(contains(refused, "not granted"), refused.message());
  BOOST_TEST((tis.mmio_read(0x1000 * 3 + arch::tis::kAccess, 1) & arch::tis::access::kPendingRequest) == 0u);
}

BOOST_FIXTURE_TEST_CASE(locality_4_is_refused_to_software, Fixture) {
  const Status st = ttpm.pcr_extend(4, 17, digests_of(tpm->active_banks(), {'x'}));
  BOOST_TEST(st.code() == Err::unsupported);
  BOOST_TEST(contains(st, "locality 4"), st.message());
}

BOOST_FIXTURE_TEST_CASE(nv_counter_read_equals_esapi, Fixture) {
  const uint32_t idx = policy::kNvHvSvnCounter;
  uint64_t v = 0;
  Status st = ttpm.nv_read_counter(2, idx, v);
  BOOST_TEST(st.code() == Err::not_found, st.message());  // not defined yet
  BOOST_TEST(contains(st, "0x01500000"), st.message());
  tpm->set_locality(0);
  tpm->nv_define_counter(idx);
  tpm->nv_increment(idx);
  tpm->nv_increment(idx);
  st = ttpm.nv_read_counter(2, idx, v);
  BOOST_TEST_REQUIRE(st.is_ok(), st.message());
  const std::optional<uint64_t> esapi = tpm->nv_read_counter(idx);
  BOOST_TEST_REQUIRE(esapi.has_value());
  BOOST_TEST(v == *esapi);
}

BOOST_FIXTURE_TEST_CASE(malformed_responses_are_named_errors, Fixture) {
  const BankList banks = tpm->active_banks();
  struct Case {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> mutate;
    const char* expect;
  };
  const Case cases[] = {
      {"truncated to 5", [](auto& r) { r.resize(5); }, "ended after 5"},
      {"header size too big", [](auto& r) { r[5] = uint8_t(r[5] + 4); }, "ended after"},
      {"header size below 10", [](auto& r) { r[2] = r[3] = r[4] = 0; r[5] = 4; }, "less than the header"},
      {"extra bytes", [](auto& r) { r.push_back(0); }, "beyond the"},
      {"session hmac claims bytes",
       [](auto& r) { if (r.size() >= 19) r[r.size() - 1] = 1; }, "session"},
      {"bad tag", [](auto& r) { r[0] = 0x12; }, "tag"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      tis.response_filter = c.mutate;
      const Status st = ttpm.pcr_extend(2, 16, digests_of(banks, {'m'}));
      BOOST_TEST(!st.is_ok());
      BOOST_TEST(st.code() == Err::malformed, st.message());
      BOOST_TEST(contains(st, c.expect), st.message());
      BOOST_TEST(tis.active_locality() == -1);  // locality given back even on error
    }
  }
  tis.response_filter = nullptr;
  BOOST_TEST(ttpm.pcr_extend(2, 16, digests_of(banks, {'m'})).is_ok());
}

// Not a pass/fail bound: prints what the TIS path costs next to ESAPI on the same TPM.
BOOST_FIXTURE_TEST_CASE(cost_of_an_extend_through_the_fifo, Fixture) {
  const BankList banks = tpm->active_banks();
  const DigestList d = digests_of(banks, {'t'});
  constexpr int kN = 500;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) BOOST_TEST_REQUIRE(ttpm.pcr_extend(2, 16, d).is_ok());
  auto t1 = std::chrono::steady_clock::now();
  tpm->set_locality(2);
  for (int i = 0; i < kN; ++i) tpm->pcr_extend(16, d);
  auto t2 = std::chrono::steady_clock::now();
  const double fifo_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / kN;
  const double esapi_us = std::chrono::duration<double, std::micro>(t2 - t1).count() / kN;
  BOOST_TEST_MESSAGE("PCR_Extend (" << banks.count << " banks): TIS driver + simulated FIFO " << fifo_us
                                    << " us, ESAPI " << esapi_us << " us; " << drv.last_polls()
                                    << " register reads per command at burst 7");
}
