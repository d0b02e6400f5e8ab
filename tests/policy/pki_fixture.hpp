// A small corporate PKI for the guest-signing tests: root -> intermediate -> leaf,
// built with OpenSSL (policy/host/pki_build.hpp), and helpers to sign and verify.
#pragma once
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/pki_build.hpp"
#include "policy/host/pki_sign.hpp"

namespace pki_test {
using namespace redoubt;
using namespace redoubt::policy;

inline constexpr int64_t kT0 = 1767225600;  // 2026-01-01T00:00:00Z: the policy time of the tests
inline constexpr int64_t kDay = 86400;

inline CertSpec ca_spec(const std::string& cn, int path_len) {
  CertSpec s{.cn = cn, .not_before = kT0 - 365 * kDay, .not_after = kT0 + 3650 * kDay};
  s.ca = true;
  s.path_len = path_len;
  s.ku_bits = kKuKeyCertSign | kKuCrlSign;
  return s;
}
inline CertSpec leaf_spec(const std::string& cn) {
  CertSpec s{.cn = cn, .not_before = kT0 - 30 * kDay, .not_after = kT0 + 365 * kDay};
  s.ku_bits = kKuDigitalSignature;
  s.eku = {kGuestSigningEku};
  return s;
}

struct Pki {
  EvpKey root_key, int_key, leaf_key;
  X509Ptr root{nullptr, X509_free}, inter{nullptr, X509_free}, leaf{nullptr, X509_free};
  explicit Pki(const std::string& kind = "P-256", const std::string& prefix = "Corp") {
    root_key = generate_signing_key(kind);
    int_key = generate_signing_key(kind);
    leaf_key = generate_signing_key(kind);
    root = issue_cert(ca_spec(prefix + " Root CA", 1), root_key, nullptr, root_key);
    inter = issue_cert(ca_spec(prefix + " Guest Signing CA", 0), int_key, root.get(), root_key);
    leaf = issue_cert(leaf_spec(prefix + " Guest Signer"), leaf_key, inter.get(), int_key);
  }
  std::vector<Bytes> chain() const { return {cert_der(leaf.get()), cert_der(inter.get())}; }
  Bytes root_der() const { return cert_der(root.get()); }
};

inline Bytes image(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + seed);
  return b;
}

inline GuestManifestInput guest_input(uint64_t svn = 7) {
  GuestManifestInput in;
  in.name = "corp-linux";
  in.version = "6.1.0-redoubt";
  in.cmdline = "console=ttyS0 quiet";
  in.svn = svn;
  in.memory_mib = 256;
  return in;
}

inline LaunchPolicyInput policy_input(const Pki& p) {
  LaunchPolicyInput in;
  in.name = "corp-policy";
  in.serial = 3;
  in.time = kT0;
  in.anchors = {p.root_der()};
  return in;
}

// Decoded policy in heap storage (it is ~9 KiB).
inline std::unique_ptr<LaunchPolicy> decode_policy(const LaunchPolicyInput& in) {
  auto lp = std::make_unique<LaunchPolicy>();
  Refusal why;
  const Bytes payload = build_launch_policy_payload(in);
  // Keep the bytes alive with the policy: stash them in a static list.
  static std::vector<std::unique_ptr<Bytes>> keep;
  keep.push_back(std::make_unique<Bytes>(payload));
  Status st = launch_policy_decode(*keep.back(), *lp, why);
  BOOST_REQUIRE_MESSAGE(st.is_ok(), st.message());
  return lp;
}

}  // namespace pki_test
