// The simulated TPM FIFO interface register by register (TCG PC Client PTP §6),
// over a real in-process TPM. The driver-level tests are in tests/platform/x86.
#define BOOST_TEST_MODULE sim_tpm_tis
#include <boost/test/unit_test.hpp>

#include <tss2/tss2_tpm2_types.h>

#include "arch/tpm/tis.hpp"
#include "arch/tpm/tpm2.hpp"
#include "platform/sim/devices/tpm_tis.hpp"
#include "tests/platform/sim/tpm_test_util.hpp"
#include "tpm/tpm_device.hpp"

using namespace redoubt;
namespace tis = redoubt::arch::tis;

// The constants we marshal by hand must equal tpm2-tss's (an oracle we did not write).
static_assert(arch::tpm2::kStNoSessions == TPM2_ST_NO_SESSIONS && arch::tpm2::kStSessions == TPM2_ST_SESSIONS);
static_assert(arch::tpm2::kCcPcrExtend == TPM2_CC_PCR_Extend && arch::tpm2::kCcNvRead == TPM2_CC_NV_Read);
static_assert(arch::tpm2::kCcNvReadPublic == TPM2_CC_NV_ReadPublic && arch::tpm2::kCcGetCapability == TPM2_CC_GetCapability);
static_assert(arch::tpm2::kRcLocality == TPM2_RC_LOCALITY && arch::tpm2::kRcNvUninitialized == TPM2_RC_NV_UNINITIALIZED);
static_assert(arch::tpm2::kRcHandle == TPM2_RC_HANDLE && arch::tpm2::kRsPw == TPM2_RS_PW && arch::tpm2::kCapPcrs == TPM2_CAP_PCRS);
static_assert(arch::tpm2::kRcFailure == TPM2_RC_FAILURE);

namespace redoubt::sim {
std::ostream& operator<<(std::ostream& o, TpmTis::State s) { return o << static_cast<int>(s); }
}  // namespace redoubt::sim

namespace {
struct Fixture {
  tpmtest::TempDir dir{"tis"};
  std::unique_ptr<tpm::TpmDevice> tpm = tpm::open_tpm(tpm::TpmSpec::parse("inproc:state=" + dir.path));
  sim::TpmTis tis{*tpm, 16};

  uint8_t access(uint32_t l) { return static_cast<uint8_t>(tis.mmio_read(l * 0x1000 + tis::kAccess, 1)); }
  void set_access(uint32_t l, uint8_t v) { tis.mmio_write(l * 0x1000 + tis::kAccess, 1, v); }
  uint32_t sts(uint32_t l) { return static_cast<uint32_t>(tis.mmio_read(l * 0x1000 + tis::kSts, 4)); }
  void set_sts(uint32_t l, uint8_t v) { tis.mmio_write(l * 0x1000 + tis::kSts, 1, v); }
};

// TPM2_GetRandom(8), Part 3 §16.1, no sessions.
const std::vector<uint8_t> kGetRandom8 = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8};
}  // namespace

BOOST_FIXTURE_TEST_CASE(identity_registers, Fixture) {
  for (uint32_t l = 0; l < 5; ++l) {
    BOOST_TEST(tis.mmio_read(l * 0x1000 + tis::kDidVid, 4) == 0x00011014u);
    BOOST_TEST(tis.mmio_read(l * 0x1000 + tis::kRid, 1) == 0x01u);
    const uint64_t id = tis.mmio_read(l * 0x1000 + tis::kInterfaceId, 4);
    BOOST_TEST((id & 0xF) == 0u);                       // InterfaceType: FIFO for TPM 2.0
    BOOST_TEST((id & tis::interface_id::kCapLocality) != 0u);
    const uint64_t cap = tis.mmio_read(l * 0x1000 + tis::kIntfCapability, 4);
    BOOST_TEST((cap & tis::intf_cap::kInterruptMask) == 0u);  // no interrupt of any kind
    BOOST_TEST(((cap >> 28) & 7) == 3u);                       // FIFO interface for TPM 2.0
    BOOST_TEST(tis.mmio_read(l * 0x1000 + tis::kIntEnable, 4) == 0u);
    tis.mmio_write(l * 0x1000 + tis::kIntEnable, 4, 0x8000000Fu);
    BOOST_TEST(tis.mmio_read(l * 0x1000 + tis::kIntEnable, 4) == 0u);  // read-only: nothing to enable
  }
}

BOOST_FIXTURE_TEST_CASE(locality_arbitration, Fixture) {
  BOOST_TEST(tis.active_locality() == -1);
  BOOST_TEST(access(0) == (tis::access::kTpmRegValidSts | tis::access::kTpmEstablishment));
  BOOST_TEST(sts(0) == 0xFFFFFFFFu);  // not active: FFh
  set_access(0, tis::access::kRequestUse);
  BOOST_TEST(tis.active_locality() == 0);
  BOOST_TEST((access(0) & tis::access::kActiveLocality) != 0);
  set_access(2, tis::access::kRequestUse);  // pending behind 0
  BOOST_TEST(tis.active_locality() == 0);
  BOOST_TEST((access(0) & tis::access::kPendingRequest) != 0);
  BOOST_TEST((access(2) & tis::access::kRequestUse) != 0);
  BOOST_TEST((access(2) & tis::access::kPendingRequest) == 0);
  set_access(1, tis::access::kRequestUse);
  set_access(0, tis::access::kActiveLocality);  // relinquish: the highest requester wins
  BOOST_TEST(tis.active_locality() == 2);
  set_access(3, tis::access::kSeize);  // 3 > 2: seize
  BOOST_TEST(tis.active_locality() == 3);
  BOOST_TEST((access(2) & tis::access::kBeenSeized) != 0);
  set_access(2, tis::access::kBeenSeized);
  BOOST_TEST((access(2) & tis::access::kBeenSeized) == 0);
  set_access(0, tis::access::kSeize);  // 0 < 3: no seize
  BOOST_TEST(tis.active_locality() == 3);
  set_access(3, tis::access::kActiveLocality);
  BOOST_TEST(tis.active_locality() == 1);  // 1 was still pending
  set_access(1, tis::access::kActiveLocality);
  BOOST_TEST(tis.active_locality() == -1);
}

BOOST_FIXTURE_TEST_CASE(locality4_writes_are_ignored, Fixture) {
  set_access(4, tis::access::kRequestUse);
  set_access(4, tis::access::kSeize);
  BOOST_TEST(tis.active_locality() == -1);
  BOOST_TEST((access(4) & tis::access::kTpmRegValidSts) != 0);  // reads still work
  set_access(0, tis::access::kRequestUse);
  set_access(4, tis::access::kSeize);
  BOOST_TEST(tis.active_locality() == 0);
}

BOOST_FIXTURE_TEST_CASE(command_response_state_machine, Fixture) {
  set_access(0, tis::access::kRequestUse);
  BOOST_TEST(tis.state() == sim::TpmTis::State::idle);
  BOOST_TEST((sts(0) & tis::sts::kCommandReady) == 0u);
  BOOST_TEST((sts(0) & tis::sts::kTpmFamilyMask) == tis::sts::kTpmFamily20);
  set_sts(0, tis::sts::kCommandReady);
  uint32_t s = sts(0);
  BOOST_TEST((s & (tis::sts::kCommandReady | tis::sts::kStsValid | tis::sts::kSelfTestDone)) ==
             (tis::sts::kCommandReady | tis::sts::kStsValid | tis::sts::kSelfTestDone));
  BOOST_TEST(tis::sts::burst_count(s) == 16u);
  // tpmGo before the command is complete does nothing.
  for (size_t i = 0; i < kGetRandom8.size(); ++i) {
    tis.mmio_write(tis::kDataFifo, 1, kGetRandom8[i]);
    s = sts(0);
    BOOST_TEST(((s & tis::sts::kExpect) != 0) == (i + 1 < kGetRandom8.size()), "byte " << i);
    if (i == 3) {
      set_sts(0, tis::sts::kTpmGo);
      BOOST_TEST(tis.state() == sim::TpmTis::State::reception);
    }
  }
  set_sts(0, tis::sts::kTpmGo);
  BOOST_TEST(tis.state() == sim::TpmTis::State::completion);
  s = sts(0);
  BOOST_TEST((s & tis::sts::kDataAvail) != 0u);
  BOOST_TEST(tis::sts::burst_count(s) == 16u);  // 20 response bytes, burst capped at 16
  std::vector<uint8_t> r;
  while (sts(0) & tis::sts::kDataAvail) r.push_back(static_cast<uint8_t>(tis.mmio_read(tis::kDataFifo, 1)));
  BOOST_TEST_REQUIRE(r.size() == 20u);
  BOOST_TEST((r[0] == 0x80 && r[1] == 0x01 && r[5] == 20 && r[9] == 0 && r[11] == 8));
  BOOST_TEST(tis.mmio_read(tis::kDataFifo, 1) == 0xFFu);  // nothing left
  set_sts(0, tis::sts::kResponseRetry);  // the same response again
  std::vector<uint8_t> again;
  for (int i = 0; i < 5; ++i) {
    const uint32_t four = static_cast<uint32_t>(tis.mmio_read(tis::kDataFifo, 4));  // 4-byte FIFO reads, LSB first
    for (int b = 0; b < 4; ++b) again.push_back(static_cast<uint8_t>(four >> (8 * b)));
  }
  BOOST_TEST(again == r);
  set_sts(0, tis::sts::kCommandReady);
  BOOST_TEST(tis.state() == sim::TpmTis::State::ready);
  BOOST_TEST(tis.commands_executed() == 1u);
}

BOOST_FIXTURE_TEST_CASE(inactive_locality_cannot_touch_the_fifo, Fixture) {
  set_access(2, tis::access::kRequestUse);
  set_sts(0, tis::sts::kCommandReady);  // locality 0 is not active
  BOOST_TEST(tis.state() == sim::TpmTis::State::idle);
  BOOST_TEST(tis.mmio_read(tis::kDataFifo, 1) == 0xFFu);
  BOOST_TEST(tis.mmio_read(tis::kSts, 4) == 0xFFFFFFFFu);
}

BOOST_FIXTURE_TEST_CASE(malformed_command_gets_command_size, Fixture) {
  set_access(0, tis::access::kRequestUse);
  set_sts(0, tis::sts::kCommandReady);
  const uint8_t bad[] = {0x80, 0x01, 0, 0, 0, 6};  // size 6 < header
  for (uint8_t b : bad) tis.mmio_write(tis::kDataFifo, 1, b);
  BOOST_TEST((sts(0) & tis::sts::kExpect) == 0u);
  set_sts(0, tis::sts::kTpmGo);
  std::vector<uint8_t> r;
  while (sts(0) & tis::sts::kDataAvail) r.push_back(static_cast<uint8_t>(tis.mmio_read(tis::kDataFifo, 1)));
  BOOST_TEST_REQUIRE(r.size() == 10u);
  BOOST_TEST((r[8] == 0x01 && r[9] == 0x42));  // TPM_RC_COMMAND_SIZE
}

BOOST_FIXTURE_TEST_CASE(establishment_bit_follows_the_tpm_flag, Fixture) {
  tis.set_established(true);
  BOOST_TEST((access(0) & tis::access::kTpmEstablishment) == 0);
  set_access(3, tis::access::kRequestUse);
  tis.mmio_write(3 * 0x1000 + tis::kSts + 3, 1, tis::sts::kResetEstablishmentBit >> 24);
  BOOST_TEST((access(0) & tis::access::kTpmEstablishment) != 0);
}

BOOST_FIXTURE_TEST_CASE(raw_transmit_restores_the_locality, Fixture) {
  tpm->set_locality(1);
  const std::vector<uint8_t> r = tpm->transmit(3, kGetRandom8);
  BOOST_TEST(r.size() == 20u);
  BOOST_TEST(tpm->locality() == 1);
  BOOST_CHECK_THROW(tpm->transmit(0, std::vector<uint8_t>(kGetRandom8.begin(), kGetRandom8.end() - 1)), tpm::TpmError);
}
