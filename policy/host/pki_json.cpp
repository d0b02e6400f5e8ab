#include "policy/host/pki_json.hpp"

#include <openssl/x509.h>

#include <memory>

#include "policy/fs/cbor.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/pki_build.hpp"

#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

std::string name_text(const X509_NAME* n) {
  char buf[256];
  X509_NAME_oneline(n, buf, sizeof buf);
  return buf;
}

std::string asn1_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (!ASN1_TIME_to_tm(t, &tm)) return "?";
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json cert_json(std::span<const uint8_t> der) {
  nlohmann::json j;
  try {
    X509Ptr c = cert_from_der(der);
    j["subject"] = name_text(X509_get_subject_name(c.get()));
    j["issuer"] = name_text(X509_get_issuer_name(c.get()));
    j["serial"] = hex(serial_content(c.get()));
    j["not_before"] = asn1_time(X509_get0_notBefore(c.get()));
    j["not_after"] = asn1_time(X509_get0_notAfter(c.get()));
    j["spki_sha256"] = hex(spki_sha256(c.get()));
  } catch (const std::exception& e) {
    j["error"] = e.what();
  }
  j["sha256"] = hex(sha256(der));
  return j;
}

std::string iso_time(uint64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string str(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

nlohmann::json protected_json(const CoseSign1& msg) {
  return {{"alg", cose_alg_name(msg.alg)}, {"kid", hex(msg.kid)}};
}

}  // namespace

std::string cose_payload_type(std::span<const uint8_t> cose_bytes) {
  CoseSign1 msg;
  if (!cose_sign1_parse(cose_bytes, msg)) return "";
  CborReader r(msg.payload);
  uint64_t n, k;
  std::span<const uint8_t> t;
  if (!r.read_map(n) || n == 0 || !r.read_uint(k) || k != 1 || !r.read_text(t)) return "";
  return str(t);
}

nlohmann::json guest_manifest_to_json(std::span<const uint8_t> cose_bytes) {
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose_bytes, msg);
  if (!st) throw ManifestError(std::string("guest-manifest: ") + st.message());
  GuestManifest m;
  Refusal why;
  st = guest_manifest_decode(msg.payload, m, why);
  if (!st) throw ManifestError(st.message());
  // x5chain: walk the unprotected map again.
  nlohmann::json chain = nlohmann::json::array();
  {
    CborReader r(cose_bytes);
    CborType t;
    uint64_t v, n;
    std::span<const uint8_t> b;
    if (r.peek_type(t) && t == CborType::tag) (void)r.read_tag(v);
    (void)r.read_array(v);
    (void)r.read_bytes(b);
    if (r.read_map(n))
      for (uint64_t i = 0; i < n; ++i) {
        int64_t label = 0;
        if (!r.read_int(label)) break;
        if (label != kCoseX5Chain) {
          if (!r.skip()) break;
          continue;
        }
        if (r.peek_type(t) && t == CborType::bytes) {
          if (r.read_bytes(b)) chain.push_back(cert_json(b));
        } else if (r.read_array(v)) {
          for (uint64_t j = 0; j < v && r.read_bytes(b); ++j) chain.push_back(cert_json(b));
        }
      }
  }
  nlohmann::json p = {{"type", kGuestManifestType},
                      {"name", m.name},
                      {"version", m.version},
                      {"svn", m.svn},
                      {"digest_alg", hash_alg_name(m.digest_alg)},
                      {"kernel_digest", hex({m.kernel_digest, digest_size(m.digest_alg)})},
                      {"kernel_size", m.kernel_size},
                      {"cmdline", str(m.cmdline)},
                      {"memory_mib", m.memory_mib}};
  if (m.has_initrd) {
    p["initrd_digest"] = hex({m.initrd_digest, digest_size(m.digest_alg)});
    p["initrd_size"] = m.initrd_size;
  }
  return {{"protected", protected_json(msg)}, {"unprotected", {{"x5chain", chain}}}, {"payload", p}, {"signature", hex(msg.signature)}};
}

nlohmann::json launch_policy_to_json(std::span<const uint8_t> cose_bytes) {
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose_bytes, msg);
  if (!st) throw ManifestError(std::string("launch-policy: ") + st.message());
  auto lp = std::make_unique<LaunchPolicy>();
  Refusal why;
  st = launch_policy_decode(msg.payload, *lp, why);
  if (!st) throw ManifestError(st.message());
  nlohmann::json anchors = nlohmann::json::array();
  for (size_t i = 0; i < lp->anchor_count; ++i) anchors.push_back(cert_json(lp->anchors[i].der));
  nlohmann::json revs = nlohmann::json::array();
  for (size_t i = 0; i < lp->revocation_count; ++i) {
    const Revocation& r = lp->revocations[i];
    if (r.kind == Revocation::by_serial)
      revs.push_back({{"kind", "serial"}, {"issuer_name_sha256", hex(r.digest)}, {"serial", hex({r.serial, r.serial_len})}});
    else
      revs.push_back({{"kind", "spki"}, {"spki_sha256", hex(r.digest)}});
  }
  nlohmann::json svn = nlohmann::json::object();
  for (size_t i = 0; i < lp->min_svn_count; ++i) svn[lp->min_svn[i].name] = lp->min_svn[i].svn;
  nlohmann::json cpuid = nlohmann::json::array();
  static const char* kRegs[] = {"eax", "ebx", "ecx", "edx"};
  for (size_t i = 0; i < lp->cpuid_count; ++i) {
    const CpuidMask& c = lp->cpuid[i];
    cpuid.push_back({{"leaf", c.leaf}, {"subleaf", c.subleaf}, {"reg", kRegs[c.reg]}, {"clear", c.clear}});
  }
  nlohmann::json io = nlohmann::json::array();
  for (size_t i = 0; i < lp->io_count; ++i) io.push_back({{"first", lp->io[i].first}, {"last", lp->io[i].last}});
  const CertProfile& pr = lp->profile;
  nlohmann::json p = {{"type", kLaunchPolicyType},
                      {"name", lp->name},
                      {"serial", lp->serial},
                      {"time", iso_time(lp->time)},
                      {"anchors", anchors},
                      {"profile",
                       {{"eku", oid_dotted(pr.eku_oid())},
                        {"max_intermediates", pr.max_intermediates},
                        {"leaf_key_usage", pr.leaf_key_usage},
                        {"ca_key_usage", pr.ca_key_usage},
                        {"min_rsa_bits", pr.min_rsa_bits}}},
                      {"revocations", revs},
                      {"min_svn", svn},
                      {"unsigned", lp->unsigned_guests == UnsignedGuests::allow_unmeasured ? "allow-unmeasured" : "refuse"},
                      {"guest_cpuid", cpuid},
                      {"guest_io", io}};
  return {{"protected", protected_json(msg)}, {"unprotected", nlohmann::json::object()}, {"payload", p}, {"signature", hex(msg.signature)}};
}

}  // namespace redoubt::policy
