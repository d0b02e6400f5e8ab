// The fast path for request bodies (attestation/common/json_fast.hpp, issue 13 throughput) gives
// exactly what nlohmann::json::parse gives for what it accepts, and gives nothing (so nlohmann
// parses, and rejects with its error) for everything outside its subset; parse_json_body still
// rejects malformed bodies with malformed_json.
#define BOOST_TEST_MODULE attest_json_fast
#include <boost/test/unit_test.hpp>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/common/json_fast.hpp"

using namespace redoubt::attest;
using nlohmann::json;

namespace {
std::string code_of(const std::string& body) {
  try {
    parse_json_body(body);
  } catch (const AttestError& e) {
    return e.code();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(accepted_bodies_parse_as_nlohmann_parses_them) {
  Evidence e;
  e.quote = Bytes(151, 0xa5);
  e.signature = Bytes(72, 0x3c);
  e.pcrs = Bytes(300, 0x11);
  e.eventlog = Bytes(9000, 0x7f);
  e.ak_public = Bytes(90, 0x42);
  const std::string verify = json{{"evidence", evidence_to_json(e)}, {"nonce", std::string(64, 'a')}}.dump();
  for (const std::string& t : {verify, json{{"evidence", evidence_to_json(e)}, {"nonce", "00"}}.dump(2),
                               std::string("{}"), std::string(" \t\r\n{ \"a\" : \"\" , \"b\":{ } }\n"),
                               std::string(R"({"k":"~ !#$%&'()*+,-./:;<=>?@[]^_`{|}","x":{"y":{"z":"1"}}})"),
                               std::string(R"({"a":{"b":{"c":"d"}}})")}) {
    const auto fast = parse_flat_json(t);
    BOOST_TEST_REQUIRE(fast.has_value(), t.substr(0, 80));
    BOOST_TEST(*fast == json::parse(t), t.substr(0, 80));
    BOOST_TEST(fast->dump() == json::parse(t).dump());
    BOOST_TEST(parse_json_body(t) == json::parse(t));
  }
  // The evidence decoded from the fast path is the evidence encoded.
  const Evidence back = evidence_from_json(parse_flat_json(verify)->at("evidence"));
  BOOST_TEST((back.eventlog == e.eventlog && back.quote == e.quote && back.signature == e.signature && back.ak_public == e.ak_public));
}

BOOST_AUTO_TEST_CASE(outside_the_subset_the_fast_path_gives_nothing) {
  // Valid JSON that nlohmann parses (the caller falls back to it, and gets the same value as before).
  for (const std::string& t : {std::string(R"({"a":"\u0041"})"), std::string(R"({"a":"q\"q"})"), std::string("{\"a\":\"\xc3\xa9\"}"),
                               std::string(R"({"a":1})"), std::string(R"({"a":true})"), std::string(R"({"a":null})"),
                               std::string(R"({"a":["x"]})"), std::string(R"({"a":"x","a":"y"})"), std::string(R"(["x"])"),
                               std::string(R"("x")"), std::string(R"({"a":{"b":{"c":{"d":{"e":"f"}}}}})")}) {
    BOOST_TEST(!parse_flat_json(t).has_value(), t);
    BOOST_TEST(parse_json_body(t.front() == '{' ? t : "{\"w\":" + t + "}") == json::parse(t.front() == '{' ? t : "{\"w\":" + t + "}"), t);
  }
  // Not JSON at all: nothing from the fast path, and parse_json_body names the error.
  for (const std::string& t : {std::string(""), std::string("{"), std::string(R"({"a":"x")"), std::string(R"({"a":"x"}})"),
                               std::string(R"({"a":"x",})"), std::string(R"({"a" "x"})"), std::string(R"({"a":"x"} x)"),
                               std::string("{\"a\":\"x\ty\"}"), std::string("{\"a\":\"\xff\"}"), std::string(R"({a:"x"})"),
                               std::string(R"({"a":})"), std::string(R"({,})")}) {
    BOOST_TEST(!parse_flat_json(t).has_value(), t);
    BOOST_TEST(code_of(t) == "malformed_json", t);
  }
  // A JSON value that is not an object: parsed by nlohmann, refused by parse_json_body.
  BOOST_TEST(code_of(R"(["x"])") == "malformed_json");
}

// The string scan takes 16 bytes at a time (SSE2) and then goes byte by byte: a byte outside the
// subset must stop it wherever it falls in a block, and a plain string of any length must pass.
BOOST_AUTO_TEST_CASE(the_string_scan_stops_at_any_offset) {
  for (size_t len = 0; len <= 50; ++len) {
    std::string v;
    for (size_t i = 0; i < len; ++i) v += static_cast<char>(0x20 + (i * 7) % 0x5f);  // 0x20..0x7E
    std::erase(v, '"');
    std::erase(v, '\\');
    const std::string t = "{\"k\":\"" + v + "\"}";
    const auto fast = parse_flat_json(t);
    BOOST_TEST_REQUIRE(fast.has_value(), t);
    BOOST_TEST(fast->at("k") == v);
  }
  for (const char bad : {'\x00', '\x1f', '\\', '"', '\x7f', '\x80', '\xc3', '\xff'}) {
    for (size_t at = 0; at < 40; ++at) {
      std::string v(40, 'A');
      v[at] = bad;
      const std::string t = "{\"k\":\"" + v + "\"}";
      BOOST_TEST(!parse_flat_json(t).has_value(), "byte " << int(static_cast<uint8_t>(bad)) << " at " << at);
    }
  }
}
