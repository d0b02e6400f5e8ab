// Crafted DRTM event logs for the verifier's tests (no TPM): a log being written with the
// PCR17-20 values a TPM would hold after the same extends (computed here with OpenSSL, never by
// the code under test), and one hypervisor launch's events in the order sl/secure_loader.cpp
// makes them (docs/pcr-map.md).
#pragma once
#include <map>
#include <string>

#include "attestation/tpm/pcr_file.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/keys.hpp"
#include "tests/support/launch_fixture.hpp"

namespace redoubt::test::crafted {

inline Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline const Bytes kSep = {0, 0, 0, 0};

// A log being written, and the PCR17-20 values a TPM would hold after the same extends.
struct CraftedLog {
  BankList banks{2, {HashAlg::sha256, HashAlg::sha384}};
  Bytes buf = Bytes(1 << 18);
  policy::EventLogWriter w{buf.data(), buf.size()};
  std::map<uint32_t, Bytes> pcr256, pcr384;
  size_t count = 0;

  CraftedLog() {
    BOOST_TEST_REQUIRE(static_cast<bool>(w.write_header(banks)));
    for (uint32_t p = 17; p <= 20; ++p) pcr256[p] = zeros(32), pcr384[p] = zeros(48);
  }
  // Appends one record (digest over `over`, else over the data); returns its index.
  size_t add(uint32_t pcr, uint32_t type, const Bytes& data, const Bytes* over = nullptr) {
    const Bytes& d = over ? *over : data;
    BOOST_TEST_REQUIRE(static_cast<bool>(w.append(pcr, type, policy::hash_banks(banks, d), data)));
    if (pcr >= 17 && pcr <= 20 && type != policy::kEvNoAction) {  // what the TPM extends (PFP §10.4.5) and the quote covers
      pcr256[pcr] = extend("SHA256", pcr256[pcr], sha("SHA256", d));
      pcr384[pcr] = extend("SHA384", pcr384[pcr], sha("SHA384", d));
    }
    return count++;
  }
  Bytes bytes() const { return Bytes(buf.begin(), buf.begin() + static_cast<long>(w.size())); }
  attest::QuotedPcrs quoted() const {
    attest::QuotedPcrs q;
    q.selection = attest::make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
    for (uint32_t p = 17; p <= 20; ++p) q.values.push_back(pcr256.at(p));
    for (uint32_t p = 17; p <= 20; ++p) q.values.push_back(pcr384.at(p));
    return q;
  }
};

// One hypervisor launch's inputs: image, signed manifest payload, signer key, SLB.
struct Boot {
  const policy::EvpKey& key;
  Bytes image, payload, signer, slb;
  uint64_t svn;
  Boot(const policy::EvpKey& k, uint64_t s, const std::string& tag) : key(k), svn(s) {
    image = text("hypervisor image " + tag);
    slb = text("SLB bytes " + tag);
    policy::HvManifestInput in;
    in.version = "0.1." + std::to_string(s);
    in.svn = s;
    payload = policy::build_hv_manifest_payload(image, in, key);
    const policy::PublicKey pk = policy::cose_public_key(key);
    signer.assign(pk.bytes().begin(), pk.bytes().end());
  }
  // The SL's measurements in the order sl/secure_loader.cpp makes them (docs/pcr-map.md).
  // `tamper_signer`: the signer event's data edited after measurement (its digests are over the real key).
  void sl(CraftedLog& l, bool tamper_signer = false) const {
    l.add(17, policy::kEvSkinitSlb, text("SKINIT SLB base=0x1000000 length=0x9000"), &slb);
    l.add(17, policy::kEvHvManifest, payload);
    l.add(17, policy::kEvHvImage, text("hypervisor image redoubt-hypervisor"), &image);
    Bytes shown = signer;
    if (tamper_signer) shown.back() ^= 0x01;
    l.add(18, policy::kEvHvSigner, shown, &signer);
    l.add(17, policy::kEvSeparator, kSep);
    l.add(18, policy::kEvSeparator, kSep);
  }
  // The hypervisor with no guests: it closes PCR19/20.
  static void no_guests(CraftedLog& l) {
    l.add(19, policy::kEvSeparator, kSep);
    l.add(20, policy::kEvSeparator, kSep);
  }
  // The launch events of this boot on another PCR (the attack: outside the quote).
  void launch_events_on(CraftedLog& l, uint32_t pcr) const {
    l.add(pcr, policy::kEvSkinitSlb, text("SKINIT SLB"), &slb);
    l.add(pcr, policy::kEvHvManifest, payload);
    l.add(pcr, policy::kEvHvImage, text("hypervisor image"), &image);
    l.add(pcr, policy::kEvHvSigner, signer);
  }
};

}  // namespace redoubt::test::crafted
