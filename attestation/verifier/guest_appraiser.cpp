#include "attestation/verifier/guest_appraiser.hpp"

#include <openssl/x509.h>

#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "attestation/verifier/log_event_text.hpp"
#include "policy/fs/cbor.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/fs/launch_policy.hpp"
#include "policy/fs/x509_chain.hpp"
#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
namespace {

using policy::LogEvent;

// Event data as text for messages: printable ASCII kept, anything else '?', at most 200 bytes.
std::string printable(std::span<const uint8_t> d) {
  std::string s;
  for (size_t i = 0; i < d.size() && i < 200; ++i) s += (d[i] >= 0x20 && d[i] < 0x7f) ? static_cast<char>(d[i]) : '?';
  return s;
}

// The PCR each guest-related event belongs on (docs/pcr-map.md); 0 = either 19 or 20.
uint32_t expected_pcr(uint32_t type) {
  switch (type) {
    case policy::kEvLaunchPolicy: return 17;
    case policy::kEvGuestAnchor: return 18;
    case policy::kEvGuestChain:
    case policy::kEvGuestUnsigned: return 19;
    case policy::kEvGuestManifest:
    case policy::kEvGuestImage: return 20;
    default: return 0;
  }
}

// RFC 9360 §2: x5chain is one bstr (the leaf) or an array of bstr, leaf first.
std::string leaf_of_x5chain(std::span<const uint8_t> item, std::span<const uint8_t>& leaf, size_t& count) {
  policy::CborReader r(item);
  policy::CborType t;
  if (Status st = r.peek_type(t); !st) return st.message();
  if (t == policy::CborType::bytes) {
    if (Status st = r.read_bytes(leaf); !st) return st.message();
    count = 1;
  } else if (t == policy::CborType::array) {
    uint64_t n = 0;
    if (Status st = r.read_array(n); !st) return st.message();
    if (n == 0 || n > policy::kMaxChain) return "x5chain has " + std::to_string(n) + " certificates (1.." + std::to_string(policy::kMaxChain) + ")";
    for (uint64_t i = 0; i < n; ++i) {
      std::span<const uint8_t> c;
      if (Status st = r.read_bytes(c); !st) return "certificate " + std::to_string(i) + ": " + st.message();
      if (i == 0) leaf = c;
    }
    count = n;
  } else {
    return "x5chain is neither a bstr nor an array of bstr";
  }
  if (!r.at_end()) return "trailing bytes after the x5chain item";
  return {};
}

// A certificate's subject for people ("/O=…/CN=…"), "" if it does not parse. The
// certificate is parsed with the hypervisor's own X.509 parser (policy/fs/x509_chain):
// OpenSSL's d2i_X509 was 50% of an appraisal's time (bench_attest).
bool parse_cert(std::span<const uint8_t> der, policy::X509Cert& c, std::string& why) {
  policy::Refusal r{};
  Status st = policy::x509_parse(der, c, r);
  if (!st) why = std::string(policy::refusal_name(r)) + ": " + st.message();
  return static_cast<bool>(st);
}

std::string subject_of(const policy::X509Cert& c) {
  const unsigned char* p = c.subject.data();
  X509_NAME* n = d2i_X509_NAME(nullptr, &p, static_cast<long>(c.subject.size()));
  if (!n) return "";
  char buf[256];
  X509_NAME_oneline(n, buf, sizeof buf);
  X509_NAME_free(n);
  return buf;
}

// What a certificate or a launch policy decodes to depends on its bytes alone, and a fleet's logs carry
// the same few (the owner's launch policy, its anchors, each guest signer's leaf): each is decoded once
// and its result kept, keyed by the exact bytes (issue 13: d2i of the subject, x509_parse and
// launch_policy_decode were ~30 % of a first-seen log's appraisal). Bounded: when full it starts over.
template <class Value>
class DecodeMemo {
 public:
  template <class Decode>
  std::shared_ptr<const Value> get(std::span<const uint8_t> bytes, Decode decode) {
    std::string key(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    auto v = std::make_shared<const Value>(decode(bytes));
    std::lock_guard<std::mutex> l(mu_);
    if (map_.size() >= kMaxEntries || key.size() > kMaxKeyBytes) {
      if (key.size() > kMaxKeyBytes) return v;
      map_.clear();
    }
    map_.emplace(std::move(key), v);
    return v;
  }

 private:
  static constexpr size_t kMaxEntries = 512, kMaxKeyBytes = 64 * 1024;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Value>> map_;
};

// A certificate as the claims and findings use it.
struct DecodedCert {
  bool ok = false;
  std::string why;      // the parser's refusal when !ok
  std::string subject;  // log_string(subject_of(cert))
  std::string spki_sha256;  // hex SHA-256 of the SubjectPublicKeyInfo DER (docs/pki.md §4: a manifest's kid)
};

std::shared_ptr<const DecodedCert> decoded_cert(std::span<const uint8_t> der) {
  static DecodeMemo<DecodedCert> memo;
  return memo.get(der, [](std::span<const uint8_t> d) {
    DecodedCert out;
    policy::X509Cert cert;
    out.ok = parse_cert(d, cert, out.why);
    if (out.ok) {
      out.subject = log_string(subject_of(cert));
      out.spki_sha256 = to_hex(tpm_hash(TPM2_ALG_SHA256, cert.spki));
    }
    return out;
  });
}

// The launch policy's fields the claims name (policy/fs/launch_policy.hpp), or why it does not decode.
struct DecodedLaunchPolicy {
  bool ok = false;
  std::string why;  // "<refusal>: <message>" when !ok
  std::string name;
  uint64_t serial = 0, time = 0;
  bool unsigned_allowed = false;
};

std::shared_ptr<const DecodedLaunchPolicy> decoded_launch_policy(std::span<const uint8_t> payload) {
  static DecodeMemo<DecodedLaunchPolicy> memo;
  return memo.get(payload, [](std::span<const uint8_t> p) {
    DecodedLaunchPolicy out;
    auto lp = std::make_unique<policy::LaunchPolicy>();  // ~9 KiB: not on the stack
    policy::Refusal why{};
    Status st = policy::launch_policy_decode(p, *lp, why);
    out.ok = static_cast<bool>(st);
    if (!out.ok) {
      out.why = std::string(policy::refusal_name(why)) + ": " + st.message();
      return out;
    }
    out.name = log_string(lp->name);
    out.serial = lp->serial;
    out.time = lp->time;
    out.unsigned_allowed = lp->unsigned_guests == policy::UnsignedGuests::allow_unmeasured;
    return out;
  });
}

struct Chain {
  const LogEvent* event;
  std::string signer, subject;  // signer = hex SHA-256(leaf SPKI DER); "" when the chain did not parse
  size_t certs = 0;
};

class GuestWalk {
 public:
  GuestWalk(const ReferenceValues* ref, Findings& f) : ref_(ref), f_(f) {}

  void launch_policy(const LogEvent& e) {
    ++policies_;
    const std::string digest = to_hex(digest_of(e, HashAlg::sha256));
    claims_.launch_policy = {{"sha256", digest}, {"event", e.index}};
    const auto lp = decoded_launch_policy(e.data);
    if (lp->ok) {
      claims_.launch_policy["name"] = lp->name;
      claims_.launch_policy["serial"] = lp->serial;
      claims_.launch_policy["time"] = lp->time;
      claims_.launch_policy["unsigned_guests"] = lp->unsigned_allowed ? "allow" : "refuse";
    } else {
      f_.note("launch_policy_undecodable", event_text(e) + ": the launch policy does not decode (" + lp->why +
                                                "); the hypervisor refuses every guest under it",
              {{"event", event_json(e)}});
    }
    if (!ref_) return;
    if (!ref_->launch_policy_sha256.empty() && !ref_->launch_policy_sha256.count(digest))
      f_.fail("launch_policy_not_allowed",
              event_text(e) + ": launch policy payload " + digest + " is not one of the " + std::to_string(ref_->launch_policy_sha256.size()) +
                  " allowed by reference values " + ref_->id,
              {{"event", event_json(e)}, {"sha256", digest}, {"expected", ref_->launch_policy_sha256}});
    if (ref_->launch_policy_min_serial > 0 && (!lp->ok || lp->serial < ref_->launch_policy_min_serial))
      f_.fail("launch_policy_serial_below_minimum",
              event_text(e) + ": launch policy serial " + (lp->ok ? std::to_string(lp->serial) : std::string("unknown")) + " < minimum " +
                  std::to_string(ref_->launch_policy_min_serial) + " (an outdated policy, e.g. before a revocation)",
              {{"event", event_json(e)}, {"min_serial", ref_->launch_policy_min_serial}});
  }

  void anchor(const LogEvent& e) {
    const std::string digest = to_hex(digest_of(e, HashAlg::sha256));
    nlohmann::json a = {{"sha256", digest}, {"event", e.index}};
    const auto cert = decoded_cert(e.data);
    if (cert->ok) a["subject"] = cert->subject;
    else a["subject"] = nullptr;  // the SL measured it as carried; the hypervisor's policy decoder refuses it
    anchors_.push_back(a);
    if (ref_ && !ref_->guest_anchors.empty() && !ref_->guest_anchors.count(digest))
      f_.fail("guest_anchor_not_allowed",
              event_text(e) + ": guest trust anchor " + (a["subject"].is_string() ? a["subject"].get<std::string>() + " " : "") + "(SHA-256 of the DER " + digest +
                  ") is not in reference values " + ref_->id,
              {{"event", event_json(e)}, {"sha256", digest}, {"expected", ref_->guest_anchors}});
  }

  void chain(const LogEvent& e) {
    Chain c{&e};
    std::span<const uint8_t> leaf;
    std::string why = leaf_of_x5chain(e.data, leaf, c.certs);
    if (why.empty()) {
      const auto cert = decoded_cert(leaf);
      if (cert->ok) {
        c.signer = cert->spki_sha256;  // SHA-256(SubjectPublicKeyInfo DER) = the manifest kid, docs/pki.md §4
        c.subject = cert->subject;
      } else {
        why = "the leaf certificate: " + cert->why;
      }
    }
    if (!why.empty()) f_.fail("guest_chain_malformed", event_text(e) + ": the guest's x5chain does not decode: " + why, {{"event", event_json(e)}});
    chains_.push_back(c);
  }

  void manifest(const LogEvent& e) {
    if (chains_.empty()) {
      f_.fail("guest_manifest_without_chain", event_text(e) + ": a guest manifest with no EV_REDOUBT_GUEST_CHAIN before it on PCR19",
              {{"event", event_json(e)}});
      return;
    }
    const Chain c = chains_.front();
    chains_.pop_front();
    policy::GuestManifest m;
    policy::Refusal why{};
    Status st = policy::guest_manifest_decode(e.data, m, why);
    if (!st) {
      f_.fail("guest_manifest_malformed",
              event_text(e) + ": the guest manifest does not decode: " + policy::refusal_name(why) + ": " + st.message(),
              {{"event", event_json(e)}, {"refusal", policy::refusal_name(why)}});
      return;
    }
    const std::string name = log_string(m.name);
    const size_t dsize = m.digest_alg == HashAlg::sha384 ? 48 : 32;
    const std::string kernel = to_hex({m.kernel_digest, dsize});
    // Built member by member and moved in (issue 13, throughput): an initializer list copies every
    // value it holds, and this runs for every guest of every log not seen before.
    nlohmann::json g(nlohmann::json::value_t::object);
    auto& o = g.get_ref<nlohmann::json::object_t&>();
    auto image = [&](std::string digest_hex, uint64_t size) {
      nlohmann::json d(nlohmann::json::value_t::object);
      auto& x = d.get_ref<nlohmann::json::object_t&>();
      x.emplace("alg", hash_alg_name(m.digest_alg));
      x.emplace("digest", std::move(digest_hex));
      x.emplace("size", size);
      return d;
    };
    o.emplace("name", name);
    o.emplace("admission", "signed");
    o.emplace("version", log_string(m.version));
    o.emplace("svn", m.svn);
    o.emplace("kernel", image(kernel, m.kernel_size));
    o.emplace("cmdline", log_string(std::string(m.cmdline.begin(), m.cmdline.end())));
    o.emplace("memory_mib", m.memory_mib);
    o.emplace("signer", c.signer);
    o.emplace("signer_subject", c.subject);
    nlohmann::json events(nlohmann::json::value_t::array);
    events.push_back(c.event->index);
    events.push_back(e.index);
    o.emplace("events", std::move(events));
    if (m.has_initrd) o.emplace("initrd", image(to_hex({m.initrd_digest, dsize}), m.initrd_size));
    claims_.guests.push_back(std::move(g));
    if (!ref_) return;
    const std::string who = "guest " + name + " " + log_string(m.version);
    if (!ref_->guest_signers.empty() && !c.signer.empty() && !ref_->guest_signers.count(c.signer))
      f_.fail("guest_signer_not_allowed",
              event_text(*c.event) + ": " + who + " is signed by " + c.subject + " (leaf SPKI SHA-256 " + c.signer + "), not a signer in reference values " +
                  ref_->id,
              {{"event", event_json(*c.event)}, {"guest", name}, {"signer", c.signer}, {"expected", ref_->guest_signers}});
    if (ref_->guest_rules.empty()) return;
    auto rule = ref_->guest_rules.find(name);
    if (rule == ref_->guest_rules.end()) {
      f_.fail("guest_not_allowed", event_text(e) + ": " + who + ": reference values " + ref_->id + " have no rule for a guest named \"" + name + "\"",
              {{"event", event_json(e)}, {"guest", name}});
      return;
    }
    if (m.svn < rule->second.min_svn)
      f_.fail("guest_svn_below_minimum",
              event_text(e) + ": " + who + " has SVN " + std::to_string(m.svn) + " < minimum " + std::to_string(rule->second.min_svn),
              {{"event", event_json(e)}, {"guest", name}, {"svn", m.svn}, {"min_svn", rule->second.min_svn}});
    const auto& allowed = rule->second.kernel_sha256;
    if (!allowed.empty() && (m.digest_alg != HashAlg::sha256 || !allowed.count(kernel)))
      f_.fail("guest_kernel_not_allowed",
              event_text(e) + ": " + who + " runs kernel " + hash_alg_name(m.digest_alg) + ":" + kernel + ", not one of the " +
                  std::to_string(allowed.size()) + " sha256 kernel digests allowed for it",
              {{"event", event_json(e)}, {"guest", name}, {"kernel", kernel}, {"expected", allowed}});
  }

  void unsigned_guest(const LogEvent& e) {
    std::string label = printable(e.data);
    if (label.rfind("unsigned guest ", 0) == 0) label = label.substr(15);
    claims_.guests.push_back({{"name", label}, {"admission", "unsigned"}, {"events", {e.index}}, {"images", nlohmann::json::array()}});
    last_unsigned_ = claims_.guests.size() - 1;
    const nlohmann::json d = {{"event", event_json(e)}, {"guest", label}};
    if (ref_ && !ref_->allow_unsigned_guests)
      f_.fail("guest_unsigned_not_allowed", event_text(e) + ": guest " + label + " ran unsigned, which reference values " + ref_->id + " do not allow", d);
    else
      f_.warn("guest_unsigned", event_text(e) + ": guest " + label + " ran unsigned (only its image digest is measured, no signer vouches for it)", d);
  }

  void image(const LogEvent& e) {
    if (last_unsigned_ == SIZE_MAX) {
      f_.fail("guest_image_without_guest", event_text(e) + ": an unsigned guest image with no EV_REDOUBT_GUEST_UNSIGNED before it on PCR19",
              {{"event", event_json(e)}});
      return;
    }
    nlohmann::json& g = claims_.guests[last_unsigned_];
    g["images"].push_back(to_hex(digest_of(e, HashAlg::sha256)));
    g["events"].push_back(e.index);
  }

  // "guest <label> refused: <refusal>: <detail>" (hypervisor/core/guest_admission.cpp), one per guest on PCR19.
  void refused(const LogEvent& e) {
    const std::string text = printable(e.data);
    std::string label = "?", refusal = "?", detail;
    const size_t at = text.find(" refused: ");
    if (text.rfind("guest ", 0) == 0 && at != std::string::npos && at >= 6) {
      label = text.substr(6, at - 6);
      const std::string rest = text.substr(at + 10);
      const size_t colon = rest.find(": ");
      refusal = rest.substr(0, colon);
      if (colon != std::string::npos) detail = rest.substr(colon + 2);
    }
    claims_.guests.push_back({{"name", label}, {"admission", "refused"}, {"refusal", refusal}, {"events", {e.index}}});
    f_.warn("guest_refused", event_text(e) + ": guest " + label + " was refused (" + refusal + (detail.empty() ? "" : ": " + detail) + ") and did not run",
            {{"event", event_json(e)}, {"guest", label}, {"refusal", refusal}, {"reason", detail}});
  }

  GuestClaims finish(bool pcr19_closed) {
    for (const Chain& c : chains_)
      f_.fail("guest_chain_without_manifest", event_text(*c.event) + ": a guest chain with no EV_REDOUBT_GUEST_MANIFEST after it on PCR20",
              {{"event", event_json(*c.event)}});
    if (ref_ && ref_->launch_policy_required && policies_ == 0)
      f_.fail("launch_policy_missing",
              "the log has no EV_REDOUBT_LAUNCH_POLICY event on PCR17, but reference values " + ref_->id + " require a launch policy",
              {{"expected", {{"pcr", 17}, {"type", policy::event_type_name(policy::kEvLaunchPolicy)}, {"type_id", policy::kEvLaunchPolicy},
                             {"sha256", ref_->launch_policy_sha256}}}});
    if (ref_ && !ref_->guest_rules.empty() && !pcr19_closed)
      f_.fail("guests_not_measured",
              "the log has no EV_SEPARATOR on PCR19: the hypervisor did not finish measuring guests, but reference values " + ref_->id + " name guests",
              {{"expected", {{"pcr", 19}, {"type", "EV_SEPARATOR"}}}});
    if (!claims_.launch_policy.is_null()) claims_.launch_policy["anchors"] = anchors_;
    return std::move(claims_);
  }

 private:
  const ReferenceValues* ref_;
  Findings& f_;
  GuestClaims claims_;
  nlohmann::json anchors_ = nlohmann::json::array();
  std::deque<Chain> chains_;
  size_t last_unsigned_ = SIZE_MAX;
  int policies_ = 0;
};

}  // namespace

GuestClaims appraise_guest_events(const policy::EventLog& log, const ReferenceValues* ref, Findings& f) {
  std::vector<const LogEvent*> events;
  events.reserve(log.events.size());
  for (const LogEvent& e : log.events) events.push_back(&e);
  return appraise_guest_events(events, ref, f);
}

GuestClaims appraise_guest_events(std::span<const LogEvent* const> events, const ReferenceValues* ref, Findings& f) {
  GuestWalk w(ref, f);
  bool pcr19_closed = false;
  for (const LogEvent* ep : events) {
    const LogEvent& e = *ep;
    if (e.type == policy::kEvSeparator && e.pcr == 19) pcr19_closed = true;
    if (e.type < policy::kEvLaunchPolicy || e.type > policy::kEvGuestImage) continue;
    const uint32_t want = expected_pcr(e.type);
    if ((want && e.pcr != want) || (!want && e.pcr != 19 && e.pcr != 20)) {
      f.fail("event_wrong_pcr",
             event_text(e) + ": " + policy::event_type_name(e.type) + " belongs on PCR" + (want ? std::to_string(want) : std::string("19/20")),
             {{"event", event_json(e)}, {"expected_pcr", want ? nlohmann::json(want) : nlohmann::json({19, 20})}});
      continue;
    }
    switch (e.type) {
      case policy::kEvLaunchPolicy: w.launch_policy(e); break;
      case policy::kEvGuestAnchor: w.anchor(e); break;
      case policy::kEvGuestChain: w.chain(e); break;
      case policy::kEvGuestManifest: w.manifest(e); break;
      case policy::kEvGuestUnsigned: w.unsigned_guest(e); break;
      case policy::kEvGuestImage: w.image(e); break;
      case policy::kEvGuestRefused:
        if (e.pcr == 19) w.refused(e);  // the same text is on PCR20: one warning per guest
        break;
      default: break;
    }
  }
  return w.finish(pcr19_closed);
}

}  // namespace redoubt::attest
