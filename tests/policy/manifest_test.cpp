// Hypervisor manifests: signed by OpenSSL (policy/host), verified by BearSSL (policy/fs).
#define BOOST_TEST_MODULE policy_manifest
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/fs/cose.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/host/cbor_write.hpp"
#include "policy/host/cose_sign.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "policy/host/manifest_json.hpp"
#include "tests/policy/test_util.hpp"

using namespace redoubt;
using namespace redoubt::policy;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes test_image(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + 7);
  return b;
}

Bytes openssl_digest(const EVP_MD* md, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) == 1);
  out.resize(len);
  return out;
}

std::string hex(std::span<const uint8_t> b) {
  std::string s;
  char t[3];
  for (uint8_t c : b) {
    snprintf(t, sizeof t, "%02x", c);
    s += t;
  }
  return s;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rd-policy-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Parses + verifies + decodes; returns the first failing Status.
Status check(std::span<const uint8_t> msg, const PublicKey& key, HvManifest& m) {
  CoseSign1 c;
  REDOUBT_TRY(cose_sign1_parse(msg, c));
  REDOUBT_TRY(cose_sign1_verify(c, key));
  return hv_manifest_decode(c.payload, m);
}

struct Curve {
  const char* name;
  CoseAlg alg;
  HashAlg digest_alg;
  size_t point;
};
const Curve kCurves[] = {{"P-256", CoseAlg::es256, HashAlg::sha256, 65}, {"P-384", CoseAlg::es384, HashAlg::sha384, 97}};

}  // namespace

BOOST_AUTO_TEST_CASE(key_files_round_trip) {
  TempDir dir;
  for (const auto& c : kCurves) {
    const std::string prefix = dir.path + "/" + c.name;
    generate_key_files(c.name, prefix);
    struct stat st{};
    BOOST_REQUIRE(stat((prefix + ".key.pem").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    std::ifstream f(prefix + ".key.pem");
    std::string first;
    std::getline(f, first);
    BOOST_TEST(first == "-----BEGIN PRIVATE KEY-----");  // PKCS#8
    std::ifstream p(prefix + ".pub.pem");
    std::getline(p, first);
    BOOST_TEST(first == "-----BEGIN PUBLIC KEY-----");  // SPKI
    EvpKey priv = load_private_key(prefix + ".key.pem");
    EvpKey pub = load_public_key(prefix + ".pub.pem");
    EvpKey pub_from_priv = load_public_key(prefix + ".key.pem");
    BOOST_TEST(key_id_hex(priv) == key_id_hex(pub));
    BOOST_TEST(key_id_hex(pub_from_priv) == key_id_hex(pub));
    BOOST_TEST(key_id_hex(pub).size() == 64u);
    PublicKey pk = cose_public_key(pub);
    BOOST_TEST(static_cast<int>(pk.alg) == static_cast<int>(c.alg));
    BOOST_TEST(pk.sec1_len == c.point);
    BOOST_TEST(pk.sec1[0] == 0x04);
    // key id = SHA-256 of the SEC1 point, computed here with OpenSSL.
    BOOST_TEST(key_id_hex(pub) == hex(openssl_digest(EVP_sha256(), Bytes(pk.sec1, pk.sec1 + pk.sec1_len))));
  }
  BOOST_CHECK_THROW(generate_key_files("P-521", dir.path + "/x"), KeyError);
  BOOST_CHECK_THROW(load_private_key(dir.path + "/missing.pem"), KeyError);
  std::ofstream(dir.path + "/junk.pem") << "not a key\n";
  try {
    load_public_key(dir.path + "/junk.pem");
    BOOST_FAIL("junk accepted");
  } catch (const KeyError& e) {
    BOOST_TEST(std::string(e.what()).find("junk.pem: not a PEM public or private key") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(openssl_signed_manifests_verify_under_bearssl) {
  const Bytes image = test_image(70000);
  for (const auto& c : kCurves) {
    BOOST_TEST_CONTEXT(c.name) {
      EvpKey key = generate_key(c.name);
      HvManifestInput in;
      in.version = "1.2.3";
      in.svn = 42;
      in.digest_alg = c.digest_alg;
      const Bytes msg = sign_hv_manifest(image, in, key);
      BOOST_TEST(msg[0] == 0xd2);  // tag 18
      const PublicKey pk = cose_public_key(key);

      CoseSign1 cs;
      BOOST_REQUIRE(cose_sign1_parse(msg, cs).is_ok());
      BOOST_TEST(static_cast<int>(cs.alg) == static_cast<int>(c.alg));
      BOOST_TEST(cs.signature.size() == (c.alg == CoseAlg::es256 ? 64u : 96u));
      BOOST_TEST(hex(cs.kid) == key_id_hex(key));
      Status vs = cose_sign1_verify(cs, pk);
      BOOST_TEST(vs.is_ok(), vs.message());
      HvManifest m;
      Status ds = hv_manifest_decode(cs.payload, m);
      BOOST_REQUIRE_MESSAGE(ds.is_ok(), ds.message());
      BOOST_TEST(std::string(m.name) == "redoubt-hypervisor");
      BOOST_TEST(std::string(m.version) == "1.2.3");
      BOOST_TEST(m.svn == 42u);
      BOOST_TEST(static_cast<int>(m.digest_alg) == static_cast<int>(c.digest_alg));
      BOOST_TEST(m.image_size == image.size());
      const Bytes want = openssl_digest(c.digest_alg == HashAlg::sha256 ? EVP_sha256() : EVP_sha384(), image);
      BOOST_TEST(Bytes(m.digest, m.digest + digest_size(m.digest_alg)) == want);
      BOOST_TEST(hex(m.signer_kid) == key_id_hex(key));

      // Deterministic payload: same input → same bytes.
      BOOST_TEST(build_hv_manifest_payload(image, in, key) == Bytes(cs.payload.begin(), cs.payload.end()));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_single_byte_flip_is_rejected) {
  const Bytes image = test_image(512);
  for (const auto& c : kCurves) {
    EvpKey key = generate_key(c.name);
    HvManifestInput in;
    in.version = "0.1";
    in.svn = 7;
    const Bytes msg = sign_hv_manifest(image, in, key);
    const PublicKey pk = cose_public_key(key);
    HvManifest m;
    BOOST_REQUIRE(check(msg, pk, m).is_ok());
    size_t accepted = 0, tried = 0;
    for (size_t off = 0; off < msg.size(); ++off) {
      for (uint8_t mask : {0x01, 0xff}) {  // the lowest bit, and every bit
        Bytes bad = msg;
        bad[off] ^= mask;
        ++tried;
        CoseSign1 cs;
        if (!cose_sign1_parse(bad, cs)) continue;
        if (!cose_sign1_verify(cs, pk)) continue;
        ++accepted;
        BOOST_ERROR(c.name << ": flip 0x" << std::hex << int(mask) << " at offset " << std::dec << off << " still verifies");
      }
    }
    BOOST_TEST(accepted == 0u);
    BOOST_TEST(tried == msg.size() * 2);
  }
}

BOOST_AUTO_TEST_CASE(other_key_and_other_curve_are_wrong_key) {
  const Bytes image = test_image(100);
  EvpKey a = generate_key("P-256"), b = generate_key("P-256"), c384 = generate_key("P-384");
  HvManifestInput in;
  in.version = "1";
  const Bytes by_b = sign_hv_manifest(image, in, b);
  HvManifest m;
  Status st = check(by_b, cose_public_key(a), m);
  CHECK_FAILS(st, Err::wrong_key, "signed by key " + key_id_hex(b).substr(0, 8) + "…, expected " + key_id_hex(a).substr(0, 8) + "…");

  const Bytes by_384 = sign_hv_manifest(image, in, c384);
  CHECK_FAILS(check(by_384, cose_public_key(a), m), Err::wrong_key, "message is ES384 but the key is ES256");

  // Without a kid, the other key's signature simply does not verify.
  CoseSign1 cs;
  BOOST_REQUIRE(cose_sign1_parse(by_b, cs).is_ok());
  cs.kid = {};
  CHECK_FAILS(cose_sign1_verify(cs, cose_public_key(a)), Err::bad_signature, "ES256 signature does not verify");
}

BOOST_AUTO_TEST_CASE(truncated_garbage_and_empty_input) {
  EvpKey key = generate_key("P-256");
  HvManifestInput in;
  in.version = "1";
  const Bytes msg = sign_hv_manifest(test_image(64), in, key);
  CoseSign1 cs;
  CHECK_FAILS(cose_sign1_parse({}, cs), Err::malformed, "empty message");
  for (size_t n = 1; n < msg.size(); ++n) {
    Status st = cose_sign1_parse(std::span<const uint8_t>(msg).first(n), cs);
    BOOST_TEST(!st.is_ok(), "prefix " << n << " parsed");
    BOOST_TEST(static_cast<int>(st.code()) == static_cast<int>(Err::malformed));
  }
  Bytes trailing = msg;
  trailing.push_back(0x00);
  CHECK_FAILS(cose_sign1_parse(trailing, cs), Err::malformed, "1 trailing bytes after COSE_Sign1");
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    Bytes g(1 + rng() % 300);
    for (auto& b : g) b = static_cast<uint8_t>(rng());
    Status st = cose_sign1_parse(g, cs);
    BOOST_TEST(!st.is_ok());
  }
  Bytes other_tag = msg;
  other_tag[0] = 0xd1;  // tag 17 = COSE_Mac0
  CHECK_FAILS(cose_sign1_parse(other_tag, cs), Err::malformed, "tag 17 is not COSE_Sign1");
  Bytes untagged(msg.begin() + 1, msg.end());  // the tag is optional (RFC 9052 §2)
  BOOST_TEST(cose_sign1_parse(untagged, cs).is_ok());
}

BOOST_AUTO_TEST_CASE(cose_header_rules) {
  EvpKey key = generate_key("P-256");
  const PublicKey pk = cose_public_key(key);
  Bytes sig(64, 1);
  auto make = [&](const Bytes& prot, const Bytes& unprot) {
    CborWriter w;
    w.tag(18).array(4).bytes(prot);
    Bytes out = w.take();
    out.insert(out.end(), unprot.begin(), unprot.end());
    CborWriter t;
    t.bytes(Bytes{0xa0}).bytes(sig);
    out.insert(out.end(), t.data().begin(), t.data().end());
    return out;
  };
  CoseSign1 cs;
  CHECK_FAILS(cose_sign1_parse(make({}, {0xa0}), cs), Err::malformed, "empty protected header");
  CHECK_FAILS(cose_sign1_parse(make({0xa0}, {0xa0}), cs), Err::malformed, "no alg");
  CHECK_FAILS(cose_sign1_parse(make({0xa1, 0x01, 0x27}, {0xa0}), cs), Err::unsupported, "unsupported alg -8");
  CHECK_FAILS(cose_sign1_parse(make({0xa2, 0x01, 0x26, 0x01, 0x26}, {0xa0}), cs), Err::malformed, "duplicate alg");
  CHECK_FAILS(cose_sign1_parse(make({0xa1, 0x01, 0x26}, {0xa1, 0x01, 0x26}), cs), Err::malformed, "duplicate alg");
  CHECK_FAILS(cose_sign1_parse(make({0xa2, 0x01, 0x26, 0x02, 0x80}, {0xa0}), cs), Err::unsupported, "critical header");
  CHECK_FAILS(cose_sign1_parse(make({0xa1, 0x01, 0x26, 0x00}, {0xa0}), cs), Err::malformed, "trailing bytes in protected header");
  CHECK_FAILS(cose_sign1_parse(make({0xa1, 0x01, 0x26}, {0x80}), cs), Err::malformed, "unprotected header");
  // kid in the unprotected map is honoured.
  Bytes unprot = {0xa1, 0x04, 0x42, 0xde, 0xad};
  const Bytes with_kid = make({0xa1, 0x01, 0x26}, unprot);  // cs points into it
  BOOST_REQUIRE(cose_sign1_parse(with_kid, cs).is_ok());
  BOOST_TEST(cs.kid.size() == 2u);
  CHECK_FAILS(cose_sign1_verify(cs, pk), Err::wrong_key, "signed by key dead…");
  // kid in both buckets is a duplicate (RFC 9052 §3).
  CHECK_FAILS(cose_sign1_parse(make({0xa2, 0x01, 0x26, 0x04, 0x41, 0x01}, unprot), cs), Err::malformed, "duplicate kid");
  // wrong signature size.
  sig.resize(63);
  CHECK_FAILS(cose_sign1_parse(make({0xa1, 0x01, 0x26}, {0xa0}), cs), Err::malformed, "signature is 63 bytes, expected 64");
  // RS256 parses (any non-empty signature) but verification is not implemented.
  sig.assign(384, 1);
  const Bytes rs = make({0xa1, 0x01, 0x39, 0x01, 0x00}, {0xa0});  // alg -257
  BOOST_REQUIRE(cose_sign1_parse(rs, cs).is_ok());
  BOOST_TEST(static_cast<int>(cs.alg) == static_cast<int>(CoseAlg::rs256));
  PublicKey rk;
  rk.alg = CoseAlg::rs256;
  CHECK_FAILS(cose_sign1_verify(cs, rk), Err::unsupported, "RS256 verification not implemented");
}

BOOST_AUTO_TEST_CASE(hv_manifest_payload_rules) {
  const uint8_t d32[32] = {}, kid[32] = {};
  // Builds a payload from (key, writer-callback) pairs in the given order.
  auto base = [&](int skip_key, int dup_key, int extra_key) {
    CborWriter w;
    int n = 8 - (skip_key ? 1 : 0) + (dup_key ? 1 : 0) + (extra_key ? 1 : 0);
    w.map(n);
    for (int k = 1; k <= 8; ++k) {
      for (int rep = 0; rep < (k == dup_key ? 2 : 1); ++rep) {
        if (k == skip_key) continue;
        w.uint(k);
        switch (k) {
          case 1: w.text(kHvManifestType); break;
          case 2: w.text("hv"); break;
          case 3: w.text("1.0"); break;
          case 4: w.uint(3); break;
          case 5: w.uint(0x000B); break;
          case 6: w.bytes(d32); break;
          case 7: w.uint(4096); break;
          case 8: w.bytes(kid); break;
        }
      }
    }
    if (extra_key) w.uint(extra_key).uint(0);
    return w.take();
  };
  HvManifest m;
  BOOST_TEST(hv_manifest_decode(base(0, 0, 0), m).is_ok());
  BOOST_TEST(m.image_size == 4096u);
  BOOST_TEST(m.svn == 3u);
  CHECK_FAILS(hv_manifest_decode(base(4, 0, 0), m), Err::malformed, "missing key 4 (svn)");
  CHECK_FAILS(hv_manifest_decode(base(0, 3, 0), m), Err::malformed, "duplicate key 3 (version)");
  CHECK_FAILS(hv_manifest_decode(base(0, 0, 9), m), Err::malformed, "unknown key 9");
  Bytes trailing = base(0, 0, 0);
  trailing.push_back(0);
  CHECK_FAILS(hv_manifest_decode(trailing, m), Err::malformed, "1 trailing bytes");
  CHECK_FAILS(hv_manifest_decode({}, m), Err::malformed, "payload is not a map");

  auto with = [&](int key, auto&& write) {
    CborWriter w;
    w.map(8);
    for (int k = 1; k <= 8; ++k) {
      w.uint(k);
      if (k == key) {
        write(w);
        continue;
      }
      switch (k) {
        case 1: w.text(kHvManifestType); break;
        case 2: w.text("hv"); break;
        case 3: w.text("1.0"); break;
        case 4: w.uint(3); break;
        case 5: w.uint(0x000B); break;
        case 6: w.bytes(d32); break;
        case 7: w.uint(4096); break;
        case 8: w.bytes(kid); break;
      }
    }
    return w.take();
  };
  CHECK_FAILS(hv_manifest_decode(with(1, [](CborWriter& w) { w.text("redoubt.hv-manifest/2"); }), m), Err::malformed,
              "type \"redoubt.hv-manifest/2\" is not \"redoubt.hv-manifest/1\"");
  // Found by fuzz_cose_manifest: a wrong type with NUL/non-printable bytes is quoted safely.
  CHECK_FAILS(hv_manifest_decode(with(1, [](CborWriter& w) { w.text(std::string("redoubt\0\x01hv", 11)); }), m), Err::malformed,
              "type \"redoubt??hv\" is not");
  CHECK_FAILS(hv_manifest_decode(with(1, [](CborWriter& w) { w.text(std::string(100, 'z')); }), m), Err::malformed,
              "type \"" + std::string(39, 'z') + "\" is not");
  CHECK_FAILS(hv_manifest_decode(with(2, [](CborWriter& w) { w.text(std::string(64, 'n')); }), m), Err::malformed,
              "name is 64 bytes, at most 63");
  BOOST_TEST(hv_manifest_decode(with(2, [](CborWriter& w) { w.text(std::string(63, 'n')); }), m).is_ok());
  CHECK_FAILS(hv_manifest_decode(with(3, [](CborWriter& w) { w.text(std::string(32, 'v')); }), m), Err::malformed,
              "version is 32 bytes, at most 31");
  CHECK_FAILS(hv_manifest_decode(with(2, [](CborWriter& w) { w.text(std::string("a\0b", 3)); }), m), Err::malformed, "NUL");
  CHECK_FAILS(hv_manifest_decode(with(4, [](CborWriter& w) { w.integer(-1); }), m), Err::malformed,
              "field svn: cbor: expected unsigned integer, found negative integer");
  CHECK_FAILS(hv_manifest_decode(with(2, [](CborWriter& w) { w.bytes(Bytes{1}); }), m), Err::malformed,
              "field name: cbor: expected text string, found byte string");
  CHECK_FAILS(hv_manifest_decode(with(5, [](CborWriter& w) { w.uint(0x000C); }), m), Err::malformed, "digest is 32 bytes, sha384 needs 48");
  CHECK_FAILS(hv_manifest_decode(with(5, [](CborWriter& w) { w.uint(0x0004); }), m), Err::unsupported, "digest_alg 0x0004");
  CHECK_FAILS(hv_manifest_decode(with(8, [](CborWriter& w) { w.bytes(Bytes(20, 0)); }), m), Err::malformed, "signer is 20 bytes");
  // Keys out of order (deterministic encoding sorts them).
  CborWriter w;
  w.map(2).uint(2).text("x").uint(1).text(kHvManifestType);
  CHECK_FAILS(hv_manifest_decode(w.data(), m), Err::malformed, "key 1 after 2: keys not in ascending order");

  HvManifestInput in;
  in.name = std::string(64, 'x');
  EvpKey key = generate_key("P-256");
  BOOST_CHECK_THROW(build_hv_manifest_payload(Bytes{}, in, key), ManifestError);
}

BOOST_AUTO_TEST_CASE(manifest_json_shows_fields) {
  EvpKey key = generate_key("P-384");
  const Bytes image = test_image(1234);
  HvManifestInput in;
  in.version = "2.0.1";
  in.svn = 9;
  in.digest_alg = HashAlg::sha384;
  const Bytes msg = sign_hv_manifest(image, in, key);
  nlohmann::json j = manifest_to_json(msg);
  BOOST_TEST(j["protected"]["alg"] == "ES384");
  BOOST_TEST(j["protected"]["kid"] == key_id_hex(key));
  BOOST_TEST(j["unprotected"].is_object());
  BOOST_TEST(j["unprotected"].empty());
  const auto& p = j["payload"];
  BOOST_TEST(p["type"] == "redoubt.hv-manifest/1");
  BOOST_TEST(p["name"] == "redoubt-hypervisor");
  BOOST_TEST(p["version"] == "2.0.1");
  BOOST_TEST(p["svn"] == 9);
  BOOST_TEST(p["digest_alg"] == "sha384");
  BOOST_TEST(p["digest"] == hex(openssl_digest(EVP_sha384(), image)));
  BOOST_TEST(p["size"] == 1234);
  BOOST_TEST(p["signer"] == key_id_hex(key));
  BOOST_TEST(j["signature"].get<std::string>().size() == 192u);

  Bytes bad = msg;
  bad.resize(bad.size() - 10);
  try {
    manifest_to_json(bad);
    BOOST_FAIL("truncated manifest accepted");
  } catch (const ManifestError& e) {
    BOOST_TEST(std::string(e.what()).find("manifest: cose: signature: cbor: byte string length 96 exceeds remaining 86 bytes") == 0, e.what());
  }
}
