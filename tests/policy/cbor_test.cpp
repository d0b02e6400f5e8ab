// CBOR reader (policy/fs/cbor) + BearSSL hashing (policy/fs/hash) + PCR map names.
#define BOOST_TEST_MODULE policy_fs
#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "policy/fs/cbor.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/cbor_write.hpp"
#include "tests/policy/test_util.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using Bytes = std::vector<uint8_t>;


BOOST_AUTO_TEST_CASE(unsigned_integers_all_head_widths) {
  const std::pair<Bytes, uint64_t> cases[] = {
      {{0x00}, 0},
      {{0x17}, 23},
      {{0x18, 0x18}, 24},
      {{0x18, 0xff}, 255},
      {{0x19, 0x01, 0x00}, 256},
      {{0x19, 0xff, 0xff}, 65535},
      {{0x1a, 0x00, 0x01, 0x00, 0x00}, 65536},
      {{0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 0x100000000ULL},
      {{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, UINT64_MAX},
  };
  for (const auto& [enc, val] : cases) {
    CborReader r(enc);
    uint64_t v = 0;
    BOOST_TEST(r.read_uint(v).is_ok());
    BOOST_TEST(v == val);
    BOOST_TEST(r.at_end());
  }
}

BOOST_AUTO_TEST_CASE(signed_integers) {
  const std::pair<Bytes, int64_t> cases[] = {
      {{0x20}, -1}, {{0x26}, -7}, {{0x38, 0x22}, -35}, {{0x39, 0x01, 0x00}, -257}, {{0x0a}, 10},
      {{0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, INT64_MIN},
  };
  for (const auto& [enc, val] : cases) {
    CborReader r(enc);
    int64_t v = 0;
    BOOST_TEST(r.read_int(v).is_ok());
    BOOST_TEST(v == val);
  }
  Bytes big = {0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0};  // -2^63-1: not an int64
  CborReader r(big);
  int64_t v;
  CHECK_FAILS(r.read_int(v), Err::malformed, "out of int64 range");
}

BOOST_AUTO_TEST_CASE(strings_arrays_maps_tags_bools) {
  // 18([h'0102', "hi", {1: true, -1: false}, [0, [1]]])
  Bytes enc = {0xd2, 0x84, 0x42, 0x01, 0x02, 0x62, 'h', 'i', 0xa2, 0x01, 0xf5, 0x20, 0xf4, 0x82, 0x00, 0x81, 0x01};
  CborReader r(enc);
  CborType t;
  BOOST_TEST(r.peek_type(t).is_ok());
  BOOST_TEST(static_cast<int>(t) == static_cast<int>(CborType::tag));
  uint64_t tag, n;
  BOOST_TEST(r.read_tag(tag).is_ok());
  BOOST_TEST(tag == 18u);
  BOOST_TEST(r.read_array(n).is_ok());
  BOOST_TEST(n == 4u);
  std::span<const uint8_t> s;
  BOOST_TEST(r.read_bytes(s).is_ok());
  BOOST_TEST(Bytes(s.begin(), s.end()) == (Bytes{1, 2}));
  BOOST_TEST(r.read_text(s).is_ok());
  BOOST_TEST(std::string(s.begin(), s.end()) == "hi");
  BOOST_TEST(r.read_map(n).is_ok());
  BOOST_TEST(n == 2u);
  uint64_t k;
  bool b;
  int64_t nk;
  BOOST_TEST(r.read_uint(k).is_ok());
  BOOST_TEST(r.read_bool(b).is_ok());
  BOOST_TEST(b);
  BOOST_TEST(r.read_int(nk).is_ok());
  BOOST_TEST(nk == -1);
  BOOST_TEST(r.read_bool(b).is_ok());
  BOOST_TEST(!b);
  const size_t before = r.offset();
  BOOST_TEST(r.skip().is_ok());  // [0, [1]]
  BOOST_TEST(r.offset() == before + 4);
  BOOST_TEST(r.at_end());

  CborReader whole(enc);
  BOOST_TEST(whole.skip().is_ok());
  BOOST_TEST(whole.at_end());
}

BOOST_AUTO_TEST_CASE(writer_round_trip_is_shortest_form) {
  CborWriter w;
  w.map(3).uint(1).integer(-35).uint(2).text(std::string(300, 'x')).uint(3).bytes(Bytes(24, 7));
  const Bytes& d = w.data();
  BOOST_TEST(d[0] == 0xa3);
  BOOST_TEST(d[2] == 0x38);  // -35 → 0x38 0x22
  BOOST_TEST(d[3] == 0x22);
  CborReader r(d);
  BOOST_TEST(r.skip().is_ok());
  BOOST_TEST(r.at_end());
}

BOOST_AUTO_TEST_CASE(truncated_heads) {
  for (const Bytes& enc : {Bytes{0x18}, Bytes{0x19, 0x01}, Bytes{0x1a, 0, 0, 1}, Bytes{0x1b, 0, 0, 0, 0, 0, 0, 1}, Bytes{0x59, 0x10}}) {
    CborReader r(enc);
    CHECK_FAILS(r.skip(), Err::malformed, "truncated head");
    BOOST_TEST(r.offset() == 0u);  // failure leaves the reader where it was
  }
  CborReader e(std::span<const uint8_t>{});
  uint64_t v;
  CHECK_FAILS(e.read_uint(v), Err::malformed, "unexpected end of input at offset 0");
}

BOOST_AUTO_TEST_CASE(lengths_beyond_input) {
  // 30 bytes of padding items, then bstr of 4096 with 12 bytes left.
  Bytes enc(30, 0x00);
  enc.push_back(0x59);
  enc.push_back(0x10);
  enc.push_back(0x00);
  enc.insert(enc.end(), 12, 0xaa);
  CborReader r(enc);
  uint64_t v;
  for (int i = 0; i < 30; ++i) BOOST_TEST(r.read_uint(v).is_ok());
  std::span<const uint8_t> s;
  CHECK_FAILS(r.read_bytes(s), Err::malformed, "cbor: byte string length 4096 exceeds remaining 12 bytes at offset 30");
  CHECK_FAILS(r.skip(), Err::malformed, "byte string length 4096 exceeds remaining 12 bytes at offset 30");

  Bytes text = {0x65, 'a', 'b'};
  CborReader rt(text);
  CHECK_FAILS(rt.read_text(s), Err::malformed, "text string length 5 exceeds remaining 2 bytes at offset 0");
  Bytes arr = {0x9a, 0x7f, 0xff, 0xff, 0xff, 0x00};  // array of 2^31-1 items
  CborReader ra(arr);
  CHECK_FAILS(ra.read_array(v), Err::malformed, "array of 2147483647 items exceeds remaining 1 bytes");
  CborReader ra2(arr);
  CHECK_FAILS(ra2.skip(), Err::malformed, "array of 2147483647 items exceeds remaining 1 bytes");
  Bytes map = {0xa2, 0x01, 0x02, 0x03};
  CborReader rm(map);
  CHECK_FAILS(rm.read_map(v), Err::malformed, "map of 2 pairs exceeds remaining 3 bytes");
  Bytes nested = {0x82, 0x01, 0x43, 0x01};  // [1, h'01....'] with the bstr cut
  CborReader rn(nested);
  CHECK_FAILS(rn.skip(), Err::malformed, "byte string length 3 exceeds remaining 1 bytes at offset 2");
}

BOOST_AUTO_TEST_CASE(indefinite_lengths_rejected) {
  const std::pair<uint8_t, const char*> cases[] = {{0x5f, "indefinite-length byte string"}, {0x7f, "indefinite-length text string"},
                                                   {0x9f, "indefinite-length array"},       {0xbf, "indefinite-length map"},
                                                   {0xff, "indefinite-length simple/float"}};
  for (const auto& [ib, frag] : cases) {
    Bytes enc = {ib, 0x41, 0x00, 0xff};
    CborReader r(enc);
    CHECK_FAILS(r.skip(), Err::malformed, frag);
  }
  Bytes reserved = {0x1c};
  CborReader r(reserved);
  CHECK_FAILS(r.skip(), Err::malformed, "reserved additional info 28");
}

BOOST_AUTO_TEST_CASE(non_shortest_form_rejected) {
  for (const Bytes& enc : {Bytes{0x18, 0x17}, Bytes{0x19, 0x00, 0xff}, Bytes{0x5a, 0, 0, 0, 1, 0}, Bytes{0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}}) {
    CborReader r(enc);
    CHECK_FAILS(r.skip(), Err::malformed, "non-shortest encoding");
  }
}

BOOST_AUTO_TEST_CASE(depth_bomb) {
  Bytes arrays(100000, 0x81);  // [[[[...
  arrays.push_back(0x00);
  CborReader r(arrays);
  CHECK_FAILS(r.skip(), Err::malformed, "nesting deeper than 16");
  Bytes tags;
  for (int i = 0; i < 1000; ++i) tags.push_back(0xc1);
  tags.push_back(0x00);
  CborReader rt(tags);
  CHECK_FAILS(rt.skip(), Err::malformed, "nesting deeper than 16");
  Bytes ok(16, 0x81);  // exactly 16 levels of arrays around one uint: fine
  ok.push_back(0x00);
  CborReader ro(ok);
  BOOST_TEST(ro.skip().is_ok());
}

BOOST_AUTO_TEST_CASE(wrong_types_name_both_sides) {
  Bytes enc = {0x62, 'h', 'i'};
  CborReader r(enc);
  std::span<const uint8_t> s;
  CHECK_FAILS(r.read_bytes(s), Err::malformed, "expected byte string, found text string at offset 0");
  uint64_t v;
  CHECK_FAILS(r.read_map(v), Err::malformed, "expected map, found text string");
  bool b;
  CHECK_FAILS(r.read_bool(b), Err::malformed, "expected bool");
  BOOST_TEST(r.offset() == 0u);
}

BOOST_AUTO_TEST_CASE(bearssl_hashes_match_openssl) {
  Bytes data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  const std::pair<HashAlg, const EVP_MD*> algs[] = {
      {HashAlg::sha1, EVP_sha1()}, {HashAlg::sha256, EVP_sha256()}, {HashAlg::sha384, EVP_sha384()}, {HashAlg::sha512, EVP_sha512()}};
  for (const auto& [alg, md] : algs) {
    uint8_t want[64];
    unsigned len = 0;
    BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), want, &len, md, nullptr) == 1);
    Digest d = hash(alg, data);
    BOOST_TEST(d.size() == len);
    BOOST_TEST(Bytes(d.bytes, d.bytes + d.size()) == Bytes(want, want + len));
    Hasher h(alg);  // incremental in uneven pieces
    h.update(data.data(), 1);
    h.update(data.data() + 1, 500);
    h.update(std::span<const uint8_t>(data).subspan(501));
    Digest d2 = h.finish();
    BOOST_TEST(Bytes(d2.bytes, d2.bytes + d2.size()) == Bytes(want, want + len));
  }
  BankList banks;
  banks.count = 2;
  banks.alg[0] = HashAlg::sha1;
  banks.alg[1] = HashAlg::sha384;
  DigestList dl = hash_banks(banks, data);
  BOOST_TEST(dl.count == 2u);
  BOOST_TEST(static_cast<int>(dl.d[1].alg) == static_cast<int>(HashAlg::sha384));
}

BOOST_AUTO_TEST_CASE(event_type_names) {
  BOOST_TEST(std::string(event_type_name(kEvNoAction)) == "EV_NO_ACTION");
  BOOST_TEST(std::string(event_type_name(kEvSeparator)) == "EV_SEPARATOR");
  BOOST_TEST(std::string(event_type_name(kEvSkinitSlb)) == "EV_REDOUBT_SKINIT_SLB");
  BOOST_TEST(std::string(event_type_name(kEvHvManifest)) == "EV_REDOUBT_HV_MANIFEST");
  BOOST_TEST(std::string(event_type_name(kEvHvImage)) == "EV_REDOUBT_HV_IMAGE");
  BOOST_TEST(std::string(event_type_name(kEvHvSigner)) == "EV_REDOUBT_HV_SIGNER");
  BOOST_TEST(std::string(event_type_name(kEvLaunchPolicy)) == "EV_REDOUBT_LAUNCH_POLICY");
  BOOST_TEST(std::string(event_type_name(kEvGuestAnchor)) == "EV_REDOUBT_GUEST_ANCHOR");
  BOOST_TEST(std::string(event_type_name(kEvLaunchFailed)) == "EV_REDOUBT_LAUNCH_FAILED");
  BOOST_TEST(std::string(event_type_name(0x12345)) == "EV_UNKNOWN");
}
