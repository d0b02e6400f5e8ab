// Fuzz-style: the TPM 2.0 response parsers (platform/x86/drivers/tpm2_commands)
// fed every truncation and many random mutations of real responses, plus pure
// noise. Built with AddressSanitizer + UBSan (see CMakeLists.txt): no crash, no
// out-of-bounds read, and a failure is always an error with a message.
#define BOOST_TEST_MODULE x86_tpm2_parse_fuzz
#include <boost/test/unit_test.hpp>

#include <random>

#include "arch/tpm/tpm2.hpp"
#include "platform/x86/drivers/tpm2_commands.hpp"
#include "tests/platform/sim/tpm_test_util.hpp"
#include "tpm/tpm_device.hpp"

using namespace redoubt;
namespace t2 = redoubt::x86::tpm2;

namespace {
// Runs every parser over one candidate response; returns how many accepted it.
int parse_all(const std::vector<uint8_t>& r) {
  // Exact-size heap copy so ASan sees any read past the end.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[r.size() ? r.size() : 1]);
  std::copy(r.begin(), r.end(), buf.get());
  int ok = 0;
  BankList banks;
  Status s = t2::parse_get_capability_pcrs(buf.get(), r.size(), banks);
  ok += s.is_ok();
  BOOST_REQUIRE(s.is_ok() || s.message()[0] != 0);
  s = t2::parse_pcr_extend(buf.get(), r.size(), 17, 2);
  ok += s.is_ok();
  t2::NvPublic pub;
  s = t2::parse_nv_read_public(buf.get(), r.size(), 0x01500000, 2, pub);
  ok += s.is_ok();
  uint64_t v = 0;
  s = t2::parse_nv_read_counter(buf.get(), r.size(), 0x01500000, 2, v);
  ok += s.is_ok();
  return ok;
}
}  // namespace

BOOST_AUTO_TEST_CASE(real_responses_truncated_and_mutated) {
  tpmtest::TempDir dir("fuzz");
  auto tpm = tpm::open_tpm(tpm::TpmSpec::parse("inproc:state=" + dir.path));
  tpm->nv_define_counter(0x01500000);
  const BankList banks = tpm->active_banks();
  std::vector<std::vector<uint8_t>> seeds;
  uint8_t cmd[4096];
  auto run = [&](size_t n, uint8_t loc) { seeds.push_back(tpm->transmit(loc, {cmd, n})); };
  run(t2::build_get_capability_pcrs(cmd, sizeof cmd), 0);
  run(t2::build_pcr_extend(cmd, sizeof cmd, 17, tpmtest::digests_of(banks, {1, 2, 3})), 2);
  run(t2::build_pcr_extend(cmd, sizeof cmd, 17, tpmtest::digests_of(banks, {1, 2, 3})), 0);  // an error response
  run(t2::build_nv_read_public(cmd, sizeof cmd, 0x01500000), 2);
  run(t2::build_nv_read(cmd, sizeof cmd, 0x01500000, 8, 0), 2);
  // Each seed is accepted by its own parser.
  BOOST_TEST(parse_all(seeds[0]) >= 1);
  BOOST_TEST(parse_all(seeds[1]) >= 1);
  BOOST_TEST(parse_all(seeds[3]) >= 1);
  BOOST_TEST(parse_all(seeds[4]) >= 1);

  std::mt19937_64 rng(20261202);
  uint64_t cases = 0;
  for (const auto& seed : seeds) {
    for (size_t n = 0; n < seed.size(); ++n) {  // every truncation, header size left as is...
      std::vector<uint8_t> t(seed.begin(), seed.begin() + n);
      parse_all(t);
      if (n >= 6) {  // ...and with the header size made consistent, so the body parsers see it
        t[2] = uint8_t(n >> 24), t[3] = uint8_t(n >> 16), t[4] = uint8_t(n >> 8), t[5] = uint8_t(n);
        BOOST_TEST(parse_all(t) == 0, "truncated to " << n);
      }
      cases += 2;
    }
    for (int i = 0; i < 20000; ++i) {  // random byte mutations, sizes kept consistent half the time
      std::vector<uint8_t> m = seed;
      const int flips = 1 + int(rng() % 4);
      for (int f = 0; f < flips; ++f) m[rng() % m.size()] = uint8_t(rng());
      if (rng() & 1) m.resize(rng() % (m.size() + 8), uint8_t(rng()));
      if ((rng() & 1) && m.size() >= 6) {
        const size_t n = m.size();
        m[2] = uint8_t(n >> 24), m[3] = uint8_t(n >> 16), m[4] = uint8_t(n >> 8), m[5] = uint8_t(n);
      }
      parse_all(m);
      ++cases;
    }
  }
  for (int i = 0; i < 20000; ++i) {  // noise with a plausible header
    std::vector<uint8_t> m(10 + rng() % 80);
    for (auto& b : m) b = uint8_t(rng());
    m[0] = 0x80, m[1] = (rng() & 1) ? 0x01 : 0x02;
    m[2] = m[3] = m[4] = 0, m[5] = uint8_t(m.size());
    m[6] = m[7] = m[8] = m[9] = 0;
    parse_all(m);
    ++cases;
  }
  BOOST_TEST_MESSAGE("parsed " << cases << " mutated responses");
  BOOST_TEST(cases > 100000u);
}
